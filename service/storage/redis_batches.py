"""Redis side of a flush: seal live deltas into a batch, read it, acknowledge it."""

from __future__ import annotations

from collections.abc import Sequence

from . import keys
from .redis_cluster import Client, pipeline
from .scripts import ACK, SEAL


class RedisBatches:
    """Seal / read / ack of delta batches, one shard at a time."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis
        self._seal = redis.register_script(SEAL)
        self._ack = redis.register_script(ACK)

    async def seal(self, shard: int, batch_id: str) -> int:
        """1: sealed; 0: nothing to seal; -1: shard not rebuilt since Redis lost its data."""
        return int(
            await self._seal(
                keys=[keys.delta(shard), keys.batch(shard, batch_id), keys.pending(shard), keys.seeded(shard)],
                args=[batch_id],
            )
        )

    async def pending(self, shard: int) -> list[str]:
        members = await self.redis.smembers(keys.pending(shard))
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def read(self, shard: int, batch_id: str) -> dict[str, int]:
        """A sealed batch's fields (immutable once sealed, so a scan is consistent)."""
        raw = await self.redis.hgetall(keys.batch(shard, batch_id))
        return {(field.decode() if isinstance(field, bytes) else field): int(value) for field, value in raw.items()}

    async def visitor_counts(self, pairs: Sequence[tuple[str, int]]) -> list[int]:
        """PFCOUNT of each (article, day) visitor HLL."""
        async with pipeline(self.redis) as pipe:
            for article_id, day in pairs:
                pipe.pfcount(keys.visitors(article_id, day))
            return [int(n) for n in await pipe.execute()]

    async def ack(self, shard: int, batch_id: str, snapshots: Sequence[tuple[str, int, int]]) -> None:
        """Delete the batch and its pending mark; mirror (article, day, uniques) snapshots."""
        batch_keys = [keys.batch(shard, batch_id), keys.pending(shard)]
        args: list[str | int] = [batch_id]
        for article_id, day, n in snapshots:
            batch_keys.append(keys.totals(article_id))
            args += [f"uvd\t{day}", n]
        await self._ack(keys=batch_keys, args=args)

    async def pending_count(self) -> tuple[int, int]:
        """(pending batches, live delta fields) over all shards."""
        async with pipeline(self.redis) as pipe:
            for shard in range(keys.SHARDS):
                pipe.scard(keys.pending(shard))
                pipe.hlen(keys.delta(shard))
            replies = await pipe.execute()
        return sum(replies[0::2]), sum(replies[1::2])
