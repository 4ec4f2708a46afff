"""Admin endpoints of the article catalog."""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from ..appkeys import ADMIN_TOKEN, CATALOG, SETTINGS
from ..domain.articles import Article, ArticleIn, BulkArticle
from ..domain.catalog import BulkItem
from .answers import BulkAnswer, BulkResult, ErrorAnswer, Problem
from .contract import Operation, Reply
from .edge import routes
from .parsing import decode_json, json_answer, read_body, require_admin, validate

MAX_BULK = 1000


class BulkIn(BaseModel):
    """Body of `POST /v1/articles/bulk`: items are checked one by one, so a bad one does not sink the rest."""

    model_config = ConfigDict(extra="forbid")
    # documented as articles, kept raw: the catalog checks each item on its own and says what it found
    articles: list[SkipValidation[BulkArticle]] = Field(max_length=MAX_BULK)


async def _admin_json(request: web.Request, allow_empty: bool = False) -> Any:
    require_admin(request, request.app[ADMIN_TOKEN])
    return decode_json(await read_body(request, request.app[SETTINGS].max_admin_body, compressed=True), allow_empty)


async def put_article(request: web.Request) -> web.Response:
    raw = await _admin_json(request)
    catalog = request.app[CATALOG]
    data = validate(ArticleIn, raw, {"host_allowed": catalog.host_allowed})
    created, article = await catalog.put(request.match_info["article_id"], data)
    return json_answer(article, 201 if created else 200)


ITEM_STATUS: dict[str, Literal[200, 201, 422]] = {"created": 201, "replaced": 200, "rejected": 422}


def bulk_result(item: BulkItem) -> BulkResult:
    error = item.error
    problem = Problem(code=error.code, message=error.message, details=error.details) if error else None
    return BulkResult(index=item.index, id=item.id, outcome=item.outcome, status=ITEM_STATUS[item.outcome],
                      error=problem)


def bulk_status(accepted: int, rejected: int, created: int) -> int:
    """207 Multi-Status when only some items were written, 422 when none was, else 201 (any new) or 200."""
    if rejected:
        return 207 if accepted else 422
    return 201 if created else 200


async def bulk(request: web.Request) -> web.Response:
    body = validate(BulkIn, await _admin_json(request))
    items = await request.app[CATALOG].bulk(body.articles)
    rejected = sum(1 for i in items if i.outcome == "rejected")
    created = sum(1 for i in items if i.outcome == "created")
    answer = BulkAnswer(accepted=len(items) - rejected, rejected=rejected, results=[bulk_result(i) for i in items])
    return json_answer(answer, bulk_status(answer.accepted, rejected, created))


async def get_article(request: web.Request) -> web.Response:
    require_admin(request, request.app[ADMIN_TOKEN])
    article = await request.app[CATALOG].get(request.match_info["article_id"])
    return json_answer(article)


async def delete_article(request: web.Request) -> web.Response:
    require_admin(request, request.app[ADMIN_TOKEN])
    article = await request.app[CATALOG].unpublish(request.match_info["article_id"])
    return json_answer(article)


ADMIN_WRITE = (413, 415, 422)


def setup(app: web.Application) -> None:
    r = routes(app)
    r.post("/v1/articles/bulk", bulk, Operation(
        "Create or replace up to 1000 articles", {
            201: Reply("all written, some new", BulkAnswer), 200: Reply("all written, none new", BulkAnswer),
            207: Reply("Multi-Status: some written, some rejected (see each result)", BulkAnswer),
            422: Reply("none written: every item rejected, or the body itself invalid", (BulkAnswer, ErrorAnswer)),
        }, "catalog", body=BulkIn, errors=ADMIN_WRITE, admin=True, deadline=False,
    ))
    r.put("/v1/articles/{article_id}", put_article, Operation(
        "Create or replace an article", {201: Reply("created", Article), 200: Reply("replaced", Article)}, "catalog",
        body=ArticleIn, errors=ADMIN_WRITE, admin=True, deadline=False,
    ))
    r.get("/v1/articles/{article_id}", get_article, Operation(
        "The stored article", {200: Article}, "catalog", errors=(404, 422), admin=True,
    ), allow_head=False)
    r.delete("/v1/articles/{article_id}", delete_article, Operation(
        "Unpublish an article (counts are kept; a later PUT republishes)", {200: Article}, "catalog",
        errors=(404, 422), admin=True, deadline=False,
    ))
