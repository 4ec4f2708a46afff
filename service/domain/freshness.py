"""Fresh across replicas: every related index write bumps a generation in Redis; each replica polls it and
drops its answer cache and reloads its frequency copies when it moved.

A poll rather than pub/sub: nothing is lost while a connection is down (the next poll sees the change), and
the cost is one GET per poll interval per replica, whatever the traffic.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from ..storage.related_claims import RelatedGeneration
from ..tasks import OUTAGES, OutageLog

log = logging.getLogger(__name__)


class Freshness:
    """The generation this replica's caches were filled at, and the loop that notices other replicas' writes."""

    def __init__(self, generation: RelatedGeneration, invalidate: Callable[[], None],
                 refresh: Callable[[], Awaitable[None]], poll_s: float, refresh_s: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.generation = generation
        self.invalidate = invalidate  # drop cached answers
        self.refresh = refresh  # reload the tag and term statistics
        self.poll_s = poll_s
        self.refresh_s = refresh_s
        self.monotonic = monotonic
        self.seen: int | None = None
        self.refresh_at = 0.0
        self.changes = 0  # generations moved by other replicas' writes, since start

    async def announce(self) -> None:
        """After a local write (already applied to this replica's caches): tell the other replicas."""
        try:
            bumped = await self.generation.bump()
        except OUTAGES as exc:  # other replicas catch up at their cache TTL and statistics refresh
            log.warning("could not announce a related index write to other replicas: %s", exc)
            return
        if self.seen is not None and bumped == self.seen + 1:
            self.seen = bumped  # nobody else wrote in between: this replica is up to date

    async def step(self) -> bool:
        """One poll; True if another replica wrote since the last one."""
        current = await self.generation.read()
        moved = self.seen is not None and current != self.seen
        if moved:
            self.invalidate()
            self.changes += 1
        if moved or self.seen is None or self.monotonic() >= self.refresh_at:
            self.seen = current
            await self.refresh()
            self.refresh_at = self.monotonic() + self.refresh_s
        return moved

    async def run(self) -> None:
        """Owned background task: poll every `poll_s` seconds."""
        outage = OutageLog(log, "related freshness poll")
        while True:
            try:
                await self.step()
                outage.ok()
            except Exception as exc:
                outage.failed(exc)
            await asyncio.sleep(self.poll_s)
