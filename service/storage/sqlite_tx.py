"""Write transactions on the process' one SQLite connection, one at a time.

aiosqlite runs one connection's statements on one thread, in order, but two tasks that each open a
transaction on it interleave: the second BEGIN fails ("cannot start a transaction within a
transaction"), and a plain write followed by commit() commits the other task's half-done transaction
(a flush's upserts without its ledger row). Every write here goes through `Transactions`, which lets
one transaction run at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiosqlite


class Transactions:
    """BEGIN IMMEDIATE … COMMIT on one connection, serialised; rolled back on any exception."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def immediate(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
                await self.db.commit()
            except BaseException:
                await self.db.rollback()
                raise
