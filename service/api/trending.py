"""GET /v1/trending: the public, cacheable time-decayed ranking of a window."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from ..appkeys import TRENDING
from ..domain.articles import rfc3339
from ..domain.results import Trend
from ..domain.trending import METRICS, WINDOWS, Ranking
from .contract import Operation
from .edge import routes
from .parsing import json_answer, query

MAX_LIMIT = 50


class TrendingQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metric: Literal["views", "shares", "clicks"] = "views"
    window: Literal["1h", "6h", "24h", "7d"] = "24h"
    limit: int = Field(10, ge=1, le=MAX_LIMIT)


class TrendingAnswer(BaseModel):
    """The time-decayed ranking of a window (`from`/`to`: RFC 3339 UTC)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    metric: str
    window: str
    start: str = Field(alias="from")
    end: str = Field(alias="to")
    articles: list[Trend]


def ranking_body(ranking: Ranking, limit: int) -> TrendingAnswer:
    """The served shape of a ranking, cut to `limit` articles."""
    return TrendingAnswer(
        metric=next(public for public, stored in METRICS.items() if stored == ranking.metric),
        window=ranking.window,
        start=rfc3339(datetime.fromtimestamp(ranking.start, UTC)),
        end=rfc3339(datetime.fromtimestamp(ranking.end, UTC)),
        articles=[Trend(article_id=i.article_id, title=i.title, url=i.url, count=i.count, score=i.score)
                  for i in ranking.items[:limit]],
    )


async def trending(request: web.Request) -> web.Response:
    asked = query(TrendingQuery, request)
    store = request.app[TRENDING]
    ranking = await store.top(METRICS[asked.metric], WINDOWS[asked.window])
    max_age = max(1, int(store.ttl_s))
    headers = {"Cache-Control": f"public, max-age={max_age}"}
    return json_answer(ranking_body(ranking, asked.limit), headers=headers)


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/v1/trending", trending, Operation(
        "The most read, shared or clicked articles of a window", {200: TrendingAnswer}, "trending",
        query=TrendingQuery, errors=(422,), cross_origin=True,
    ))
