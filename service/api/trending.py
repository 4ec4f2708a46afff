"""GET /v1/trending: the public, cacheable time-decayed ranking of a window."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from .. import appkeys as K
from ..domain.articles import Article, rfc3339
from ..domain.clock import Clock, utcnow
from ..domain.trending import METRICS, WINDOWS, Ranking
from ..storage.trending_store import HotReader, TrendingStore
from .edge import routes
from .parsing import validate

MAX_LIMIT = 50
TRENDING = web.AppKey("trending", TrendingStore)
TRENDING_CLOCK: web.AppKey[Clock] = web.AppKey("trending_clock")  # tests set it before the app starts


class TrendingQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    metric: Literal["views", "shares", "clicks"] = "views"
    window: Literal["1h", "6h", "24h", "7d"] = "24h"
    limit: int = Field(10, ge=1, le=MAX_LIMIT)


def ranking_body(ranking: Ranking, limit: int) -> dict[str, Any]:
    """The JSON shape of a ranking, cut to `limit` articles."""
    return {
        "metric": next(public for public, stored in METRICS.items() if stored == ranking.metric),
        "window": ranking.window,
        "from": rfc3339(datetime.fromtimestamp(ranking.start, UTC)),
        "to": rfc3339(datetime.fromtimestamp(ranking.end, UTC)),
        "articles": [
            {"article_id": i.article_id, "title": i.title, "url": i.url, "count": i.count, "score": i.score}
            for i in ranking.items[:limit]
        ],
    }


async def trending(request: web.Request) -> web.Response:
    query = validate(TrendingQuery, dict(request.query))
    store = request.app[TRENDING]
    ranking = await store.top(METRICS[query.metric], WINDOWS[query.window])
    max_age = max(1, int(store.ttl_s))
    headers = {"Cache-Control": f"public, max-age={max_age}"}
    return web.json_response(ranking_body(ranking, query.limit), headers=headers)


async def trending_ctx(app: web.Application) -> AsyncIterator[None]:
    """The trending store; unpublishing an article drops the cached rankings at once."""
    store = TrendingStore(
        HotReader(app[K.REDIS], app[K.DURABLE].aggregates),
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
    r.get("/v1/trending", trending)
