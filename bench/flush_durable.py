"""Flush throughput into each durable store: the same pending deltas flushed into SQLite and into PostgreSQL.

PostgreSQL is a private server started here from Debian's binaries (tests/pg.py: temp dir, unix socket,
fsync off, so this compares the adapters' work, not the disks). Prints fields/s per store.

    .venv/bin/python bench/flush_durable.py [--fields 200000] [--articles 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web
from flush_bench import fill, make_fields
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg, the fixtures' private PostgreSQL

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage.embedded import EmbeddedRedis
from tests.pg import PostgresServer, create_database


async def flush_into(settings: Settings, rows: list[tuple[str, str, str, int]]) -> tuple[int, float]:
    """(fields applied, seconds of the flush) for rows filled into Redis, then flushed once."""
    app = create_app(settings, flusher=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await app[K.REDIS].flushall()
        await fill(app[K.REDIS], rows)
        started = time.perf_counter()
        report = await app[K.FLUSHER].flush_once()
        return report.rows, time.perf_counter() - started
    finally:
        await runner.cleanup()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fields", type=int, default=200_000)
    parser.add_argument("--articles", type=int, default=20_000)
    args = parser.parse_args()
    rows = make_fields(args.fields, args.articles)
    pg = PostgresServer()
    pg.start()
    with tempfile.TemporaryDirectory(prefix="flush-durable-") as tmp:
        embedded = EmbeddedRedis(Path(tmp) / "redis")
        url = await embedded.start()
        try:
            base = Settings(redis_url=url, data_dir=Path(tmp) / "data", admin_token="bench", log_format="text")
            stores = {
                "sqlite": base,
                "postgres": base.model_copy(update={"database_url": SecretStr(await create_database(pg))}),
            }
            for name, settings in stores.items():
                for run in ("first", "again"):  # again: every row an update of an existing one
                    fields, seconds = await flush_into(settings, rows)
                    print(f"{name:8} {run}: {fields:,} fields in {seconds:.2f}s = {fields / seconds:,.0f} fields/s")
        finally:
            await embedded.stop()
            pg.stop()


if __name__ == "__main__":
    asyncio.run(main())
