"""A locked or read-only SQLite: admin writes and the export answer 503 with Retry-After, /readyz stays bounded."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.api.errors import status_of
from service.app import create_app
from service.config import Settings
from service.domain.errors import Unavailable
from service.storage.sqlite_store import unavailable
from tests.conftest import AUTH, BROWSER_UA, article_body, put_article

BUSY_MS = 2500  # the app's busy timeout: how long a write waits for the lock before it gives up


@pytest.fixture
def locked_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sqlite_busy_timeout_ms": BUSY_MS})


@pytest.fixture
def exclusive(locked_settings: Settings) -> Iterator[Callable[[], sqlite3.Connection]]:
    """A second, real sqlite3 connection that takes the write lock with BEGIN EXCLUSIVE when called."""
    held: list[sqlite3.Connection] = []

    def lock() -> sqlite3.Connection:
        db = sqlite3.connect(locked_settings.sqlite_path, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        held.append(db)
        return db

    yield lock
    for db in held:
        db.rollback()
        db.close()


async def _timed(call: Any) -> tuple[float, Any]:
    started = time.monotonic()
    resp = await call
    await resp.read()
    return time.monotonic() - started, resp


async def test_locked_database_answers_503_and_readyz_does_not_wait_behind_it(
    locked_settings: Settings, exclusive: Callable[[], sqlite3.Connection], aiohttp_client: Callable[..., Any]
) -> None:
    client = await aiohttp_client(create_app(locked_settings, flusher=False))
    await put_article(client, "l1")
    person = {"User-Agent": BROWSER_UA}
    view = await client.post("/v1/articles/l1/views", json={"event_id": "evt-locked-01"}, headers=person)
    assert view.status == 202
    exclusive()
    put = asyncio.ensure_future(_timed(client.put("/v1/articles/l2", json=article_body(), headers=AUTH)))
    export = asyncio.ensure_future(_timed(client.get("/v1/export/articles.csv", headers=AUTH)))
    probes = 0
    while not (put.done() and export.done()):  # readiness, probed all the while the writes wait on the lock
        ready_s, ready = await _timed(client.get("/readyz"))
        assert ready.status == 200, await ready.text()
        assert ready_s < 1.5, f"/readyz waited {ready_s:.2f} s behind a write"
        probes += 1
    assert probes >= 3
    for seconds, resp in (await put, await export):
        assert resp.status == 503, await resp.text()
        assert resp.headers["Retry-After"] == "1"
        error = (await resp.json())["error"]
        assert error["code"] == "unavailable"
        assert "locked" in error["details"]
        assert seconds < BUSY_MS / 1000 + 5
    assert (await client.get("/v1/articles/l2", headers=AUTH)).status == 404, "nothing was written"


async def test_lock_released_writes_work_again(
    locked_settings: Settings, exclusive: Callable[[], sqlite3.Connection], aiohttp_client: Callable[..., Any]
) -> None:
    quick = locked_settings.model_copy(update={"sqlite_busy_timeout_ms": 100})
    client = await aiohttp_client(create_app(quick, flusher=False))
    db = exclusive()
    resp = await client.put("/v1/articles/l3", json=article_body(), headers=AUTH)
    assert resp.status == 503
    db.rollback()
    await put_article(client, "l3")
    resp = await client.delete("/v1/articles/l3", headers=AUTH)
    assert resp.status in (200, 204), await resp.text()


def test_a_read_only_database_is_an_outage_not_a_bug(tmp_path: Path) -> None:
    path = tmp_path / "ro.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    ro = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    with pytest.raises(sqlite3.OperationalError) as raised:
        ro.execute("INSERT INTO t VALUES (1)")
    ro.close()
    error = unavailable(raised.value)
    assert isinstance(error, Unavailable) and status_of(error) == 503
    assert "readonly" in error.details
    assert unavailable(sqlite3.OperationalError("no such table: t")) is None, "a bug stays a bug (500)"
