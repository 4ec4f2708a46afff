"""Public counts: one article's stats, or many articles' at once."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..appkeys import ENGAGEMENT
from ..domain.errors import InvalidInput
from ..domain.results import Stats
from .contract import Operation
from .edge import routes
from .parsing import json_answer, query

MAX_STATS_IDS = 100
NO_CACHE = {"Cache-Control": "no-cache"}


class StatsQuery(BaseModel):
    """Query of `GET /v1/stats`."""

    model_config = ConfigDict(extra="ignore")
    ids: str = Field(description=f"comma-separated article ids, at most {MAX_STATS_IDS}",
                     pattern=r"^[A-Za-z0-9_,-]*$")


class StatsMany(BaseModel):
    """Stats by article id; unknown ids are left out."""

    articles: dict[str, Stats]


async def stats(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    found = await request.app[ENGAGEMENT].stats([article_id])
    if article_id not in found:
        raise web.HTTPNotFound(reason=f"no article {article_id!r}")
    return json_answer(found[article_id], headers=NO_CACHE)


async def stats_many(request: web.Request) -> web.Response:
    ids = list(dict.fromkeys(i for i in query(StatsQuery, request).ids.split(",") if i))
    if not ids:
        raise InvalidInput("give ids=a,b,c")
    if len(ids) > MAX_STATS_IDS:
        raise InvalidInput(f"at most {MAX_STATS_IDS} ids", {"given": len(ids)})
    found = await request.app[ENGAGEMENT].stats(ids)
    return json_answer(StatsMany(articles=found), headers=NO_CACHE)


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/v1/articles/{article_id}/stats", stats, Operation(
        "An article's counts", {200: Stats}, "stats", errors=(404, 422), cross_origin=True,
    ))
    r.get("/v1/stats", stats_many, Operation(
        "Several articles' counts", {200: StatsMany}, "stats", query=StatsQuery, errors=(422,), cross_origin=True,
    ))
