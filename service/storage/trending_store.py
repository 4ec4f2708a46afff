"""Trending reads: hourly activity from the Redis zsets, and from SQLite for hours Redis lost.

The rankings computed from them, and their cache, are the domain's (domain/trending_cache.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from . import keys
from .decode import text
from .durable import AggregateReader
from .redis_cluster import Client, pipeline

HourCounts = dict[int, dict[str, int]]
SHARDS = keys.SHARDS  # a union is done per shard: one slot per call


class HotReader:
    """Raw reads of the hourly buckets; the caller gives hours and weights."""

    def __init__(self, redis: Client, aggregates: AggregateReader) -> None:
        self.redis = redis
        self.aggregates = aggregates
        # raw replies: redis-py's per-pair score callbacks cost more than the command itself here
        self._command: Callable[..., Awaitable[Any]] = redis.execute_command

    async def hours(self, metric: str, hours: Sequence[int]) -> HourCounts:
        """Counts per article of each hour, all shards."""
        async with pipeline(self.redis) as pipe:
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
        async with pipeline(self.redis) as pipe:
            for hour in hours:
                for shard in range(keys.SHARDS):
                    pipe.exists(keys.hot(shard, metric, hour))
            found = await pipe.execute()
        return [h for i, h in enumerate(hours) if not any(found[i * keys.SHARDS : (i + 1) * keys.SHARDS])]

    async def flushed(self, metric: str, hours: Sequence[int]) -> HourCounts:
        """Counts per article of each hour from the durable store (flushed events only)."""
        return await self.aggregates.hour_counts(metric, hours)

    async def published(self, article_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
        """(title, url) of the ids whose article is published."""
        async with pipeline(self.redis) as pipe:
            for a in article_ids:
                pipe.hmget(keys.article(a), ["status", "title", "url"])
            replies = await pipe.execute()
        out: dict[str, tuple[str, str]] = {}
        for a, (status, title, url) in zip(article_ids, replies, strict=True):
            if status is not None and text(status) == "published":
                out[a] = (text(title or b""), text(url or b""))
        return out
