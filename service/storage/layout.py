"""Moves per-shard keys from the old hash tags (`{s7}`) to keys.SHARD_TAGS, at start, before serving.

Run before the index is checked or rebuilt: a shard whose seeded marker, live deltas or sealed batches still
sit under the old tag would look lost, and its unflushed counts would be stranded. One Redis only: RENAME
crosses slots there; a cluster never ran the old layout (it could not start). Idempotent and resumable: a key
is renamed whole or not at all, a second run finds nothing, and the layout marker skips the scan afterwards.
Every process on the Redis must run this release: an older one still writing old keys would be left behind.
"""

from __future__ import annotations

import logging
import re

from . import keys
from .redis_cluster import Client, Cluster, pipeline

log = logging.getLogger(__name__)
BATCH = 500  # keys renamed per step (SCAN COUNT)
_OLD = re.compile(rb"^" + re.escape(keys.PREFIX.encode()) + rb":\{s(\d+)\}:")


def renamed(old: bytes) -> bytes | None:
    """The key under today's tag of a key under an old shard tag; None for any other key."""
    found = _OLD.match(old)
    if found is None or int(found[1]) >= keys.SHARDS:
        return None
    shard = int(found[1])
    return keys.shard_key_prefix(shard).encode() + old[found.end() - 1 :]


async def move_shard_tags(redis: Client, batch: int = BATCH) -> int:
    """Rename old-tag keys to today's tags; the number renamed."""
    if isinstance(redis, Cluster) or await redis.get(keys.layout()) == keys.LAYOUT.encode():
        return 0
    moved = 0
    cursor = 0
    while True:
        cursor, found = await redis.scan(cursor, match=keys.LEGACY_SHARD_MATCH, count=batch)
        pairs = [(old, new) for old in map(_bytes, found) if (new := renamed(old)) is not None]
        if pairs:
            async with pipeline(redis) as pipe:
                for old, new in pairs:
                    pipe.rename(old, new)
                await pipe.execute(raise_on_error=False)  # a key that expired since the SCAN: nothing to move
            moved += len(pairs)
        if cursor == 0:
            break
    await redis.set(keys.layout(), keys.LAYOUT)
    if moved:
        log.info("key layout: %d keys moved to the spread shard tags", moved)
    return moved


def _bytes(key: bytes | str) -> bytes:
    return key if isinstance(key, bytes) else key.encode()
