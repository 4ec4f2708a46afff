"""The embedded durable store: one SQLite file in DATA_DIR, for one host."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from . import schema
from .durable import Hook
from .sqlite_counters import SqliteCounters
from .sqlite_reports import SqliteAggregates, SqliteReports
from .sqlite_store import SqliteStore
from .sqlite_tx import Transactions


class SqliteDurable:
    """The app's one long-lived connection, and a second one for readiness probes.

    The probe has its own connection: the app's serves its calls one at a time, so a probe on it
    would wait behind a long write (a bulk import, a flush on a locked file).
    """

    kind = "sqlite"

    def __init__(self, db: aiosqlite.Connection, probe: aiosqlite.Connection) -> None:
        self.db = db
        self.probe = probe
        self.tx = Transactions(db)  # the store's writes and the flusher's share the connection
        self.store = SqliteStore(db, self.tx)
        self.reports = SqliteReports(db)
        self.aggregates = SqliteAggregates(db)

    @classmethod
    async def open(cls, path: Path, busy_timeout_ms: int, probe_timeout_s: float) -> SqliteDurable:
        """Connect (and migrate) the file, then open the probe connection."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await schema.connect(str(path), busy_timeout_ms)
        try:
            probe = await aiosqlite.connect(str(path), timeout=probe_timeout_s)
        except BaseException:
            await db.close()
            raise
        return cls(db, probe)

    def counters(self, hook: Hook) -> SqliteCounters:
        return SqliteCounters(self.db, self.tx, hook)

    async def ping(self) -> None:
        async with self.probe.execute("SELECT 1 FROM sqlite_master LIMIT 1") as cur:
            await cur.fetchone()

    async def close(self) -> None:
        try:
            await self.probe.close()
        finally:
            await self.db.close()
