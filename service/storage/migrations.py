"""Moves older Redis layouts to the current one, at start, in the background: idempotent and resumable.

Share codes were one hash per code (`eng:code:{code}`, ten an article, ~1 KB an article); now the codes
in use live in one hash per shard (keys.codes) and the rest stay in SQLite until their first share
or click. A batch of legacy keys at a time is read, the codes in use (the article has share or click
counts on the network) are written to their shard's hash, then the batch is deleted: memory stays
bounded by the batch, a crash leaves only keys the next start picks up again, and a second run is a
no-op. Until a code is moved, a click on it still resolves through SQLite.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from redis.asyncio.cluster import ClusterNode

from . import keys
from .decode import text
from .redis_cluster import Client, Cluster, pipeline
from .redis_index import code_target_value

log = logging.getLogger(__name__)
BATCH = 500  # legacy keys read, moved and deleted per step (SCAN COUNT)
_USES = ("share", "click", "bot_click")


async def run_migrations(redis: Client) -> None:
    """Every migration, logged; a failure is logged and left for the next start to resume."""
    try:
        moved, dropped = await migrate_share_codes(redis)
    except Exception:
        log.exception("migrating legacy share-code keys failed: the next start resumes it")
        return
    if moved or dropped:
        log.info("share codes: %d legacy keys moved into the per-shard hashes, %d unused ones dropped",
                 moved, dropped)


async def migrate_share_codes(redis: Client, batch: int = BATCH) -> tuple[int, int]:
    """Legacy one-key-per-code share codes into keys.codes(); (moved, dropped unused)."""
    if await redis.exists(keys.codes_migrated()):
        return 0, 0
    moved = dropped = 0
    async for found in _legacy_keys(redis, batch):
        kept, gone = await _migrate_batch(redis, found)
        moved, dropped = moved + kept, dropped + gone
    await redis.set(keys.codes_migrated(), "1")
    return moved, dropped


async def _legacy_keys(redis: Client, batch: int) -> AsyncIterator[list[str]]:
    """Legacy code keys a SCAN step at a time: of every primary of a cluster (each holds some), else of the one."""
    nodes: list[ClusterNode | None] = list(redis.primaries()) if isinstance(redis, Cluster) else [None]
    for node in nodes:
        cursor = 0
        while True:
            if node is None:
                cursor, found = await redis.scan(cursor, match=keys.LEGACY_CODES_MATCH, count=batch)
            else:  # redis-py answers ({node: cursor}, keys) for a SCAN sent to one node
                cursors, found = await redis.execute_command(
                    "SCAN", cursor, "MATCH", keys.LEGACY_CODES_MATCH, "COUNT", batch, target_nodes=node)
                cursor = int(next(iter(cursors.values())))
            if found:
                yield [text(k) for k in found]
            if cursor == 0:
                break


async def _migrate_batch(redis: Client, legacy: list[str]) -> tuple[int, int]:
    async with pipeline(redis) as pipe:
        for key in legacy:
            pipe.hmget(key, ["a", "n"])
        targets = await pipe.execute()
    valid = [(key, text(a), text(n)) for key, (a, n) in zip(legacy, targets, strict=True) if a and n]
    async with pipeline(redis) as pipe:
        for _key, article_id, network in valid:
            pipe.hmget(keys.totals(article_id), [f"{use}\t{network}" for use in _USES])
        counts = await pipe.execute()
    kept = 0
    async with pipeline(redis) as pipe:
        for (key, article_id, network), uses in zip(valid, counts, strict=True):
            if any(int(n or 0) for n in uses):
                code = key.removeprefix(keys.legacy_code(""))
                pipe.hset(keys.codes(keys.code_shard(code)), code, code_target_value(article_id, network))
                kept += 1
        for key in legacy:  # after the writes: a crash in between leaves keys to redo, never a lost code
            pipe.unlink(key)  # one key a command: legacy keys have no hash tag, so no common slot
        await pipe.execute()
    return kept, len(legacy) - kept


