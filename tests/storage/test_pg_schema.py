"""The PostgreSQL schema is created on start, once, however many processes start at once."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
import pytest

from service.storage import pg_schema
from service.storage.pg_durable import PgDurable
from service.storage.pg_pool import redacted


async def test_concurrent_starts_migrate_once(pg_url: str) -> None:
    opened = await asyncio.gather(*(PgDurable.open(pg_url, 5.0, 30.0, 2) for _ in range(6)))
    try:
        versions = await opened[0].pool.fetch("SELECT version FROM schema_version")
        assert [r[0] for r in versions] == list(range(1, len(pg_schema.MIGRATIONS) + 1))
        assert await opened[0].store.count_articles() == 0
    finally:
        for durable in opened:
            await durable.close()
    again = await PgDurable.open(pg_url, 5.0, 30.0, 1)  # a restart: nothing to do, nothing changed
    try:
        assert await again.pool.fetchval("SELECT count(*) FROM schema_version") == len(pg_schema.MIGRATIONS)
    finally:
        await again.close()


async def test_the_password_never_reaches_the_log(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with_password = pg_url.replace("postgres@", "postgres:s3cret-pw@")  # trust auth ignores it
    caplog.set_level(logging.INFO)
    durable = await PgDurable.open(with_password, 5.0, 30.0, 1)
    await durable.close()
    assert "durable store: postgres at" in caplog.text
    assert "s3cret-pw" not in caplog.text
    assert redacted("postgresql://u:pw@db.example:5433/x") == "postgresql://u:***@db.example:5433/x"
    assert redacted("postgresql://u@db/x") == "postgresql://u@db/x"


async def test_a_bad_url_fails_at_start(pg_url: str) -> None:
    with pytest.raises((asyncpg.InvalidCatalogNameError, OSError)):
        await PgDurable.open(pg_url.replace("/t_", "/missing_"), 5.0, 30.0, 1)
