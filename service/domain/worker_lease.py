"""The one worker: a process takes the lease when it is free, renews it while it works, lets go on shutdown.

Flushes, queued related builds and rebuilds after a Redis loss run only in the holder, which checks the
lease before each cycle; a holder killed -9 stops renewing and a standby takes the lease once it expires.
The flush ledger and the build claims settle what a holder that just lost the lease was still doing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..storage.lease import RedisLease
from ..tasks import OUTAGES, OutageLog

log = logging.getLogger(__name__)
OnAcquired = Callable[[], Awaitable[None]]


def new_holder_id() -> str:
    """hostname:pid:random, unique per process start."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def works_here(role: str, lease: WorkerLease | None) -> bool:
    """True if this process flushes and builds now: `all` always, a `worker` while it holds the lease."""
    return role == "all" or (role == "worker" and lease is not None and lease.held)


class WorkerLease:
    """This process's side of the lease (`takes_part` False: an api replica that only reports who holds it)."""

    def __init__(self, store: RedisLease, ttl_s: float, renew_s: float, takes_part: bool = True,
                 holder_id: str | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.renew_s = renew_s
        self.takes_part = takes_part
        self.holder_id = holder_id or new_holder_id()
        self.clock = clock
        self.monotonic = monotonic
        self.value: str | None = None  # holder_id@acquired_ms while this process holds the lease
        self.held_until = 0.0  # monotonic: the lease cannot have expired before this
        self.acquisitions = 0
        self.on_acquired: list[OnAcquired] = []
        self.outage = OutageLog(log, "worker lease")
        self._lock = asyncio.Lock()  # the renew loop, the flusher and the builder all check

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)

    @property
    def held(self) -> bool:
        return self.value is not None and self.monotonic() < self.held_until

    async def step(self) -> bool:
        """Renew the lease if this process holds it, else try to take it; True while this process holds it."""
        if not self.takes_part:
            return False
        async with self._lock:
            return await self._step()

    async def _step(self) -> bool:
        sent = self.monotonic()
        if self.value is not None:
            if await self.store.renew(self.value, self.ttl_ms):
                self.held_until = sent + self.ttl_s
                return True
            log.warning("lost the worker lease: another worker holds it now; no new work is started here")
            self.value = None
        value = f"{self.holder_id}@{int(self.clock() * 1000)}"
        if not await self.store.acquire(value, self.ttl_ms):
            return False
        self.value, self.held_until = value, sent + self.ttl_s
        self.acquisitions += 1
        log.info("took the worker lease as %s", self.holder_id)
        for callback in self.on_acquired:
            await callback()
        return True

    async def check(self) -> bool:
        """Before a cycle of work: is this process the holder? A Redis outage answers from the last renewal."""
        try:
            return await self.step()
        except OUTAGES:
            return self.held

    async def run(self) -> None:
        """Owned background task: renew (or try to take) the lease every `renew_s` seconds."""
        while True:
            try:
                await self.step()
                self.outage.ok()
            except Exception as exc:
                self.outage.failed(exc)
            await asyncio.sleep(self.renew_s)

    async def release(self) -> None:
        """On a clean shutdown: hand the lease over at once instead of after its TTL."""
        value, self.value = self.value, None
        if value is not None:
            await self.store.release(value)
            log.info("released the worker lease")

    async def status(self) -> dict[str, Any]:
        """Who holds the lease, since when and for how long unless renewed (for /readyz and the dashboard)."""
        holder = await self.store.holder()
        if holder is None:
            return {"holder": None, "this_process": False}
        acquired = holder.acquired_ms
        return {
            "holder": holder.holder_id,
            "this_process": holder.value == self.value,
            "age_s": None if acquired is None else round(max(0.0, self.clock() - acquired / 1000), 1),
            "expires_in_s": round(holder.expires_in_ms / 1000, 2),
        }
