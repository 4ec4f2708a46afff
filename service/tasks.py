"""Owned background tasks: stopping them reliably, and logging their failures once per outage."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable

from redis.exceptions import RedisError

from .outages import StorageUnavailable

# What an outage of a storage looks like (the loop is fine; Redis or the database is away): one line, no traceback.
OUTAGES: tuple[type[BaseException], ...] = (
    RedisError, OSError, TimeoutError, sqlite3.OperationalError, StorageUnavailable,
)


async def stop_task(task: asyncio.Task[None], poll_s: float = 0.2) -> None:
    """Cancel until the task is done: redis-py can swallow a cancel that lands inside a command."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=poll_s)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]


class OutageLog:
    """One warning when a loop's step starts failing, one info line when it works again; quiet between.

    In a loop: `outage.ok()` after a step that worked, `outage.failed(exc)` in its `except Exception`.
    A storage outage (OUTAGES) is logged without a traceback; anything else, a bug, with one, once.
    """

    def __init__(self, log: logging.Logger, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.what = what
        self.clock = clock
        self.since: float | None = None  # when the current outage began; None while all is well
        self.failures = 0  # failed steps in the current outage
        self.outages = 0  # outages seen since start

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.since is not None:
            self.log.debug("%s still failing: %s", self.what, _describe(exc))
            return
        self.since = self.clock()
        self.outages += 1
        trace = None if isinstance(exc, OUTAGES) else exc
        self.log.warning("%s failing, retrying quietly until it works: %s", self.what, _describe(exc), exc_info=trace)

    def ok(self) -> None:
        if self.since is None:
            return
        seconds = self.clock() - self.since
        self.log.info("%s works again after %.1f s (%d failed attempts)", self.what, seconds, self.failures)
        self.since = None
        self.failures = 0


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
