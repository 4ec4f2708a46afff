"""PostgreSQL calls, each bounded in time, with an outage raised as StorageUnavailable (503)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from ..outages import StorageUnavailable as Unavailable

if TYPE_CHECKING:  # generic in the stubs only
    from asyncpg.pool import PoolConnectionProxy

    Conn: TypeAlias = PoolConnectionProxy[asyncpg.Record]  # a pooled connection
else:
    Conn = object

# What a database that cannot serve now raises: unreachable or restarting, out of connections or disk,
# shut down by an operator, a read-only standby, a transaction rolled back for a deadlock or conflict.
OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.TransactionRollbackError,
)


def redacted(url: str) -> str:
    """The URL without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextlib.contextmanager
def outages_unavailable() -> Iterator[None]:
    """Raise PostgreSQL outages in the block as Unavailable; a bug (bad SQL, a constraint) stays itself."""
    try:
        yield
    except OUTAGES as exc:
        message = "the database is unavailable right now; nothing was changed, retry later"
        raise Unavailable(message, type(exc).__name__) from exc


class PgPool:
    """A pool of connections; every call here is bounded by `timeout_s`."""

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self.pool = pool
        self.timeout_s = timeout_s

    async def _acquire(self) -> Conn:
        """A pooled connection; any error connecting (refused, database closed to connections, auth) is an outage."""
        try:
            return await self.pool.acquire()
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise Unavailable("the database refuses connections right now; retry later", type(exc).__name__) from exc

    @contextlib.asynccontextmanager
    async def connection(self, timeout_s: float | None = None) -> AsyncIterator[Conn]:
        """A connection for the block; the whole block is bounded."""
        with outages_unavailable():
            async with asyncio.timeout(timeout_s or self.timeout_s):
                conn = await self._acquire()
                try:
                    yield conn
                finally:
                    await self.pool.release(conn)

    @contextlib.asynccontextmanager
    async def streaming(self) -> AsyncIterator[Conn]:
        """A connection whose acquiring is bounded, not the block: the caller bounds each fetch."""
        with outages_unavailable():
            async with asyncio.timeout(self.timeout_s):
                conn = await self._acquire()
        try:
            yield conn
        finally:
            await self.pool.release(conn, timeout=self.timeout_s)

    @contextlib.asynccontextmanager
    async def transaction(self, timeout_s: float | None = None) -> AsyncIterator[Conn]:
        """A connection in one transaction: committed when the block ends, rolled back when it raises."""
        async with self.connection(timeout_s) as conn, conn.transaction():
            yield conn

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.connection() as conn:
            return list(await conn.fetch(sql, *args))

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        async with self.connection() as conn:
            return await conn.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        async with self.connection() as conn:
            return await conn.fetchval(sql, *args)

    async def execute(self, sql: str, *args: Any) -> str:
        async with self.connection() as conn:
            return str(await conn.execute(sql, *args))

    async def close(self) -> None:
        """Close gracefully within the bound, else drop the connections."""
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.pool.close()
        except TimeoutError:
            self.pool.terminate()


def rowcount(status: str) -> int:
    """The row count of a command status such as 'DELETE 3' or 'UPDATE 0'."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0
