"""A deadline on every request that waits on storage: past it the request fails with TimeoutError (a 503).

`asyncio.timeout` per request would leave a timer handle per request cancelled in the loop's heap, a
real cost on the view beacon (README, "Benchmarks"); here one watchdog task ticks a few times a second
and cancels the requests past their deadline, so a request pays a dict insert and delete. The cancel is turned back
into a TimeoutError the way `asyncio.timeout` does it (`Task.uncancel`), so a client's own cancel
still propagates as a cancel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

from ..metrics import Metrics
from .contract import Operation
from .edge import Routes


class Deadlines:
    """Requests in flight and their deadlines; `watch()` is the owned task that enforces them."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.tick_s = min(max(seconds / 8, 0.02), 0.25)
        self.clock = clock
        self._running: dict[asyncio.Task[object], float] = {}
        self._cancelled: dict[asyncio.Task[object], int] = {}

    def bound(self, handler: Handler) -> Handler:
        """`handler`, failing with TimeoutError once it has run `seconds`."""
        running, cancelled, seconds, clock = self._running, self._cancelled, self.seconds, self.clock
        current_task = asyncio.current_task

        async def bounded(request: web.Request) -> web.StreamResponse:
            task = current_task()
            assert task is not None
            running[task] = clock() + seconds
            try:
                return await handler(request)
            except asyncio.CancelledError:
                if _uncancel(task, cancelled.pop(task, 0)):
                    raise TimeoutError(f"no answer from storage within {seconds} s") from None
                raise
            finally:
                del running[task]
                if cancelled:  # (rarely anything): a cancel of ours the handler swallowed
                    _uncancel(task, cancelled.pop(task, 0))

        return bounded

    def expire(self, now: float) -> int:
        """Cancel the requests past their deadline (again, if one swallowed the cancel); how many."""
        late = [task for task, deadline in self._running.items() if deadline <= now]
        for task in late:
            self._cancelled[task] = self._cancelled.get(task, 0) + 1
            task.cancel()
        return len(late)

    async def watch(self) -> None:
        """Expire late requests every tick, until cancelled."""
        while True:
            await asyncio.sleep(self.tick_s)  # the tick: a request is cancelled at most this late
            self.expire(self.clock())


def _uncancel(task: asyncio.Task[object], ours: int) -> bool:
    """Take back our `ours` cancels; True if they were the only ones (so no one else cancelled)."""
    for _ in range(ours):
        task.uncancel()
    return ours > 0 and not task.cancelling()


class BoundedRoutes(Routes):
    """The edge's route registry, each handler under the request deadline unless its Operation says not."""

    def __init__(self, app: web.Application, metrics: Metrics, cors_origins: list[str], deadlines: Deadlines) -> None:
        super().__init__(app, metrics, cors_origins)
        self.deadlines = deadlines

    def add(self, method: str, path: str, handler: Handler, op: Operation) -> None:
        if op.deadline:
            handler = self.deadlines.bound(handler)
        super().add(method, path, handler, op)
