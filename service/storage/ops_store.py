"""Reads for the ops view: Redis memory and eviction, shares and clicks by network."""

from __future__ import annotations

from typing import Any

import aiosqlite
import redis.asyncio as aioredis
from redis.exceptions import RedisError

MEMORY_FIELDS = ("used_memory", "used_memory_human", "used_memory_peak_human", "maxmemory", "maxmemory_policy")


class OpsStore:
    """Small aggregate reads; nothing here is on a hot path."""

    def __init__(self, redis: aioredis.Redis, db: aiosqlite.Connection) -> None:
        self.redis = redis
        self.db = db

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
        out: dict[str, dict[str, int]] = {"share": {}, "click": {}}
        sql = (
            "SELECT metric, network, SUM(n) FROM counter_hourly "
            "WHERE hour >= ? AND metric IN ('share', 'click') GROUP BY metric, network"
        )
        async with self.db.execute(sql, (since_hour,)) as cur:
            async for metric, network, n in cur:
                out[str(metric)][str(network)] = int(n)
        return out


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
