"""The request deadline: late handlers fail with TimeoutError, a client's own cancel stays a cancel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.api.deadline import Deadlines
from service.storage.redis_client import BudgetRetry


@pytest.fixture
async def deadlines() -> AsyncIterator[Deadlines]:
    made = Deadlines(0.3)
    watch = asyncio.create_task(made.watch())
    yield made
    watch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await watch


async def _slow(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(30)  # a storage call that never answers
    return web.Response()


async def _quick(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(0)
    return web.Response(text="done")


async def test_a_late_handler_fails_with_timeout_error_near_the_deadline(deadlines: Deadlines) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await deadlines.bound(_slow)(make_mocked_request("GET", "/"))
    assert 0.3 <= time.monotonic() - started < 0.3 + deadlines.tick_s + 1.0
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0, "our cancel was taken back"


async def test_a_quick_handler_answers(deadlines: Deadlines) -> None:
    response = await deadlines.bound(_quick)(make_mocked_request("GET", "/"))
    assert isinstance(response, web.Response) and response.text == "done"


async def test_a_cancel_from_elsewhere_stays_a_cancel(deadlines: Deadlines) -> None:
    task = asyncio.create_task(deadlines.bound(_slow)(make_mocked_request("GET", "/")))
    for _ in range(3):
        await asyncio.sleep(0)  # loop turns: the handler starts and waits; a client going away cancels it
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_budget_retry_retries_fast_failures_but_not_past_its_budget() -> None:
    calls: list[float] = []

    async def refused() -> None:
        calls.append(time.monotonic())
        raise RedisConnectionError("refused")

    async def nothing(error: Exception) -> None:
        return None

    started = time.monotonic()
    with pytest.raises(RedisConnectionError):
        await BudgetRetry(100, 0.5).call_with_retry(refused, nothing)
    assert len(calls) > 2 and time.monotonic() - started < 0.5 + 0.5

    async def timed_out() -> None:
        calls.append(time.monotonic())
        await asyncio.sleep(0.3)  # a reply timeout that used up the budget
        raise RedisTimeoutError("no reply")

    calls.clear()
    with pytest.raises(RedisTimeoutError):
        await BudgetRetry(100, 0.3).call_with_retry(timed_out, nothing)
    assert len(calls) == 1, "a reply timeout is not retried past the bound"
