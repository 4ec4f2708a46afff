"""Trending latency: GET /v1/trending at 100,000 articles with activity in the last 7 days.

Fills a private Redis with hourly buckets as the ingest script writes them (views for every article,
shares and clicks for a fifth; activity skewed to fresh articles; 2% of the articles unpublished), then:
1. in-process: the cost of a cold ranking (closed hours summed, once per hour) and of a refresh;
2. the real service (subprocess) answering GET /v1/trending over every metric and window, paced
   (open loop) and then as fast as 8 clients can go, while views keep arriving through the API;
   prints client-side p50/p99/max.

    .venv/bin/python bench/trending_latency.py [--articles 100000] [--requests 30000] [--rate 1000] [--cache-s 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aioredis

from service.domain.trending import METRICS, WINDOWS
from service.domain.trending_cache import TrendingStore
from service.storage import keys, schema
from service.storage.embedded import EmbeddedRedis
from service.storage.sqlite_reports import SqliteAggregates
from service.storage.trending_store import HotReader

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
COMBOS = [(stored, w) for stored in METRICS.values() for w in WINDOWS]


def article_id(i: int) -> str:
    return f"bench-{i:06d}"


async def fill(redis: aioredis.Redis, n_articles: int, seed: int = 11) -> int:
    """Article hashes and hourly zsets; returns the number of (article, metric, hour) entries."""
    rng = random.Random(seed)
    current = int(time.time()) // 3600
    entries = 0
    pipe = redis.pipeline(transaction=False)
    for i in range(n_articles):
        a = article_id(i)
        shard = keys.shard_of(a)
        status = "unpublished" if i % 50 == 7 else "published"
        pipe.hset(keys.article(a), mapping={"id": a, "url": f"https://t4k3.news/{a}", "title": f"Story {i}",
                                            "status": status})
        start = current - rng.randrange(0, 169)  # published some time in the last 7 days
        life = min(int(rng.expovariate(1 / 8)) + 1, current - start + 1)
        popularity = rng.paretovariate(1.2)
        for h in range(start, start + life):
            n = max(1, int(popularity * 20 * 0.8 ** (h - start)))
            pipe.zincrby(keys.hot(shard, "view", h), n, a)
            entries += 1
            if i % 5 == 0:
                pipe.zincrby(keys.hot(shard, "share", h), max(1, n // 20), a)
                pipe.zincrby(keys.hot(shard, "click", h), max(1, n // 10), a)
                entries += 2
        if len(pipe) > 20_000:
            await pipe.execute()
    for shard in range(keys.SHARDS):
        pipe.set(keys.seeded(shard), "1")
    await pipe.execute()
    return entries


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def in_process(redis: aioredis.Redis, sqlite_path: Path) -> None:
    """Cold rankings (what each hour's first request pays) and warm refreshes."""
    db = await schema.connect(str(sqlite_path), 5000)
    store = TrendingStore(HotReader(redis, SqliteAggregates(db)), ttl_s=0.0)  # every refresh re-reads the live hours
    for metric, window in COMBOS:
        started = time.perf_counter()
        ranking = await store.refresh(metric, WINDOWS[window])
        cold = time.perf_counter() - started
        refreshes = []
        for _ in range(5):
            store.invalidate()
            started = time.perf_counter()
            await store.refresh(metric, WINDOWS[window])
            refreshes.append(time.perf_counter() - started)
        warm = statistics.median(refreshes) * 1000
        top = ranking.items[0].count if ranking.items else 0
        print(f"  {metric:5} {window:>3}: cold {cold * 1000:7.1f} ms, refresh {warm:5.1f} ms (top count {top})")
    await store.close()
    await db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_ready(base: str, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError("the service exited")
            try:
                async with http.get(base + "/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)  # polling until the service answers
    raise RuntimeError("the service did not become ready")


async def load(
    base: str, requests: int, concurrency: int, rate: float, ingest_rate: float, n_articles: int
) -> list[float]:
    latencies: list[float] = []
    done = asyncio.Event()
    async with aiohttp.ClientSession() as http:
        for metric, window in COMBOS:  # warm: the first request of each hour computes synchronously
            async with http.get(f"{base}/v1/trending", params={"metric": metric_name(metric), "window": window}) as r:
                assert r.status == 200, await r.text()

        async def one(rng: random.Random) -> None:
            metric, window = rng.choice(COMBOS)
            params = {"metric": metric_name(metric), "window": window, "limit": str(rng.choice((5, 10, 20)))}
            started = time.perf_counter()
            async with http.get(f"{base}/v1/trending", params=params) as resp:
                await resp.read()
                assert resp.status == 200
            latencies.append(time.perf_counter() - started)

        async def reader(w: int) -> None:
            """Closed loop: the next request as soon as the last answered."""
            rng = random.Random(w)
            for _ in range(requests // concurrency):
                await one(rng)

        async def paced(w: int) -> None:
            """Open loop: requests start on schedule (rate / concurrency per second each)."""
            rng = random.Random(w)
            interval = concurrency / rate
            start = time.perf_counter() + w * interval / concurrency
            for i in range(requests // concurrency):
                await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
                await one(rng)

        async def ingest() -> None:
            rng = random.Random(99)
            while not done.is_set():
                a = article_id(rng.randrange(n_articles))
                async with http.post(f"{base}/v1/articles/{a}/views", json={}, headers={"User-Agent": UA}) as resp:
                    await resp.read()
                await asyncio.sleep(1 / ingest_rate)

        feeder = asyncio.create_task(ingest()) if ingest_rate > 0 else None
        started = time.perf_counter()
        await asyncio.gather(*((paced(w) if rate else reader(w)) for w in range(concurrency)))
        elapsed = time.perf_counter() - started
        done.set()
        if feeder is not None:
            await feeder
    achieved = len(latencies) / elapsed
    print(f"  {len(latencies)} requests in {elapsed:.1f} s ({achieved:.0f}/s), concurrency {concurrency}")
    return latencies


def metric_name(stored: str) -> str:
    return next(public for public, s in METRICS.items() if s == stored)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=1000.0, help="requests/s (open loop); 0: as fast as possible")
    parser.add_argument("--cache-s", type=float, default=5.0, help="TRENDING_CACHE_S of the service")
    parser.add_argument("--ingest-rate", type=float, default=200.0, help="views/s sent meanwhile")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        embedded = EmbeddedRedis(work / "redis")
        url = await embedded.start()
        redis = aioredis.Redis.from_url(url, protocol=2)
        try:
            started = time.perf_counter()
            entries = await fill(redis, args.articles)
            print(f"filled {args.articles} articles, {entries} hourly entries in {time.perf_counter() - started:.1f} s")
            print("in-process ranking cost:")
            await in_process(redis, work / "inproc.sqlite3")
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            env = dict(os.environ, REDIS_URL=url, DATA_DIR=str(work / "data"), ADMIN_TOKEN="bench",
                       TRENDING_CACHE_S=str(args.cache_s), LOG_LEVEL="WARNING")
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "service", "serve", "--port", str(port),
                                                        env=env)
            try:
                await wait_ready(base, proc)
                for rate in dict.fromkeys((args.rate, 0.0)):
                    pace = f"{rate:.0f} requests/s" if rate else "as fast as possible"
                    print(f"service: GET /v1/trending, {pace}, TRENDING_CACHE_S={args.cache_s}, "
                          f"{args.ingest_rate:.0f} views/s meanwhile:")
                    lat = await load(base, args.requests, args.concurrency, rate, args.ingest_rate, args.articles)
                    print(f"  p50 {pct(lat, 0.5) * 1000:.2f} ms  p99 {pct(lat, 0.99) * 1000:.2f} ms  "
                          f"max {max(lat) * 1000:.2f} ms")
            finally:
                proc.terminate()
                await proc.wait()
        finally:
            await redis.aclose()
            await embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
