"""The worker lease in Redis: one key, taken with SET NX PX, renewed and released only by its holder."""

from __future__ import annotations

from dataclasses import dataclass

from . import keys
from .redis_cluster import Client

# KEYS: the lease. ARGV: the holder's value, TTL in ms. Extends the lease only while this holder has it.
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""

# KEYS: the lease. ARGV: the holder's value. Deletes the lease only while this holder has it.
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds the lease (`holder_id@acquired_ms`) and how long until it expires unless renewed."""

    value: str
    expires_in_ms: int

    @property
    def holder_id(self) -> str:
        return self.value.rpartition("@")[0] or self.value

    @property
    def acquired_ms(self) -> int | None:
        stamp = self.value.rpartition("@")[2]
        return int(stamp) if stamp.isdigit() else None


class RedisLease:
    """Acquire / renew / release / read of the lease key; the caller supplies the value and the TTL."""

    def __init__(self, redis: Client, key: str = keys.worker_lease()) -> None:
        self.redis = redis
        self.key = key
        self._renew = redis.register_script(RENEW)
        self._release = redis.register_script(RELEASE)

    async def acquire(self, value: str, ttl_ms: int) -> bool:
        """True if the lease was free and is now `value`'s."""
        return bool(await self.redis.set(self.key, value, nx=True, px=ttl_ms))

    async def renew(self, value: str, ttl_ms: int) -> bool:
        """True if `value` still held the lease (now extended by `ttl_ms`)."""
        return bool(await self._renew(keys=[self.key], args=[value, ttl_ms]))

    async def release(self, value: str) -> bool:
        return bool(await self._release(keys=[self.key], args=[value]))

    async def holder(self) -> LeaseHolder | None:
        raw = await self.redis.get(self.key)  # two calls, not a transaction: on a cluster too; an expiry in
        ttl = await self.redis.pttl(self.key)  # between reads as a TTL of 0
        if raw is None:
            return None
        value = raw.decode() if isinstance(raw, bytes) else str(raw)
        return LeaseHolder(value, max(int(ttl), 0))
