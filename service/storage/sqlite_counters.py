"""SQLite side of a flush: apply a batch exactly once, with the applied-batch ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiosqlite

Hook = Callable[[str], Awaitable[None]]


@dataclass
class ParsedBatch:
    """A batch's deltas: hourly rows and the (article, day) pairs with new visitors."""

    hourly: list[tuple[str, str, str, int, int]]  # article, metric, network, hour, n
    visitors: list[tuple[str, int]]
    events: int


@dataclass
class ApplyItem:
    """One sealed batch, parsed, with its unique-visitor snapshots (article, day, n)."""

    batch_id: str
    batch: ParsedBatch
    uniques: Sequence[tuple[str, int, int]]


def parse_batch(fields: dict[str, int]) -> ParsedBatch:
    """Delta fields `article\tmetric\tnetwork\thour` and visitor marks `u\tarticle\tday`.

    Hourly rows come out in primary-key order (the field text sorts the same way while epoch hours
    have six digits, until 2084; sorting strings is cheap), so SQLite's upserts walk its B-tree
    instead of jumping around it. Order only speeds the upsert up; any order gives the same sums.
    """
    hourly: list[tuple[str, str, str, int, int]] = []
    visitors: list[tuple[str, int]] = []
    events = 0
    for field in sorted(fields):
        n = fields[field]
        parts = field.split("\t")
        if len(parts) == 4 and n:
            hourly.append((parts[0], parts[1], parts[2], int(parts[3]), n))
            events += n
        elif parts[0] == "u" and len(parts) == 3:
            visitors.append((parts[1], int(parts[2])))
    return ParsedBatch(hourly, visitors, events)


def running_totals(hourly: Sequence[tuple[str, str, str, int, int]]) -> list[tuple[str, str, str, int]]:
    """Sum of n per (article, metric, network) over rows sorted by that key (one pass, no dict)."""
    totals: list[tuple[str, str, str, int]] = []
    key: tuple[str, str, str] | None = None
    acc = 0
    for article_id, metric, network, _hour, n in hourly:
        if key is None or key[0] != article_id or key[1] != metric or key[2] != network:
            if key is not None:
                totals.append((*key, acc))
            key, acc = (article_id, metric, network), 0
        acc += n
    if key is not None:
        totals.append((*key, acc))
    return totals


async def _noop(step: str) -> None:
    return None


class SqliteCounters:
    """Writes of counter aggregates; only the flusher calls these after start-up."""

    def __init__(self, db: aiosqlite.Connection, hook: Hook = _noop) -> None:
        self.db = db
        self.hook = hook

    async def apply(self, items: Sequence[ApplyItem], now: int) -> set[str]:
        """One transaction: batches already in the ledger are skipped, the rest upserted and recorded.

        Returns the ids applied by this call."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            fresh = [item for item in items if not await self._in_ledger(item.batch_id)]
            if fresh:
                await self._upsert(fresh)
                await self.hook("mid_apply")
                await self.db.executemany(
                    "INSERT INTO applied_batches (batch_id, applied_at, fields, events) VALUES (?,?,?,?)",
                    [(item.batch_id, now, len(item.batch.hourly), item.batch.events) for item in fresh],
                )
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise
        return {item.batch_id for item in fresh}

    async def _in_ledger(self, batch_id: str) -> bool:
        async with self.db.execute("SELECT 1 FROM applied_batches WHERE batch_id = ?", (batch_id,)) as cur:
            return await cur.fetchone() is not None

    async def _upsert(self, items: Sequence[ApplyItem]) -> None:
        """Upsert hourly rows and running totals, each batch in key order.

        Batches of one shard may share keys (left pending by a crash): the upsert adds them up, as it
        adds any key twice, so no merge is needed. Shards never share an article.
        """
        uniques = sorted(u for item in items for u in item.uniques)
        for item in items:
            await self.db.executemany(
                "INSERT INTO counter_hourly (article_id, metric, network, hour, n) VALUES (?,?,?,?,?) "
                "ON CONFLICT (article_id, metric, network, hour) DO UPDATE SET n = n + excluded.n",
                item.batch.hourly,
            )
        for item in items:
            await self.db.executemany(
                "INSERT INTO counter_totals (article_id, metric, network, n) VALUES (?,?,?,?) "
                "ON CONFLICT (article_id, metric, network) DO UPDATE SET n = n + excluded.n",
                running_totals(item.batch.hourly),
            )
        await self.db.executemany(
            "INSERT INTO unique_daily (article_id, day, n) VALUES (?,?,?) "
            "ON CONFLICT (article_id, day) DO UPDATE SET n = max(n, excluded.n)",
            uniques,
        )

    async def roll_up(self, hour_cutoff: int) -> int:
        """Move hourly rows older than the cutoff into daily rows, in one transaction."""
        await self.db.execute("BEGIN IMMEDIATE")
        try:
            await self.db.execute(
                "INSERT INTO counter_daily (article_id, metric, network, day, n) "
                "SELECT article_id, metric, network, hour / 24, SUM(n) FROM counter_hourly WHERE hour < ? "
                "GROUP BY article_id, metric, network, hour / 24 "
                "ON CONFLICT (article_id, metric, network, day) DO UPDATE SET n = n + excluded.n",
                (hour_cutoff,),
            )
            cur = await self.db.execute("DELETE FROM counter_hourly WHERE hour < ?", (hour_cutoff,))
            await self.db.commit()
        except BaseException:
            await self.db.rollback()
            raise
        return cur.rowcount

    async def prune_ledger(self, before: int) -> int:
        cur = await self.db.execute("DELETE FROM applied_batches WHERE applied_at < ?", (before,))
        await self.db.commit()
        return cur.rowcount
