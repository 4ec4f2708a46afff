"""SQLite schema, versioned in code (PRAGMA user_version)."""

from __future__ import annotations

import aiosqlite

MIGRATIONS: list[str] = [
    # 1: catalog, share codes, counters, unique visitors, the applied-batch ledger
    """
    CREATE TABLE articles (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        title TEXT NOT NULL,
        tags TEXT NOT NULL,
        published_at INTEGER NOT NULL,
        section TEXT,
        image_url TEXT,
        summary TEXT,
        status TEXT NOT NULL DEFAULT 'published',
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX articles_url ON articles(url);
    CREATE TABLE share_codes (
        code TEXT PRIMARY KEY,
        article_id TEXT NOT NULL,
        network TEXT NOT NULL,
        UNIQUE (article_id, network)
    );
    CREATE TABLE counter_hourly (
        article_id TEXT NOT NULL, metric TEXT NOT NULL, network TEXT NOT NULL,
        hour INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (article_id, metric, network, hour)
    ) WITHOUT ROWID;
    CREATE INDEX counter_hourly_hour ON counter_hourly(hour);
    CREATE TABLE counter_daily (
        article_id TEXT NOT NULL, metric TEXT NOT NULL, network TEXT NOT NULL,
        day INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (article_id, metric, network, day)
    ) WITHOUT ROWID;
    CREATE TABLE counter_totals (
        article_id TEXT NOT NULL, metric TEXT NOT NULL, network TEXT NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (article_id, metric, network)
    ) WITHOUT ROWID;
    CREATE TABLE unique_daily (
        article_id TEXT NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL,
        PRIMARY KEY (article_id, day)
    ) WITHOUT ROWID;
    CREATE TABLE applied_batches (
        batch_id TEXT PRIMARY KEY,
        applied_at INTEGER NOT NULL,
        fields INTEGER NOT NULL,
        events INTEGER NOT NULL
    );
    CREATE INDEX applied_batches_at ON applied_batches(applied_at);
    """,
]


async def migrate(db: aiosqlite.Connection) -> int:
    """Apply the migrations this file has and the database lacks; returns the version."""
    async with db.execute("PRAGMA user_version") as cur:
        row = await cur.fetchone()
    version = int(row[0]) if row else 0
    for number, sql in enumerate(MIGRATIONS[version:], start=version + 1):
        await db.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number}")
            await db.commit()
        except BaseException:
            await db.rollback()
            raise
    return len(MIGRATIONS)


async def connect(path: str, busy_timeout_ms: int) -> aiosqlite.Connection:
    """The process' one long-lived connection: WAL, synchronous FULL, busy timeout."""
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode=WAL")
    await db.execute("PRAGMA synchronous=FULL")
    await db.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    await db.execute("PRAGMA foreign_keys=ON")
    await db.execute("PRAGMA temp_store=MEMORY")
    await migrate(db)
    return db
