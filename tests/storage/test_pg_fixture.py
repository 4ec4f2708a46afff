"""The private PostgreSQL of the tests: it runs, as a non-root user, and each test's database is its own."""

from __future__ import annotations

import asyncpg

from tests.pg import PostgresServer, create_database


async def test_server_runs_unprivileged_and_databases_are_separate(pg_server: PostgresServer, pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute("CREATE TABLE mine (x int)")
        assert await conn.fetchval("SELECT current_setting('fsync')") == "off"
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        with open(f"/proc/{pid}/status") as status:  # while connected: the backend ends with its connection
            uid = next(line.split()[1] for line in status if line.startswith("Uid:"))
    finally:
        await conn.close()
    assert uid != "0"
    other = await asyncpg.connect(await create_database(pg_server))
    try:
        assert await other.fetchval("SELECT to_regclass('mine')") is None
    finally:
        await other.close()
