"""PostgreSQL slow or away: requests answer 503 with Retry-After within the bound, flushes retry, /readyz says so."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from tests.conftest import AUTH, BROWSER_UA, article_body, put_article
from tests.flush.helpers import durable_totals, ledger_ids
from tests.pg import PostgresServer

BOUND_S = 0.5


@pytest.fixture
def pg_settings(settings: Settings, pg_url: str) -> Settings:
    return settings.model_copy(update={
        "database_url": SecretStr(pg_url), "database_timeout_s": BOUND_S, "database_flush_timeout_s": BOUND_S,
    })


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A second, real connection: it takes table locks the app's calls then wait behind."""
    conn = await asyncpg.connect(pg_url)
    yield conn
    await conn.close()


async def _lock(conn: asyncpg.Connection, table: str) -> Any:
    tx = conn.transaction()
    await tx.start()
    await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return tx


async def test_a_locked_table_answers_503_within_the_bound(
    pg_settings: Settings, admin: asyncpg.Connection, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(pg_settings, flusher=False))
    await put_article(client, "p1")
    tx = await _lock(admin, "articles")
    started = time.monotonic()
    resp = await client.put("/v1/articles/p2", json=article_body(), headers=AUTH)
    seconds = time.monotonic() - started
    assert resp.status == 503, await resp.text()
    assert resp.headers["Retry-After"] == "1"
    assert (await resp.json())["error"]["code"] == "unavailable"
    assert seconds < BOUND_S + 3
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["checks"] == {"redis": "ok", "postgres": "ok"}
    await tx.rollback()
    assert (await client.get("/v1/articles/p2", headers=AUTH)).status == 404, "nothing was written"
    await put_article(client, "p2")


async def test_a_flush_that_times_out_is_retried_and_counts_once(
    pg_settings: Settings, admin: asyncpg.Connection, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(pg_settings, flusher=False))
    await put_article(client, "p1")
    for i in range(7):
        resp = await client.post("/v1/articles/p1/views", json={"event_id": f"pg-fault-{i:04d}"},
                                 headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202
    flusher = client.app[K.FLUSHER]
    tx = await _lock(admin, "counter_totals")
    try:
        assert await flusher.flush_logged() is None
        assert flusher.state.failures == 1 and "Unavailable" in (flusher.state.last_error or "")
        assert (await flusher.batches.pending_count())[0] == 1  # sealed, kept for the next flush
    finally:
        await tx.rollback()
    report = await flusher.flush_once()
    assert report.events == 7
    assert await durable_totals(pg_settings) == {("p1", "view", ""): 7}
    assert len(await ledger_ids(pg_settings)) == 1


async def test_readyz_reports_postgres_away_and_back(
    pg_settings: Settings, pg_server: PostgresServer, aiohttp_client: Any
) -> None:
    client = await aiohttp_client(create_app(pg_settings, flusher=False))
    name = pg_settings.database_url.get_secret_value().split("/")[3].split("?")[0] if pg_settings.database_url else ""
    admin = await asyncpg.connect(pg_server.url())  # on another database: its own cannot be closed to it
    await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
    try:
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        body = await resp.json()
        assert body["checks"]["redis"] == "ok" and body["checks"]["postgres"] != "ok"
        put = await client.put("/v1/articles/p9", json=article_body(), headers=AUTH)
        assert put.status == 503, await put.text()
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    deadline = time.monotonic() + 20
    while (resp := await client.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, await resp.text()
    await put_article(client, "p9")
