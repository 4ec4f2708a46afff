"""Read-only reports over the durable aggregates (never COUNT(*) over raw rows: there are none)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiosqlite

_METRIC_SQL = "metric = ?"


class SqliteReports:
    """Time series and period totals from hourly and daily buckets."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def hourly(self, article_id: str, metric: str, first_hour: int, last_hour: int) -> dict[int, int]:
        """Counts per epoch hour (summed over networks) in [first_hour, last_hour]."""
        async with self.db.execute(
            "SELECT hour, SUM(n) FROM counter_hourly WHERE article_id = ? AND metric = ? AND hour BETWEEN ? AND ? "
            "GROUP BY hour",
            (article_id, metric, first_hour, last_hour),
        ) as cur:
            return {int(row[0]): int(row[1]) async for row in cur}

    async def daily(self, article_id: str, metric: str, first_day: int, last_day: int) -> dict[int, int]:
        """Counts per epoch day from rolled-up daily rows plus hourly rows not yet rolled up."""
        out: dict[int, int] = {}
        async with self.db.execute(
            "SELECT day, SUM(n) FROM counter_daily WHERE article_id = ? AND metric = ? AND day BETWEEN ? AND ? "
            "GROUP BY day",
            (article_id, metric, first_day, last_day),
        ) as cur:
            async for row in cur:
                out[int(row[0])] = int(row[1])
        hourly = await self.hourly(article_id, metric, first_day * 24, last_day * 24 + 23)
        for hour, n in hourly.items():
            out[hour // 24] = out.get(hour // 24, 0) + n
        return out

    async def period_totals(self, first_hour: int, last_hour: int) -> AsyncIterator[tuple[Any, ...]]:
        """Per article: id, title, url, published_at, status and counts by metric in the period."""
        first_day, last_day = first_hour // 24, last_hour // 24
        sql = """
        WITH c AS (
            SELECT article_id, metric, n FROM counter_hourly WHERE hour BETWEEN :fh AND :lh
            UNION ALL
            SELECT article_id, metric, n FROM counter_daily WHERE day BETWEEN :fd AND :ld
        ), agg AS (
            SELECT article_id,
                   SUM(CASE metric WHEN 'view' THEN n ELSE 0 END) AS views,
                   SUM(CASE metric WHEN 'share' THEN n ELSE 0 END) AS shares,
                   SUM(CASE metric WHEN 'click' THEN n ELSE 0 END) AS clicks,
                   SUM(CASE metric WHEN 'bot_view' THEN n ELSE 0 END) AS bot_views,
                   SUM(CASE metric WHEN 'bot_click' THEN n ELSE 0 END) AS bot_clicks
            FROM c GROUP BY article_id
        ), uv AS (
            SELECT article_id, SUM(n) AS uniques FROM unique_daily WHERE day BETWEEN :fd AND :ld
            GROUP BY article_id
        )
        SELECT a.id, a.title, a.url, a.published_at, a.status,
               COALESCE(agg.views, 0), COALESCE(uv.uniques, 0), COALESCE(agg.shares, 0),
               COALESCE(agg.clicks, 0), COALESCE(agg.bot_views, 0), COALESCE(agg.bot_clicks, 0)
        FROM articles a LEFT JOIN agg ON agg.article_id = a.id LEFT JOIN uv ON uv.article_id = a.id
        ORDER BY a.published_at DESC, a.id
        """
        params = {"fh": first_hour, "lh": last_hour, "fd": first_day, "ld": last_day}
        async with self.db.execute(sql, params) as cur:
            async for row in cur:
                yield tuple(row)


class SqliteAggregates:
    """Small reads over all articles: flushed hours for trending, shares and clicks by network for ops."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def hour_counts(self, metric: str, hours: Sequence[int]) -> dict[int, dict[str, int]]:
        """Counts per article of each hour (flushed events only)."""
        out: dict[int, dict[str, int]] = {h: {} for h in hours}
        if not hours:
            return out
        marks = ",".join("?" * len(hours))
        sql = (
            "SELECT hour, article_id, SUM(n) FROM counter_hourly "
            f"WHERE metric = ? AND hour IN ({marks}) GROUP BY hour, article_id"
        )
        async with self.db.execute(sql, (metric, *hours)) as cur:
            async for hour, article_id, n in cur:
                out[int(hour)][str(article_id)] = int(n)
        return out

    async def by_network(self, since_hour: int) -> dict[str, dict[str, int]]:
        """Flushed shares and clicks per network from `since_hour` on."""
        out: dict[str, dict[str, int]] = {"share": {}, "click": {}}
        sql = (
            "SELECT metric, network, SUM(n) FROM counter_hourly "
            "WHERE hour >= ? AND metric IN ('share', 'click') GROUP BY metric, network"
        )
        async with self.db.execute(sql, (since_hour,)) as cur:
            async for metric, network, n in cur:
                out[str(metric)][str(network)] = int(n)
        return out
