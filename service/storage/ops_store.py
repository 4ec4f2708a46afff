"""Reads for the ops view: Redis memory and eviction, shares and clicks by network."""

from __future__ import annotations

from typing import Any

from redis.exceptions import RedisError

from .durable import AggregateReader
from .redis_cluster import Client, Cluster

MEMORY_FIELDS = ("used_memory", "used_memory_human", "used_memory_peak_human", "maxmemory", "maxmemory_policy")


class OpsStore:
    """Small aggregate reads; nothing here is on a hot path."""

    def __init__(self, redis: Client, aggregates: AggregateReader) -> None:
        self.redis = redis
        self.aggregates = aggregates

    async def redis_memory(self) -> dict[str, Any]:
        """Memory use, eviction policy and evicted keys, summed over a cluster's primaries (an `error` entry
        when INFO is refused)."""
        try:
            nodes = await self._infos()
        except RedisError as exc:
            return {"error": type(exc).__name__}
        if len(nodes) == 1:
            memory, stats = nodes[0]
            out = {k: _plain(memory.get(k)) for k in MEMORY_FIELDS}
            out["evicted_keys"] = int(stats.get("evicted_keys", 0))
            return out
        return _summed(nodes)

    async def _infos(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(INFO memory, INFO stats) of one Redis, or of every primary of a cluster."""
        if not isinstance(self.redis, Cluster):
            return [(await self.redis.info("memory"), await self.redis.info("stats"))]
        memory = await self.redis.on_primaries("INFO", "memory")
        stats = await self.redis.on_primaries("INFO", "stats")
        for reply in (*memory.values(), *stats.values()):
            if isinstance(reply, BaseException):
                raise reply
        return [(memory[name], stats[name]) for name in sorted(memory)]

    async def by_network(self, since_hour: int) -> dict[str, dict[str, int]]:
        """Flushed shares and clicks per network from `since_hour` on."""
        return await self.aggregates.by_network(since_hour)


def _summed(nodes: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """A cluster's memory figures: bytes summed, the eviction policy if all primaries agree (else each)."""
    used = sum(int(memory.get("used_memory", 0)) for memory, _s in nodes)
    peak = sum(int(memory.get("used_memory_peak", 0)) for memory, _s in nodes)
    policies = sorted({str(_plain(memory.get("maxmemory_policy"))) for memory, _s in nodes})
    return {
        "used_memory": used,
        "used_memory_human": _human(used),
        "used_memory_peak_human": _human(peak),
        "maxmemory": sum(int(memory.get("maxmemory", 0)) for memory, _s in nodes),
        "maxmemory_policy": policies[0] if len(policies) == 1 else ",".join(policies),
        "evicted_keys": sum(int(stats.get("evicted_keys", 0)) for _m, stats in nodes),
        "primaries": len(nodes),
    }


def _human(n: int) -> str:
    """Bytes as Redis's INFO writes them (1.50M)."""
    for unit, size in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= size:
            return f"{n / size:.2f}{unit}"
    return f"{n}B"


def _plain(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value
