"""SQLite side of a flush: apply a batch exactly once, with the applied-batch ledger."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import aiosqlite

from .flush_rows import ApplyItem, ParsedBatch, parse_batch, running_totals
from .sqlite_tx import Transactions

__all__ = ["ApplyItem", "ParsedBatch", "SqliteCounters", "parse_batch", "running_totals"]

Hook = Callable[[str], Awaitable[None]]


async def _noop(step: str) -> None:
    return None


class SqliteCounters:
    """Writes of counter aggregates; only the flusher calls these after start-up."""

    def __init__(self, db: aiosqlite.Connection, tx: Transactions, hook: Hook = _noop) -> None:
        self.db = db
        self.tx = tx
        self.hook = hook

    async def apply(self, items: Sequence[ApplyItem], now: int) -> set[str]:
        """One transaction: batches already in the ledger are skipped, the rest upserted and recorded.

        Returns the ids applied by this call."""
        async with self.tx.immediate() as db:
            fresh = [item for item in items if not await self._in_ledger(item.batch_id)]
            if fresh:
                await self._upsert(fresh)
                await self.hook("mid_apply")
                await db.executemany(
                    "INSERT INTO applied_batches (batch_id, applied_at, fields, events) VALUES (?,?,?,?)",
                    [(item.batch_id, now, len(item.batch.hourly), item.batch.events) for item in fresh],
                )
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
        async with self.tx.immediate() as db:
            await db.execute(
                "INSERT INTO counter_daily (article_id, metric, network, day, n) "
                "SELECT article_id, metric, network, hour / 24, SUM(n) FROM counter_hourly WHERE hour < ? "
                "GROUP BY article_id, metric, network, hour / 24 "
                "ON CONFLICT (article_id, metric, network, day) DO UPDATE SET n = n + excluded.n",
                (hour_cutoff,),
            )
            cur = await db.execute("DELETE FROM counter_hourly WHERE hour < ?", (hour_cutoff,))
        return cur.rowcount

    async def prune_ledger(self, before: int) -> int:
        async with self.tx.immediate() as db:
            cur = await db.execute("DELETE FROM applied_batches WHERE applied_at < ?", (before,))
        return cur.rowcount
