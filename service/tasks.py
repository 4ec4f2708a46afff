"""Stopping owned background tasks reliably."""

from __future__ import annotations

import asyncio


async def stop_task(task: asyncio.Task[None], poll_s: float = 0.2) -> None:
    """Cancel until the task is done: redis-py can swallow a cancel that lands inside a command."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=poll_s)
    if not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
