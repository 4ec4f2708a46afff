"""Read-only reports and aggregates over the durable buckets in PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from .pg_pool import PgPool, outages_unavailable

EXPORT_FETCH = 1000  # rows of an export read per round trip (each one bounded)
_PERIOD_TOTALS = """
WITH c AS (
    SELECT article_id, metric, n FROM counter_hourly WHERE hour BETWEEN $1 AND $2
    UNION ALL
    SELECT article_id, metric, n FROM counter_daily WHERE day BETWEEN $3 AND $4
), agg AS (
    SELECT article_id,
           sum(n) FILTER (WHERE metric = 'view') AS views,
           sum(n) FILTER (WHERE metric = 'share') AS shares,
           sum(n) FILTER (WHERE metric = 'click') AS clicks,
           sum(n) FILTER (WHERE metric = 'bot_view') AS bot_views,
           sum(n) FILTER (WHERE metric = 'bot_click') AS bot_clicks
    FROM c GROUP BY article_id
), uv AS (
    SELECT article_id, sum(n) AS uniques FROM unique_daily WHERE day BETWEEN $3 AND $4 GROUP BY article_id
)
SELECT a.id, a.title, a.url, a.published_at, a.status,
       coalesce(agg.views, 0)::bigint, coalesce(uv.uniques, 0)::bigint, coalesce(agg.shares, 0)::bigint,
       coalesce(agg.clicks, 0)::bigint, coalesce(agg.bot_views, 0)::bigint, coalesce(agg.bot_clicks, 0)::bigint
FROM articles a LEFT JOIN agg ON agg.article_id = a.id LEFT JOIN uv ON uv.article_id = a.id
ORDER BY a.published_at DESC, a.id
"""


class PgReports:
    """Time series and period totals from hourly and daily buckets."""

    def __init__(self, pool: PgPool) -> None:
        self.pool = pool

    async def hourly(self, article_id: str, metric: str, first_hour: int, last_hour: int) -> dict[int, int]:
        """Counts per epoch hour (summed over networks) in [first_hour, last_hour]."""
        rows = await self.pool.fetch(
            "SELECT hour, sum(n) FROM counter_hourly WHERE article_id = $1 AND metric = $2 "
            "AND hour BETWEEN $3 AND $4 GROUP BY hour",
            article_id, metric, first_hour, last_hour,
        )
        return {int(r[0]): int(r[1]) for r in rows}

    async def daily(self, article_id: str, metric: str, first_day: int, last_day: int) -> dict[int, int]:
        """Counts per epoch day from rolled-up daily rows plus hourly rows not yet rolled up."""
        rows = await self.pool.fetch(
            "SELECT day, sum(n) FROM counter_daily WHERE article_id = $1 AND metric = $2 "
            "AND day BETWEEN $3 AND $4 GROUP BY day",
            article_id, metric, first_day, last_day,
        )
        out = {int(r[0]): int(r[1]) for r in rows}
        for hour, n in (await self.hourly(article_id, metric, first_day * 24, last_day * 24 + 23)).items():
            out[hour // 24] = out.get(hour // 24, 0) + n
        return out

    async def period_totals(self, first_hour: int, last_hour: int) -> AsyncIterator[tuple[Any, ...]]:
        """Per article: id, title, url, published_at, status and counts by metric in the period.

        Streamed through a cursor: each fetch is bounded, not the whole export (the client reads it
        at its own pace)."""
        args = (first_hour, last_hour, first_hour // 24, last_hour // 24)
        async with self.pool.streaming() as conn, conn.transaction(readonly=True):
            with outages_unavailable():
                cursor = await conn.cursor(_PERIOD_TOTALS, *args, timeout=self.pool.timeout_s)
            while True:
                with outages_unavailable():
                    rows = await cursor.fetch(EXPORT_FETCH, timeout=self.pool.timeout_s)
                for row in rows:
                    yield tuple(row)
                if len(rows) < EXPORT_FETCH:
                    return


class PgAggregates:
    """Small reads over all articles: flushed hours for trending, shares and clicks by network for ops."""

    def __init__(self, pool: PgPool) -> None:
        self.pool = pool

    async def hour_counts(self, metric: str, hours: Sequence[int]) -> dict[int, dict[str, int]]:
        """Counts per article of each hour (flushed events only)."""
        out: dict[int, dict[str, int]] = {h: {} for h in hours}
        if not hours:
            return out
        rows = await self.pool.fetch(
            "SELECT hour, article_id, sum(n) FROM counter_hourly WHERE metric = $1 AND hour = ANY($2::int[]) "
            "GROUP BY hour, article_id",
            metric, list(hours),
        )
        for r in rows:
            out[int(r[0])][str(r[1])] = int(r[2])
        return out

    async def by_network(self, since_hour: int) -> dict[str, dict[str, int]]:
        """Flushed shares and clicks per network from `since_hour` on."""
        out: dict[str, dict[str, int]] = {"share": {}, "click": {}}
        rows = await self.pool.fetch(
            "SELECT metric, network, sum(n) FROM counter_hourly "
            "WHERE hour >= $1 AND metric IN ('share', 'click') GROUP BY metric, network",
            since_hour,
        )
        for r in rows:
            out[str(r[0])][str(r[1])] = int(r[2])
        return out
