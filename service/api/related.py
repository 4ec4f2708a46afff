"""Related news: the list under a catalog article, and a preview for a page not in the catalog yet."""

from __future__ import annotations

import hashlib
from dataclasses import asdict

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..appkeys import RELATED, SETTINGS
from ..domain.articles import ARTICLE_ID, normalise_tags, rfc3339
from ..domain.related_service import RelatedList
from ..moments import from_epoch
from .contract import Operation, Reply
from .edge import routes
from .parsing import decode_json, has_etag, query, read_body, validate

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


class RelatedQuery(BaseModel):
    """Query of `GET /v1/articles/{id}/related`."""

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)


class RelatedEntry(BaseModel):
    """One article of a related list, and why it is there."""

    article_id: str
    title: str
    url: str
    published_at: str = Field(description="RFC 3339 UTC")
    score: float
    shared_tags: list[str]
    reason: str


class RelatedAnswer(BaseModel):
    """A related list, best first (`article_id`: the article it is under; absent for a preview)."""

    article_id: str | None = None
    related: list[RelatedEntry]


def answer(found: RelatedList) -> RelatedAnswer:
    """The served shape of a related list (a stored time never fails a read: it is clamped)."""
    items = [RelatedEntry(**{**asdict(i), "published_at": rfc3339(from_epoch(i.published_at))}) for i in found.related]
    return RelatedAnswer(article_id=found.article_id, related=items)


def render(found: RelatedList) -> tuple[bytes, str]:
    """JSON bytes and their strong ETag."""
    body = answer(found).model_dump_json(exclude_none=True).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


async def related(request: web.Request) -> web.Response:
    limit = query(RelatedQuery, request).limit
    found = await request.app[RELATED].related(request.match_info["article_id"], limit)
    body, etag = render(found)
    headers = {
        "Cache-Control": f"public, max-age={int(request.app[SETTINGS].related_cache_s)}",
        "ETag": etag,
    }
    if has_etag(request, etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, content_type="application/json", headers=headers)


async def preview(request: web.Request) -> web.Response:
    raw = decode_json(await read_body(request, request.app[SETTINGS].max_public_body))
    body = validate(PreviewIn, raw)
    found = await request.app[RELATED].preview(body.tags, body.title, body.summary, body.exclude, body.limit)
    return web.Response(body=render(found)[0], content_type="application/json", headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/v1/articles/{article_id}/related", related, Operation(
        "The related list under an article", {
            200: Reply("the list", RelatedAnswer, headers=("ETag",)),
            304: Reply("the client's copy (If-None-Match) is current"),
        }, "related", query=RelatedQuery, errors=(404, 410, 422), cross_origin=True,
    ))
    r.post("/v1/related", preview, Operation(
        "A related list for a page not in the catalog yet (an editor's preview)", {200: RelatedAnswer}, "related",
        body=PreviewIn, errors=(413, 415, 422), cross_origin=True,
    ))
