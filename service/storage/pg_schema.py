"""PostgreSQL schema, versioned in code; migrated at start under an advisory lock."""

from __future__ import annotations

from .pg_pool import Conn

# pg_advisory_xact_lock key: processes starting at once migrate one after the other (any constant works;
# this one is "engagem" in ASCII, unlikely to clash with another application's locks on the same database)
MIGRATE_LOCK = 0x656E676167656D

# The same tables as the SQLite file (schema.py), in PostgreSQL types: times are epoch seconds, hours and
# days epoch hours and days, counts bigint. Counter tables leave room in each page (fillfactor) so adding
# to `n`, which no index covers, is a HOT update that rewrites no index entry.
MIGRATIONS: list[str] = [
    # 1: catalog, share codes, counters, unique visitors, the applied-batch ledger
    """
    CREATE TABLE articles (
        id text PRIMARY KEY,
        url text NOT NULL,
        title text NOT NULL,
        tags text NOT NULL,
        published_at bigint NOT NULL,
        section text,
        image_url text,
        summary text,
        status text NOT NULL DEFAULT 'published',
        updated_at bigint NOT NULL
    );
    CREATE INDEX articles_url ON articles(url);
    CREATE INDEX articles_published ON articles(published_at DESC, id);
    CREATE TABLE share_codes (
        code text PRIMARY KEY,
        article_id text NOT NULL,
        network text NOT NULL,
        UNIQUE (article_id, network)
    );
    CREATE TABLE counter_hourly (
        article_id text NOT NULL, metric text NOT NULL, network text NOT NULL,
        hour integer NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (article_id, metric, network, hour)
    ) WITH (fillfactor = 70);
    CREATE INDEX counter_hourly_hour ON counter_hourly(hour);
    CREATE TABLE counter_daily (
        article_id text NOT NULL, metric text NOT NULL, network text NOT NULL,
        day integer NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (article_id, metric, network, day)
    );
    CREATE TABLE counter_totals (
        article_id text NOT NULL, metric text NOT NULL, network text NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (article_id, metric, network)
    ) WITH (fillfactor = 70);
    CREATE TABLE unique_daily (
        article_id text NOT NULL, day integer NOT NULL, n bigint NOT NULL,
        PRIMARY KEY (article_id, day)
    );
    CREATE TABLE applied_batches (
        batch_id text PRIMARY KEY,
        applied_at bigint NOT NULL,
        fields integer NOT NULL,
        events bigint NOT NULL
    );
    CREATE INDEX applied_batches_at ON applied_batches(applied_at);
    """,
]


async def migrate(conn: Conn) -> int:
    """Apply the migrations the database lacks, all in one transaction under the lock; returns the version.

    Idempotent, and safe when several processes start at once: the first takes the lock and migrates,
    the others wait for it, then find the version current and change nothing.
    """
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM schema_version") or 0
        for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
            await conn.execute(sql)  # several statements: the simple query protocol runs them in order
            await conn.execute("INSERT INTO schema_version (version) VALUES ($1)", number)
    return len(MIGRATIONS)
