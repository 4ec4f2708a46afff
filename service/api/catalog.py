"""Admin endpoints of the article catalog."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..appkeys import ADMIN_TOKEN, CATALOG, SETTINGS
from ..domain.articles import ArticleIn
from .edge import routes
from .parsing import decode_json, read_body, require_admin, validate

MAX_BULK = 1000


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    articles: list[Any] = Field(max_length=MAX_BULK)


async def _admin_json(request: web.Request, allow_empty: bool = False) -> Any:
    require_admin(request, request.app[ADMIN_TOKEN])
    return decode_json(await read_body(request, request.app[SETTINGS].max_admin_body, compressed=True), allow_empty)


async def put_article(request: web.Request) -> web.Response:
    raw = await _admin_json(request)
    catalog = request.app[CATALOG]
    data = validate(ArticleIn, raw, {"host_allowed": catalog.host_allowed})
    created, article = await catalog.put(request.match_info["article_id"], data)
    return web.json_response(article.public(), status=201 if created else 200)


async def bulk(request: web.Request) -> web.Response:
    body = validate(BulkIn, await _admin_json(request))
    results = await request.app[CATALOG].bulk(body.articles)
    ok = sum(1 for r in results if r["status"] in (200, 201))
    return web.json_response({"accepted": ok, "rejected": len(results) - ok, "results": results})


async def get_article(request: web.Request) -> web.Response:
    require_admin(request, request.app[ADMIN_TOKEN])
    article = await request.app[CATALOG].get(request.match_info["article_id"])
    return web.json_response(article.public())


async def delete_article(request: web.Request) -> web.Response:
    require_admin(request, request.app[ADMIN_TOKEN])
    article = await request.app[CATALOG].unpublish(request.match_info["article_id"])
    return web.json_response(article.public())


def setup(app: web.Application) -> None:
    r = routes(app)
    r.post("/v1/articles/bulk", bulk)
    r.put("/v1/articles/{article_id}", put_article)
    r.get("/v1/articles/{article_id}", get_article, allow_head=False)
    r.delete("/v1/articles/{article_id}", delete_article)
