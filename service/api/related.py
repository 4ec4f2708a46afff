"""Related news: the list under a catalog article, and a preview for a page not in the catalog yet."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..appkeys import RELATED, SETTINGS
from ..domain.articles import ARTICLE_ID, normalise_tags, rfc3339
from ..domain.errors import InvalidInput
from ..domain.related_service import RelatedList
from ..moments import from_epoch
from .edge import routes
from .parsing import decode_json, read_body, validate

MAX_LIMIT = 50
DEFAULT_LIMIT = 8


class PreviewIn(BaseModel):
    """Body of `POST /v1/related`."""

    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(default_factory=list, max_length=200)
    title: str = Field("", max_length=500)
    summary: str | None = Field(None, max_length=2000)
    exclude: list[str] = Field(default_factory=list, max_length=200)
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalise_tags(value)

    @field_validator("exclude")
    @classmethod
    def _exclude(cls, value: list[str]) -> list[str]:
        for article_id in value:
            if not ARTICLE_ID.match(article_id):
                raise ValueError("article ids must match [A-Za-z0-9_-]{1,64}")
        return value


def query_limit(request: web.Request) -> int:
    """`?limit=` as an integer from 1 to 50 (default 8), else 422."""
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be an integer from 1 to {MAX_LIMIT}", {"limit": raw[:20]})
    return limit


def payload(found: RelatedList) -> dict[str, Any]:
    """The JSON shape of a related list."""
    items = []
    for item in found.related:
        data = asdict(item)
        data["published_at"] = rfc3339(from_epoch(item.published_at))  # a stored value never fails a read
        items.append(data)
    out: dict[str, Any] = {"related": items}
    if found.article_id is not None:
        out = {"article_id": found.article_id, **out}
    return out


def render(found: RelatedList) -> tuple[bytes, str]:
    """JSON bytes and their strong ETag."""
    body = json.dumps(payload(found), ensure_ascii=False, separators=(",", ":")).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    """True if `If-None-Match` names this ETag (weak or strong) or is `*`."""
    if not header:
        return False
    return any(part.strip() == "*" or part.strip().removeprefix("W/") == etag for part in header.split(","))


async def related(request: web.Request) -> web.Response:
    limit = query_limit(request)
    found = await request.app[RELATED].related(request.match_info["article_id"], limit)
    body, etag = render(found)
    headers = {
        "Cache-Control": f"public, max-age={int(request.app[SETTINGS].related_cache_s)}",
        "ETag": etag,
    }
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


async def preview(request: web.Request) -> web.Response:
    raw = decode_json(await read_body(request, request.app[SETTINGS].max_public_body))
    body = validate(PreviewIn, raw)
    found = await request.app[RELATED].preview(body.tags, body.title, body.summary, body.exclude, body.limit)
    return web.json_response(payload(found), headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/v1/articles/{article_id}/related", related)
    r.post("/v1/related", preview)
