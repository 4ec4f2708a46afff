"""Trending reads: hourly activity from the Redis zsets (SQLite for hours Redis lost), cached rankings.

Cost model: closed hours never change, so each window's weighted sums over them are computed once
per hour with a ZUNION per shard (in Redis, one slot per call). A refresh re-reads only the two
live hours and merges; a request is served from a ranking at most `ttl_s` old (stale while one
refresh runs in the background).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiosqlite
import redis.asyncio as aioredis

from ..domain.clock import Clock, epoch_hour, utcnow
from ..domain.trending import LIVE_HOURS, Ranking, Scored, TrendingItem, Window, add_live, ranked
from ..tasks import OutageLog
from . import keys
from .decode import text

log = logging.getLogger(__name__)
T = TypeVar("T")
HourCounts = dict[int, dict[str, int]]
CHECK_BATCH = 64  # candidates whose status is read per round trip
MAX_CHECKS = 32  # round trips at most: a window full of unpublished articles is not scanned to its end
KEEP_HOURS = 8 * 24  # hour totals kept in memory (the zsets' TTL)
YIELD_EVERY = 2000  # articles merged between two yields to the event loop (about a millisecond)


class HotReader:
    """Raw reads of the hourly buckets; the caller gives hours and weights."""

    def __init__(self, redis: aioredis.Redis, db: aiosqlite.Connection) -> None:
        self.redis = redis
        self.db = db
        # raw replies: redis-py's per-pair score callbacks cost more than the command itself here
        self._command: Callable[..., Awaitable[Any]] = redis.execute_command

    async def hours(self, metric: str, hours: Sequence[int]) -> HourCounts:
        """Counts per article of each hour, all shards."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for hour in hours:
                for shard in range(keys.SHARDS):
                    pipe.execute_command("ZRANGE", keys.hot(shard, metric, hour), 0, -1, "WITHSCORES")
            replies = await pipe.execute()
        out: HourCounts = {h: {} for h in hours}
        for i, flat in enumerate(replies):
            it = iter(flat)
            out[hours[i // keys.SHARDS]].update((a.decode(), round(float(n))) for a, n in zip(it, it, strict=True))
            if len(flat) > 1000:
                await asyncio.sleep(0)  # let requests through between large replies
        return out

    async def union(self, metric: str, shard: int, weights: Mapping[int, float]) -> list[tuple[str, float]]:
        """ZUNION of one shard's hours with weights, ascending by score (one slot, done in Redis)."""
        if not weights:
            return []
        names = [keys.hot(shard, metric, h) for h in weights]
        flat = await self._command(
            "ZUNION", len(names), *names, "WEIGHTS", *[repr(w) for w in weights.values()], "WITHSCORES"
        )
        it = iter(flat)
        return [(a.decode(), float(n)) for a, n in zip(it, it, strict=True)]

    async def missing(self, metric: str, hours: Sequence[int]) -> list[int]:
        """Hours without a key in any shard: expired, or lost with Redis's data."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for hour in hours:
                for shard in range(keys.SHARDS):
                    pipe.exists(keys.hot(shard, metric, hour))
            found = await pipe.execute()
        return [h for i, h in enumerate(hours) if not any(found[i * keys.SHARDS : (i + 1) * keys.SHARDS])]

    async def flushed(self, metric: str, hours: Sequence[int]) -> HourCounts:
        """Counts per article of each hour from SQLite (flushed events only)."""
        out: HourCounts = {h: {} for h in hours}
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

    async def published(self, article_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(title, url) of the ids whose article is published."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for a in article_ids:
                pipe.hmget(keys.article(a), ["status", "title", "url"])
            replies = await pipe.execute()
        out: dict[str, tuple[str, str]] = {}
        for a, (status, title, url) in zip(article_ids, replies, strict=True):
            if status is not None and text(status) == "published":
                out[a] = (text(title or b""), text(url or b""))
        return out


@dataclass
class _Closed:
    scores: dict[str, float]
    counts: dict[str, int]
    streams: list[list[tuple[str, float]]]  # descending by score, disjoint articles


class _Flights:
    """Single-flight tasks, owned: at most one computation per key, cancelled on close."""

    def __init__(self) -> None:
        self.tasks: dict[object, asyncio.Task[Any]] = {}
        self.outage = OutageLog(log, "trending refresh")

    def start(self, key: object, factory: Callable[[], Awaitable[T]]) -> asyncio.Task[T]:
        task = self.tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self.tasks[key] = task
            task.add_done_callback(lambda t: self._done(key, t))
        return task

    def _done(self, key: object, task: asyncio.Task[Any]) -> None:
        if self.tasks.get(key) is task:
            del self.tasks[key]
        if task.cancelled():
            return
        if (error := task.exception()) is not None:
            self.outage.failed(error)  # one line per outage, not one per request that started a refresh
        else:
            self.outage.ok()

    async def close(self) -> None:
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class TrendingStore:
    """Rankings and hourly totals, recomputed at most every `ttl_s` seconds."""

    def __init__(
        self,
        reader: HotReader,
        clock: Clock = utcnow,
        ttl_s: float = 5.0,
        size: int = 50,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.reader = reader
        self.clock = clock
        self.ttl_s = ttl_s
        self.size = size
        self.monotonic = monotonic
        self._rankings: dict[tuple[str, str], tuple[float, Ranking]] = {}
        self._closed: dict[tuple[str, str, int], _Closed] = {}
        self._live: dict[str, tuple[float, int, HourCounts]] = {}
        self._totals: dict[tuple[str, int], int] = {}
        self._flights = _Flights()
        self._generation = 0

    async def top(self, metric: str, window: Window) -> Ranking:
        """The window's ranking (up to `size` articles): cached, refreshed in the background."""
        cached = self._rankings.get((metric, window.name))
        if cached is None:
            return await self.refresh(metric, window)
        if self.monotonic() - cached[0] >= self.ttl_s:
            self._flights.start(("rank", metric, window.name), lambda: self._rank(metric, window))
        return cached[1]

    async def refresh(self, metric: str, window: Window) -> Ranking:
        """Recompute the window's ranking now (or join the computation already running)."""
        task = self._flights.start(("rank", metric, window.name), lambda: self._rank(metric, window))
        return await asyncio.shield(task)

    def invalidate(self) -> None:
        """Forget the rankings (not the hour sums): the next request recomputes."""
        self._generation += 1
        self._rankings.clear()

    async def close(self) -> None:
        await self._flights.close()

    async def _rank(self, metric: str, window: Window) -> Ranking:
        generation = self._generation
        now = self.clock().timestamp()
        current = int(now) // 3600
        live = await self._live_hours(metric, current)
        closed = await self._closed_part(metric, window, current)
        live_hours = window.live(current)
        scores, counts = await _combine(live, window.weights(live_hours, current), closed)
        items = await self._published(ranked(closed.streams, closed.counts, scores, counts))
        ranking = Ranking(metric, window.name, (current - window.hours) * 3600, int(now), tuple(items))
        if generation == self._generation:  # not invalidated meanwhile
            self._rankings[(metric, window.name)] = (self.monotonic(), ranking)
        return ranking

    async def _published(self, candidates: Iterator[Scored]) -> list[TrendingItem]:
        out: list[TrendingItem] = []
        for _ in range(MAX_CHECKS):
            batch = [c for _, c in zip(range(CHECK_BATCH), candidates, strict=False)]
            if not batch or len(out) >= self.size:
                break
            meta = await self.reader.published([c.article_id for c in batch])
            for c in batch:
                if c.article_id in meta and len(out) < self.size:
                    title, url = meta[c.article_id]
                    out.append(TrendingItem(c.article_id, title, url, c.count, round(c.score, 4)))
        return out

    async def _live_hours(self, metric: str, current: int) -> HourCounts:
        cached = self._live.get(metric)
        if cached is not None and cached[1] == current and self.monotonic() - cached[0] < self.ttl_s:
            return cached[2]
        return await asyncio.shield(self._flights.start(("live", metric), lambda: self._read_live(metric, current)))

    async def _read_live(self, metric: str, current: int) -> HourCounts:
        hours = list(range(current - LIVE_HOURS + 1, current + 1))
        counts = await self.reader.hours(metric, hours)
        self._live[metric] = (self.monotonic(), current, counts)
        return counts

    async def _closed_part(self, metric: str, window: Window, current: int) -> _Closed:
        key = (metric, window.name, current)
        if key not in self._closed:
            flight = ("closed", *key)
            part = await asyncio.shield(self._flights.start(flight, lambda: self._sum_closed(metric, window, current)))
            self._closed = {k: v for k, v in self._closed.items() if k[2] == current}
            self._closed[key] = part
        return self._closed[key]

    async def _sum_closed(self, metric: str, window: Window, current: int) -> _Closed:
        hours = list(window.closed(current))
        weights = window.weights(hours, current)
        part = _Closed({}, {}, [])
        for shard in range(keys.SHARDS):
            desc = (await self.reader.union(metric, shard, weights))[::-1]
            part.streams.append(desc)
            part.scores.update(desc)
            plain = await self.reader.union(metric, shard, dict.fromkeys(hours, 1.0))
            part.counts.update((a, round(n)) for a, n in plain)
        lost = await self.reader.flushed(metric, await self.reader.missing(metric, hours))
        if any(lost.values()):
            _fold(part, lost, weights)
        return part

    async def hourly_totals(self, metric: str, hours: Sequence[int]) -> dict[int, int]:
        """Events per hour (live hours fresh, closed ones summed once and kept)."""
        current = epoch_hour(self.clock())
        live = await self._live_hours(metric, current)
        need = [h for h in hours if h not in live and (metric, h) not in self._totals]
        for start in range(0, len(need), 6):  # a few hours per round trip keeps each reply small
            await self._sum_hours(metric, need[start : start + 6])
        self._forget_before(current - KEEP_HOURS)
        return {h: sum(live[h].values()) if h in live else self._totals.get((metric, h), 0) for h in hours}

    async def _sum_hours(self, metric: str, hours: Sequence[int]) -> None:
        counts = await self.reader.hours(metric, hours)
        lost = await self.reader.flushed(metric, [h for h in hours if not counts[h]])
        for h in hours:
            self._totals[(metric, h)] = sum((counts[h] or lost.get(h, {})).values())

    def _forget_before(self, hour: int) -> None:
        if len(self._totals) > 4 * KEEP_HOURS:
            self._totals = {k: v for k, v in self._totals.items() if k[1] >= hour}


async def _combine(
    live: HourCounts, weights: Mapping[int, float], closed: _Closed
) -> tuple[dict[str, float], dict[str, int]]:
    """`combine`, a slice at a time, yielding to the loop so requests are not held up behind it."""
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    for hour, weight in weights.items():
        pairs = list(live[hour].items())
        for start in range(0, len(pairs), YIELD_EVERY):
            add_live(scores, counts, pairs[start : start + YIELD_EVERY], weight, closed.scores, closed.counts)
            await asyncio.sleep(0)
    return scores, counts


def _fold(part: _Closed, lost: HourCounts, weights: Mapping[int, float]) -> None:
    """Add hours read from SQLite; the streams are then one sorted list (rare: after data loss)."""
    for hour, per_article in lost.items():
        for a, n in per_article.items():
            part.scores[a] = part.scores.get(a, 0.0) + weights[hour] * n
            part.counts[a] = part.counts.get(a, 0) + n
    part.streams = [sorted(part.scores.items(), key=_neg_score)]


def _neg_score(item: tuple[str, float]) -> float:
    return -item[1]
