"""A write whose reply timed out has an unknown outcome: its retry answers what the first attempt got, a 503
says so, and a client retry with the same event id is counted at most once.

A real Redis behind a small TCP proxy that runs every command but can swallow the reply of the next
ingest script call: the script ran, its answer never came (what a stalled Redis or network does).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from tests.conftest import BROWSER_UA, put_article


class ReplyEater:
    """TCP in front of a unix-socket Redis; `eat_next_script_reply` drops the next EVALSHA's connection replies."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.eat_next_script_reply = False
        self.eaten = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"redis://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(self.socket_path)
        eating = asyncio.Event()

        async def upstream() -> None:
            while data := await reader.read(65536):
                if self.eat_next_script_reply and b"EVALSHA" in data:
                    self.eat_next_script_reply = False
                    eating.set()
                up_writer.write(data)
                await up_writer.drain()

        async def downstream() -> None:
            while data := await up_reader.read(65536):
                if eating.is_set():
                    self.eaten += 1  # the script ran in Redis; its reply is lost with this connection
                    continue
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.create_task(upstream()), asyncio.create_task(downstream())]
        with contextlib.suppress(Exception):
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            task.cancel()
        for w in (writer, up_writer):
            w.close()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@pytest.fixture
async def eater(redis_url: str) -> AsyncIterator[ReplyEater]:
    proxy = ReplyEater(redis_url.removeprefix("unix://"))
    yield proxy
    await proxy.close()


async def _client(settings: Settings, eater: ReplyEater, aiohttp_client: Callable[..., Any], retries: int) -> Any:
    own = settings.model_copy(update={
        "redis_url": await eater.start(), "redis_socket_timeout_s": 0.5, "redis_retries": retries,
    })
    client = await aiohttp_client(create_app(own, flusher=False), headers={"User-Agent": BROWSER_UA})
    await put_article(client, "o1")
    warm = await client.post("/v1/articles/o1/views", json={"event_id": "evt-warm-0000"})  # script loaded
    assert warm.status == 202
    return client


async def _stats(client: Any) -> dict[str, Any]:
    data: dict[str, Any] = await (await client.get("/v1/articles/o1/stats")).json()
    return data


async def _view(client: Any, event_id: str) -> Any:
    return await client.post("/v1/articles/o1/views", json={"event_id": event_id})


async def test_a_retry_after_a_reply_timeout_answers_the_first_attempts_status(
    settings: Settings, eater: ReplyEater, aiohttp_client: Callable[..., Any], redis_url: str
) -> None:
    if not redis_url.startswith("unix://"):
        pytest.fail("this test puts its proxy in front of the suite's unix-socket redis-server")
    client = await _client(settings, eater, aiohttp_client, retries=2)
    eater.eat_next_script_reply = True
    resp = await _view(client, "evt-timeout-0001")
    assert (resp.status, await resp.json()) == (202, {"status": "accepted"})  # not `duplicate`
    assert eater.eaten >= 1  # the first attempt's reply really was lost
    eater.eat_next_script_reply = True
    share = await client.post("/v1/articles/o1/shares", json={"network": "x", "event_id": "evt-timeout-0002"})
    assert share.status == 201
    assert {k: v for k, v in (await share.json()).items() if k in ("counted", "status")} == {
        "counted": True, "status": "accepted",
    }
    again = await _view(client, "evt-timeout-0001")  # a later call with the id: counted already
    assert (again.status, await again.json()) == (202, {"status": "duplicate"})
    stats = await _stats(client)
    assert (stats["views"], stats["shares"]["total"]) == (2, 1)  # with the warm-up view


async def test_a_timed_out_write_says_its_outcome_is_unknown_and_a_retry_counts_it_at_most_once(
    settings: Settings, eater: ReplyEater, aiohttp_client: Callable[..., Any], redis_url: str
) -> None:
    if not redis_url.startswith("unix://"):
        pytest.fail("this test puts its proxy in front of the suite's unix-socket redis-server")
    client = await _client(settings, eater, aiohttp_client, retries=0)
    eater.eat_next_script_reply = True
    resp = await _view(client, "evt-unknown-0001")
    assert resp.status == 503
    assert int(resp.headers["Retry-After"]) >= 1
    error = (await resp.json())["error"]
    assert error["code"] == "unavailable"
    assert error["details"] == {"outcome": "unknown", "retry": "same event_id"}
    assert "at most once" in error["message"]
    assert (await _stats(client))["views"] == 2  # the 503 was in fact counted (and the warm-up view)
    retry = await _view(client, "evt-unknown-0001")  # the client retries with the same id, as the widget does
    assert (retry.status, await retry.json()) == (202, {"status": "duplicate"})
    assert (await _stats(client))["views"] == 2


async def test_a_retry_in_a_visitor_window_answers_the_first_status_and_counts_once(
    settings: Settings, eater: ReplyEater, aiohttp_client: Callable[..., Any], redis_url: str
) -> None:
    """Windows on, as by default: the window key, not a marker, dedupes the event it counted."""
    if not redis_url.startswith("unix://"):
        pytest.fail("this test puts its proxy in front of the suite's unix-socket redis-server")
    windowed = settings.model_copy(update={"view_per_visitor_s": 1800, "write_rate_per_visitor_min": 60})
    client = await _client(windowed, eater, aiohttp_client, retries=2)
    await put_article(client, "o2")
    for event_id, status in (("evt-window-0001", "accepted"), ("evt-window-0002", "repeat")):
        eater.eat_next_script_reply = True
        eaten = eater.eaten
        resp = await client.post("/v1/articles/o2/views", json={"event_id": event_id})
        assert (resp.status, await resp.json()) == (202, {"status": status})  # the first attempt's status
        assert eater.eaten > eaten  # the first attempt's reply really was lost
        again = await client.post("/v1/articles/o2/views", json={"event_id": event_id})  # a later call
        assert (again.status, await again.json()) == (202, {"status": "duplicate"})
    data = await (await client.get("/v1/articles/o2/stats")).json()
    assert data["views"] == 1
    assert data["repeat_views"] == 1
