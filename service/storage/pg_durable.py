"""The shared durable store: PostgreSQL at DATABASE_URL, one truth for every host."""

from __future__ import annotations

import logging

import asyncpg

from . import pg_schema
from .durable import Hook
from .pg_counters import PgCounters
from .pg_pool import PgPool, outages_unavailable, redacted
from .pg_reports import PgAggregates, PgReports
from .pg_store import PgStore

log = logging.getLogger(__name__)


class PgDurable:
    """A connection pool and the store's parts over it."""

    kind = "postgres"

    def __init__(self, pool: PgPool, flush_timeout_s: float) -> None:
        self.pool = pool
        self.flush_timeout_s = flush_timeout_s
        self.store = PgStore(pool)
        self.reports = PgReports(pool)
        self.aggregates = PgAggregates(pool)

    @classmethod
    async def open(cls, url: str, timeout_s: float, flush_timeout_s: float, pool_size: int) -> PgDurable:
        """Connect a pool (every statement bounded by the flush bound at most) and migrate the schema."""
        with outages_unavailable():
            pool = await asyncpg.create_pool(
                url, min_size=1, max_size=pool_size, timeout=timeout_s,
                command_timeout=max(timeout_s, flush_timeout_s),
            )
        bounded = PgPool(pool, timeout_s)
        try:
            async with bounded.connection(flush_timeout_s) as conn:
                version = await pg_schema.migrate(conn)
        except BaseException:
            await bounded.close()
            raise
        log.info("durable store: postgres at %s, schema version %d", redacted(url), version)
        return cls(bounded, flush_timeout_s)

    def counters(self, hook: Hook) -> PgCounters:
        return PgCounters(self.pool, self.flush_timeout_s, hook)

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    async def close(self) -> None:
        await self.pool.close()
