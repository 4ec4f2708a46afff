"""Flush throughput: 1,000,000 pending counter deltas over 100,000 articles, against the raw SQLite ceiling.

Phase 1 flushes in-process and prints fields/s next to a plain sqlite3 executemany upsert of the same rows.
Phase 2 starts the real service (subprocess), fills Redis again, and measures the view beacon's latency
while the service's own background flush drains it.

    .venv/bin/python bench/flush_bench.py [--fields 1000000] [--articles 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys, schema
from service.storage.embedded import EmbeddedRedis

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
METRICS = [("view", ""), ("share", "facebook"), ("share", "x"), ("click", "facebook"), ("click", "x")]


def make_fields(n_fields: int, n_articles: int) -> list[tuple[str, str, str, int]]:
    now_hour = int(time.time()) // 3600
    per_article = max(1, n_fields // n_articles)
    rows = []
    for a in range(n_articles):
        article_id = f"bench-{a:07d}"
        for j in range(per_article):
            metric, network = METRICS[j % len(METRICS)]
            rows.append((article_id, metric, network, now_hour - j // len(METRICS)))
    return list(dict.fromkeys(rows))[:n_fields]


async def fill(redis: aioredis.Redis, rows: list[tuple[str, str, str, int]]) -> None:
    """HINCRBY every field into its shard's live delta hash, pipelined."""
    for start in range(0, len(rows), 20_000):
        async with redis.pipeline(transaction=False) as pipe:
            for a, m, net, hour in rows[start : start + 20_000]:
                pipe.hincrby(keys.delta(keys.shard_of(a)), f"{a}\t{m}\t{net}\t{hour}", 3)
            await pipe.execute()
    async with redis.pipeline(transaction=False) as pipe:
        for shard in range(keys.SHARDS):
            pipe.set(keys.seeded(shard), "1")
        await pipe.execute()


async def live_fields(redis: aioredis.Redis) -> int:
    return sum([await redis.hlen(keys.delta(s)) for s in range(keys.SHARDS)])


def sqlite_ceiling(path: Path, rows: list[tuple[str, str, str, int]]) -> float:
    """Seconds for a plain sqlite3 upsert of the same hourly and total rows in one transaction."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(schema.MIGRATIONS[0])
    started = time.perf_counter()
    db.execute("BEGIN IMMEDIATE")
    db.executemany(
        "INSERT INTO counter_hourly (article_id, metric, network, hour, n) VALUES (?,?,?,?,3) "
        "ON CONFLICT (article_id, metric, network, hour) DO UPDATE SET n = n + excluded.n", rows)
    totals: dict[tuple[str, str, str], int] = {}
    for a, m, net, _h in rows:
        totals[(a, m, net)] = totals.get((a, m, net), 0) + 3
    db.executemany(
        "INSERT INTO counter_totals (article_id, metric, network, n) VALUES (?,?,?,?) "
        "ON CONFLICT (article_id, metric, network) DO UPDATE SET n = n + excluded.n",
        [(*k, n) for k, n in totals.items()])
    db.execute("COMMIT")
    took = time.perf_counter() - started
    db.close()
    return took


async def phase_one(work: Path, rows: list[tuple[str, str, str, int]]) -> None:
    embedded = EmbeddedRedis(work / "redis1")
    url = await embedded.start()
    try:
        settings = Settings(redis_url=url, data_dir=work / "data1", admin_token="bench", log_format="text")
        app = create_app(settings, flusher=False)
        runner = web.AppRunner(app)
        await runner.setup()
        try:
            t0 = time.perf_counter()
            await fill(app[K.REDIS], rows)
            print(f"filled {len(rows):,} delta fields over {len({r[0] for r in rows}):,} articles "
                  f"in {time.perf_counter() - t0:.1f}s")
            started = time.perf_counter()
            report = await app[K.FLUSHER].flush_once()
            took = time.perf_counter() - started
        finally:
            await runner.cleanup()
    finally:
        await embedded.stop()
    ceiling = sqlite_ceiling(work / "ceiling.sqlite3", rows)
    rate = report.rows / took
    print(f"flush: {report.rows:,} fields, {report.events:,} events in {took:.2f}s = {rate:,.0f} fields/s")
    print(f"raw sqlite3 upsert of the same rows: {ceiling:.2f}s = {len(rows) / ceiling:,.0f} rows/s (ceiling)")
    print(f"flush / ceiling = {(len(rows) / ceiling and (report.rows / took) / (len(rows) / ceiling)):.2f} "
          f"(target >= 0.5)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def phase_two(work: Path, rows: list[tuple[str, str, str, int]], concurrency: int) -> None:
    embedded = EmbeddedRedis(work / "redis2")
    url = await embedded.start()
    port = free_port()
    env = dict(os.environ, REDIS_URL=url, DATA_DIR=str(work / "data2"), ADMIN_TOKEN="bench", FLUSH_INTERVAL_S="2",
               LOG_FORMAT="text", LOG_LEVEL="WARNING")
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "service", "serve", "--port", str(port),
                                                env=env)
    base = f"http://127.0.0.1:{port}"
    redis = aioredis.Redis.from_url(url)
    latencies: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(300):
                try:
                    async with session.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            async with session.put(f"{base}/v1/articles/beacon", headers={"Authorization": "Bearer bench"}, json={
                "url": "https://t4k3.news/b", "title": "b", "tags": ["x"], "published_at": "2026-11-01T00:00:00Z"}):
                pass
            await fill(redis, rows)
            stop = asyncio.Event()

            async def worker(w: int) -> None:
                i = 0
                while not stop.is_set():
                    i += 1
                    t = time.perf_counter()
                    async with session.post(f"{base}/v1/articles/beacon/views", data=f'{{"event_id":"b-{w}-{i:09d}"}}',
                                            headers={"User-Agent": UA, "Content-Type": "text/plain"}) as resp:
                        await resp.read()
                    latencies.append(time.perf_counter() - t)

            tasks = [asyncio.create_task(worker(w)) for w in range(concurrency)]
            started = time.perf_counter()
            while await live_fields(redis) > 10 or sum([await redis.scard(keys.pending(s)) for s in range(16)]):
                await asyncio.sleep(0.2)
            drained = time.perf_counter() - started
            stop.set()
            await asyncio.gather(*tasks)
    finally:
        proc.terminate()
        await proc.wait()
        await redis.aclose()
        await embedded.stop()
    q = statistics.quantiles(latencies, n=100)
    print(f"beacon during the service's flush ({drained:.1f}s to drain, {len(latencies):,} requests, "
          f"{concurrency} connections): p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms (target p99 < 50 ms)")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fields", type=int, default=1_000_000)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    rows = make_fields(args.fields, args.articles)
    with tempfile.TemporaryDirectory(prefix="flush-bench-") as tmp:
        await phase_one(Path(tmp), rows)
        await phase_two(Path(tmp), rows, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
