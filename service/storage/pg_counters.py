"""PostgreSQL side of a flush: apply batches exactly once, with the shared applied-batch ledger.

Several flushers on several hosts may apply the same sealed batch at once. The ledger insert comes
first (INSERT … ON CONFLICT DO NOTHING RETURNING): a second transaction inserting the same batch id
waits for the first, and gets nothing back if it committed, so only the batches it recorded itself
are upserted, in the same transaction. All rows of a call are merged and upserted in key order, one
statement a table: concurrent flushers lock rows in the same order and cannot deadlock.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from .flush_rows import ApplyItem, running_totals
from .pg_pool import Conn, PgPool, rowcount

Hook = Callable[[str], Awaitable[None]]

_LEDGER = """
INSERT INTO applied_batches (batch_id, applied_at, fields, events)
SELECT b, $2::bigint, f, e FROM unnest($1::text[], $3::int[], $4::bigint[]) AS t(b, f, e) ORDER BY b
ON CONFLICT (batch_id) DO NOTHING
RETURNING batch_id
"""
_HOURLY = """
INSERT INTO counter_hourly AS c (article_id, metric, network, hour, n)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[])
ON CONFLICT (article_id, metric, network, hour) DO UPDATE SET n = c.n + excluded.n
"""
_TOTALS = """
INSERT INTO counter_totals AS c (article_id, metric, network, n)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
ON CONFLICT (article_id, metric, network) DO UPDATE SET n = c.n + excluded.n
"""
_UNIQUES = """
INSERT INTO unique_daily AS u (article_id, day, n)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
ON CONFLICT (article_id, day) DO UPDATE SET n = greatest(u.n, excluded.n)
"""
# Rolled up exactly the rows deleted: a concurrent roll-up or apply can neither double nor lose a row.
_ROLL_UP = """
WITH moved AS (DELETE FROM counter_hourly WHERE hour < $1 RETURNING article_id, metric, network, hour, n)
INSERT INTO counter_daily AS d (article_id, metric, network, day, n)
SELECT article_id, metric, network, hour / 24, sum(n) FROM moved GROUP BY article_id, metric, network, hour / 24
ORDER BY 1, 2, 3, 4
ON CONFLICT (article_id, metric, network, day) DO UPDATE SET n = d.n + excluded.n
RETURNING (SELECT count(*) FROM moved)
"""


async def _noop(step: str) -> None:
    return None


def merged(items: Sequence[ApplyItem]) -> tuple[list[tuple[str, str, str, int, int]], list[tuple[str, int, int]]]:
    """Hourly rows summed over the batches (a key may repeat across batches) and the highest unique
    snapshot per (article, day), both in key order."""
    if len(items) == 1:  # a batch's own rows are unique and sorted (parse_batch): nothing to merge
        return list(items[0].batch.hourly), sorted(items[0].uniques)
    hourly: Counter[tuple[str, str, str, int]] = Counter()
    for item in items:
        for article_id, metric, network, hour, n in item.batch.hourly:
            hourly[(article_id, metric, network, hour)] += n
    uniques: dict[tuple[str, int], int] = {}
    for item in items:
        for article_id, day, n in item.uniques:
            uniques[(article_id, day)] = max(n, uniques.get((article_id, day), 0))
    return [(*k, n) for k, n in sorted(hourly.items())], [(*k, n) for k, n in sorted(uniques.items())]


def _columns(rows: Sequence[tuple[object, ...]], width: int) -> list[list[object]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class PgCounters:
    """Writes of counter aggregates; only flushers call these."""

    def __init__(self, pool: PgPool, timeout_s: float, hook: Hook = _noop) -> None:
        self.pool = pool
        self.timeout_s = timeout_s  # a flush writes more than a request: its own bound
        self.hook = hook

    async def apply(self, items: Sequence[ApplyItem], now: int) -> set[str]:
        """One transaction: the ledger takes the batches it lacks, and only those are upserted.

        Returns the ids applied by this call."""
        if not items:
            return set()
        ledger = [(i.batch_id, len(i.batch.hourly), i.batch.events) for i in items]
        async with self.pool.transaction(self.timeout_s) as conn:
            b, f, e = _columns(ledger, 3)
            fresh = {r[0] for r in await conn.fetch(_LEDGER, b, now, f, e)}
            if fresh:
                await self._upsert(conn, [i for i in items if i.batch_id in fresh])
                await self.hook("mid_apply")
        return fresh

    @staticmethod
    async def _upsert(conn: Conn, items: Sequence[ApplyItem]) -> None:
        hourly, uniques = merged(items)
        await conn.execute(_HOURLY, *_columns(hourly, 5))
        await conn.execute(_TOTALS, *_columns(running_totals(hourly), 4))
        await conn.execute(_UNIQUES, *_columns(uniques, 3))

    async def roll_up(self, hour_cutoff: int) -> int:
        """Move hourly rows older than the cutoff into daily rows, in one statement."""
        async with self.pool.connection(self.timeout_s) as conn:
            return int(await conn.fetchval(_ROLL_UP, hour_cutoff) or 0)

    async def prune_ledger(self, before: int) -> int:
        async with self.pool.connection(self.timeout_s) as conn:
            return rowcount(await conn.execute("DELETE FROM applied_batches WHERE applied_at < $1", before))
