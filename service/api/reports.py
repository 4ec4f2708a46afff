"""Time series (public) and CSV export (admin)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from ..appkeys import ADMIN_TOKEN, CATALOG, FLUSHER, REPORTS
from ..domain.articles import rfc3339
from ..domain.catalog import check_article_id
from ..domain.errors import InvalidInput, NotFound
from ..domain.reports import SeriesQuery
from ..domain.results import Point
from .contract import Operation, Reply
from .edge import routes
from .parsing import json_answer, query, require_admin


def _query(request: web.Request) -> SeriesQuery:
    return query(SeriesQuery, request)


async def timeseries(request: web.Request) -> web.Response:
    article_id = request.match_info["article_id"]
    check_article_id(article_id)
    query = _query(request)
    if await request.app[CATALOG].find(article_id) is None:
        raise NotFound(f"no article {article_id!r}")
    points = await request.app[REPORTS].series(article_id, query)
    series = Series(article_id=article_id, metric=query.metric, granularity=query.granularity, points=points)
    return json_answer(series, headers={"Cache-Control": "public, max-age=10"})


async def export_csv(request: web.Request) -> web.StreamResponse:
    require_admin(request, request.app[ADMIN_TOKEN])
    query = _query(request)
    end = query.end or request.app[REPORTS].clock()
    start = query.start or end - timedelta(days=30)
    if start > end:
        raise InvalidInput("'from' must not be after 'to'")
    await request.app[FLUSHER].flush_once()  # so the export includes everything counted so far
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="articles_{rfc3339(start)[:10]}_{rfc3339(end)[:10]}.csv"',
            "Cache-Control": "no-store",
        }
    )
    await response.prepare(request)
    async for line in request.app[REPORTS].export_csv(start, end):
        await response.write(line.encode("utf-8", "replace"))  # a stored lone surrogate cannot cut the file
    await response.write_eof()
    return response


class Series(BaseModel):
    """An article's counts per hour or day, oldest first."""

    article_id: str
    metric: Literal["views", "shares", "clicks"]
    granularity: Literal["hour", "day"]
    points: list[Point]


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/v1/articles/{article_id}/timeseries", timeseries, Operation(
        "An article's time series", {200: Series}, "stats", query=SeriesQuery, errors=(404, 422), cross_origin=True,
    ))
    r.get("/v1/export/articles.csv", export_csv, Operation(
        "Per-article totals of a period as CSV (flushes first, so it is exact)",
        {200: Reply("the CSV file", media="text/csv")}, "reports", query=SeriesQuery, errors=(422,), admin=True,
        deadline=False,
    ))
