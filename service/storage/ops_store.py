"""Reads for the ops view: Redis memory and eviction, shares and clicks by network."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from .durable import AggregateReader

MEMORY_FIELDS = ("used_memory", "used_memory_human", "used_memory_peak_human", "maxmemory", "maxmemory_policy")


class OpsStore:
    """Small aggregate reads; nothing here is on a hot path."""

    def __init__(self, redis: aioredis.Redis, aggregates: AggregateReader) -> None:
        self.redis = redis
        self.aggregates = aggregates

    async def redis_memory(self) -> dict[str, Any]:
        """Memory use, eviction policy and evicted keys (an `error` entry when INFO is refused)."""
        try:
            memory = await self.redis.info("memory")
            stats = await self.redis.info("stats")
        except RedisError as exc:
            return {"error": type(exc).__name__}
        out = {k: _plain(memory.get(k)) for k in MEMORY_FIELDS}
        out["evicted_keys"] = int(stats.get("evicted_keys", 0))
        return out

    async def by_network(self, since_hour: int) -> dict[str, dict[str, int]]:
        """Flushed shares and clicks per network from `since_hour` on."""
        return await self.aggregates.by_network(since_hour)


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
