"""The random daily salt for visitor hashes, shared by all replicas through Redis."""

from __future__ import annotations

import secrets

from . import keys
from .redis_cluster import Client

SALT_TTL_S = 48 * 3600  # the salt is deleted 48 h after its day began: old hashes become unlinkable


class DailySalt:
    """Gets (creating once, with SET NX) the salt of a UTC day; caches the current day only."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis
        self._day = -1
        self._salt = b""

    async def get(self, day: int) -> bytes:
        if day == self._day:
            return self._salt
        key = keys.salt(day)
        await self.redis.set(key, secrets.token_bytes(32), nx=True, ex=SALT_TTL_S)
        stored = await self.redis.get(key)
        salt = bytes(stored) if isinstance(stored, bytes) else secrets.token_bytes(32)  # None only at the 48 h edge
        self._day, self._salt = day, salt
        return salt
