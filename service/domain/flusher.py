"""The flush: seal, apply with a ledger, ack. Exactly once by construction.

A crash anywhere re-runs from the last completed step: a sealed batch stays in the shard's
pending set until acknowledged, and the SQLite ledger makes applying it a second time a no-op.
Several flushers may run at once; a rename wins once, and the ledger settles the rest.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field

from ..storage import keys
from ..storage.durable import CounterWriter
from ..storage.flush_rows import ApplyItem, parse_batch
from ..storage.flush_status import FlushStatus
from ..storage.redis_batches import RedisBatches
from ..tasks import OUTAGES, OutageLog
from .catalog import Catalog

log = logging.getLogger(__name__)
Hook = Callable[[str], Awaitable[None]]
MayRun = Callable[[], Awaitable[bool]]  # checked before each cycle of background work


async def _noop(step: str) -> None:
    return None


async def _always() -> bool:
    return True


@dataclass
class FlushReport:
    batches: int = 0
    skipped: int = 0  # batches already in the ledger (another flusher, or a crash after commit)
    rows: int = 0
    events: int = 0
    rebuilt: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class FlushState:
    last_success: float | None = None
    last_error: str | None = None
    failures: int = 0
    runs: int = 0
    redis_resets: int = 0
    last_report: FlushReport | None = None


class Flusher:
    """Moves counter deltas from Redis into SQLite."""

    def __init__(
        self,
        batches: RedisBatches,
        counters: CounterWriter,
        catalog: Catalog,
        hourly_retention_days: int = 90,
        ledger_retention_days: int = 30,
        hook: Hook = _noop,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
        shared: FlushStatus | None = None,
        holder_id: str = "",
    ) -> None:
        self.batches = batches
        self.counters = counters
        self.catalog = catalog
        self.hourly_retention_days = hourly_retention_days
        self.ledger_retention_days = ledger_retention_days
        self.hook = hook
        self.new_id = new_id
        self.shared = shared  # where the last success is shown to processes that do not flush
        self.holder_id = holder_id
        self.state = FlushState()
        self._lock = asyncio.Lock()
        self._last_maintenance = 0.0
        self.outage = OutageLog(log, "flush")

    async def pending_count(self) -> tuple[int, int]:
        """(sealed or open batches waiting for a flush, live delta fields) over all shards."""
        return await self.batches.pending_count()

    async def flush_once(self) -> FlushReport:
        """Finish batches left pending, then seal and apply the live deltas of every shard."""
        async with self._lock:
            started = time.monotonic()
            report = FlushReport()
            report.rebuilt = await self._recover_lost_redis()
            work = await self._seal_all()
            if work:
                await self._apply_and_ack(work, report)
            await self._maintenance()
            report.seconds = round(time.monotonic() - started, 4)
            self.state.runs += 1
            self.state.last_success = time.time()
            self.state.last_error = None
            self.state.last_report = report
            return report

    async def _seal_all(self) -> list[tuple[int, str]]:
        """Batches left pending by earlier runs, then a fresh seal of every shard's live deltas."""
        work: list[tuple[int, str]] = []
        for shard in range(keys.SHARDS):
            work += [(shard, batch_id) for batch_id in await self.batches.pending(shard)]
            batch_id = self.new_id()
            if await self.batches.seal(shard, batch_id) == 1:
                work.append((shard, batch_id))
                await self.hook("after_seal")
        return work

    async def _apply_and_ack(self, work: list[tuple[int, str]], report: FlushReport) -> None:
        """Apply every batch in one SQLite transaction (ledger-checked), then ack each."""
        batches: list[ApplyItem] = []
        for shard, batch_id in work:
            parsed = parse_batch(await self.batches.read(shard, batch_id))
            counts = await self.batches.visitor_counts(parsed.visitors)
            uniques = [(a, day, n) for (a, day), n in zip(parsed.visitors, counts, strict=True) if n > 0]
            batches.append(ApplyItem(batch_id, parsed, uniques))
        applied = await self.counters.apply(batches, int(time.time()))
        await self.hook("after_commit")
        for (shard, batch_id), item in zip(work, batches, strict=True):
            await self.batches.ack(shard, batch_id, item.uniques)
            if batch_id in applied:
                report.batches += 1
                report.rows += len(item.batch.hourly)
                report.events += item.batch.events
            else:
                report.skipped += 1

    async def _share(self, report: FlushReport) -> None:
        if self.shared is None or self.state.last_success is None:
            return
        try:
            await self.shared.record(self.state.last_success, report.as_dict(), self.holder_id)
        except OUTAGES as exc:  # only the dashboards of other processes miss it
            log.debug("could not share the flush state: %s", exc)

    async def _recover_lost_redis(self) -> int:
        rebuilt = await self.catalog.rebuild()
        if rebuilt:
            self.state.redis_resets += 1
            log.error(
                "redis lost its data: rebuilt %d articles from SQLite; deltas not flushed before the loss are gone",
                rebuilt,
            )
        return rebuilt

    async def _maintenance(self, every_s: float = 3600.0) -> None:
        now = time.time()
        if now - self._last_maintenance < every_s:
            return
        self._last_maintenance = now
        cutoff_hour = (int(now) // 86400 - self.hourly_retention_days) * 24
        await self.counters.roll_up(cutoff_hour)
        await self.counters.prune_ledger(int(now) - self.ledger_retention_days * 86400)

    async def run(self, interval: float, may_run: MayRun = _always) -> None:
        """Flush every `interval` seconds until cancelled, each time only if `may_run()` (this process holds
        the worker lease); failures are logged and retried."""
        while True:
            await asyncio.sleep(interval)
            if await may_run():
                await self.flush_logged()

    async def flush_logged(self) -> FlushReport | None:
        try:
            report = await self.flush_once()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.state.failures += 1
            self.state.last_error = f"{type(exc).__name__}: {exc}"
            self.outage.failed(exc)  # one line per outage, not one per interval
            return None
        self.outage.ok()
        await self._share(report)
        if report.events or report.skipped:
            log.info("flushed", extra={"flush": report.as_dict()})
        return report
