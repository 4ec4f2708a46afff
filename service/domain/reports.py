"""Time series of one article and period totals for export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..moments import Moment, from_epoch, rfc3339
from ..storage import keys
from ..storage.durable import ReportReader
from ..storage.redis_cluster import Client, pipeline
from .clock import Clock, epoch_hour, utcnow
from .errors import InvalidInput
from .results import Point

MAX_POINTS = 1000
METRICS = {"views": "view", "shares": "share", "clicks": "click"}
HOT_HOURS = keys.HOT_TTL_S // 3600 - 1  # hours still held exactly in Redis


class SeriesQuery(BaseModel):
    """Query of `GET /v1/articles/{id}/timeseries`."""

    model_config = ConfigDict(extra="forbid")
    metric: Literal["views", "shares", "clicks"] = "views"
    granularity: Literal["hour", "day"] = "hour"
    start: Moment | None = Field(None, validation_alias="from")
    end: Moment | None = Field(None, validation_alias="to")

    @model_validator(mode="after")
    def _order(self) -> SeriesQuery:
        if self.start and self.end and self.start > self.end:
            raise ValueError("'from' must not be after 'to'")
        return self


class Reports:
    """Merges exact recent hours from Redis with the durable buckets in SQLite."""

    def __init__(self, redis: Client, reports: ReportReader, clock: Clock = utcnow) -> None:
        self.redis = redis
        self.sql = reports
        self.clock = clock

    def _range(self, q: SeriesQuery) -> tuple[int, int]:
        step = 3600 if q.granularity == "hour" else 86400
        end = q.end or self.clock()
        start = q.start or end - timedelta(seconds=step * (48 if q.granularity == "hour" else 30))
        first, last = int(start.timestamp()) // step, int(end.timestamp()) // step
        if last - first + 1 > MAX_POINTS:
            raise InvalidInput(f"at most {MAX_POINTS} points; narrow 'from'/'to'", {"points": last - first + 1})
        return first, last

    async def series(self, article_id: str, q: SeriesQuery) -> list[Point]:
        metric = METRICS[q.metric]
        first, last = self._range(q)
        if q.granularity == "hour":
            durable = await self.sql.hourly(article_id, metric, first, last)
            live = await self._live(article_id, metric, first, last)
            values = {h: max(durable.get(h, 0), live.get(h, 0)) for h in range(first, last + 1)}
            step = 3600
        else:
            durable = await self.sql.daily(article_id, metric, first, last)
            live_hours = await self._live(article_id, metric, first * 24, last * 24 + 23)
            hourly = await self.sql.hourly(article_id, metric, first * 24, last * 24 + 23)
            values = {d: durable.get(d, 0) for d in range(first, last + 1)}
            for hour, n in live_hours.items():  # unflushed events of recent hours
                values[hour // 24] += max(0, n - hourly.get(hour, 0))
            step = 86400
        return [Point(t=rfc3339(datetime.fromtimestamp(k * step, UTC)), value=v) for k, v in sorted(values.items())]

    async def _live(self, article_id: str, metric: str, first_hour: int, last_hour: int) -> dict[int, int]:
        """Exact counts per hour from Redis for the hours it still holds."""
        now_hour = epoch_hour(self.clock())
        hours = [h for h in range(max(first_hour, now_hour - HOT_HOURS), min(last_hour, now_hour) + 1)]
        if not hours:
            return {}
        shard = keys.shard_of(article_id)
        async with pipeline(self.redis) as pipe:
            for hour in hours:
                pipe.zscore(keys.hot(shard, metric, hour), article_id)
            scores = await pipe.execute()
        return {h: int(s) for h, s in zip(hours, scores, strict=True) if s}

    async def export_csv(self, start: datetime, end: datetime) -> AsyncIterator[str]:
        """CSV lines of per-article totals for the period (from flushed data)."""
        if start > end:
            raise InvalidInput("'from' must not be after 'to'")
        yield _csv_line(
            ["article_id", "title", "url", "published_at", "status", "views", "unique_visitors", "shares",
             "clicks", "bot_views", "bot_clicks"]
        )
        first, last = epoch_hour(start), epoch_hour(end)
        async for row in self.sql.period_totals(first, last):
            published = rfc3339(from_epoch(row[3]))  # clamped: a row an older version wrote
            yield _csv_line([row[0], row[1], row[2], published, *row[4:]])


def _csv_line(values: list[object]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([_safe(v) for v in values])
    return buf.getvalue()


def _safe(value: object) -> object:
    """Neutralise spreadsheet formulas in text cells (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
