"""GET /v1/trending: the public, cacheable time-decayed ranking of a window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from .. import appkeys as K
from ..domain.articles import Article, rfc3339
from ..domain.clock import Clock, utcnow
from ..domain.results import Trend
from ..domain.trending import METRICS, WINDOWS, Ranking
from ..storage.trending_store import HotReader, TrendingStore
from .contract import Operation
from .edge import routes
from .parsing import json_answer, query

MAX_LIMIT = 50
TRENDING = web.AppKey("trending", TrendingStore)
TRENDING_CLOCK: web.AppKey[Clock] = web.AppKey("trending_clock")  # tests set it before the app starts


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


async def trending_ctx(app: web.Application) -> AsyncIterator[None]:
    """The trending store; unpublishing an article drops the cached rankings at once."""
    store = TrendingStore(
        HotReader(app[K.REDIS], app[K.DB]),
        clock=app.get(TRENDING_CLOCK, utcnow),
        ttl_s=app[K.SETTINGS].trending_cache_s,
        size=MAX_LIMIT,
    )
    app[TRENDING] = store

    async def on_article(article: Article) -> None:
        if article.status != "published":
            store.invalidate()

    app[K.CATALOG].listeners.append(on_article)
    try:
        yield
    finally:
        await store.close()


def setup(app: web.Application) -> None:
    r = routes(app)
    app.cleanup_ctx.append(trending_ctx)
    r.get("/v1/trending", trending, Operation(
        "The most read, shared or clicked articles of a window", {200: TrendingAnswer}, "trending",
        query=TrendingQuery, errors=(422,), cross_origin=True,
    ))
