"""Related news at scale: import a synthetic catalog into a private redis-server, then time the read path.

    .venv/bin/python bench/related_latency.py 100000 1000000

Per size it prints the import time (catalog writes through `Catalog.bulk` in batches of 1000, as the
CLI import does, then the queued list builds), Redis memory, p50/p99 of the related read path
(`RelatedService.related`, limit 8) cold (first read of an article in this process: two round trips),
warm (answer cache expired, candidate ids known: one round trip) and cached, and publish-to-visible
(PUT of a follow-up until it is listed under the older story).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from aiohttp import web
from gen_catalog import article_id, articles  # bench/ is on sys.path when this runs as a script
from memory_by_family import measure, render

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.domain.related_service import RelatedService
from service.storage import keys
from service.storage.embedded import find_redis_server


def start_redis(directory: Path) -> subprocess.Popen[bytes]:
    """A redis-server on a unix socket, no persistence; returns once it answers."""
    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--dir", str(directory),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(sock))
    for _ in range(1000):
        try:
            if client.ping():
                return proc
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.02)  # polling until the server answers
    proc.kill()
    raise RuntimeError("redis-server did not start")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def line(name: str, values: list[float]) -> str:
    worst = max(values) * 1000
    return f"  {name:<26} p50 {pct(values, 0.5):7.2f} ms   p99 {pct(values, 0.99):7.2f} ms   max {worst:7.2f} ms"


def progress(label: str, done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    sys.stderr.write(f"\r  {label}: {done}/{total} ({rate:,.0f}/s)   ")
    sys.stderr.flush()


async def import_catalog(app: web.Application, n: int, now: int) -> tuple[float, float]:
    """(seconds for the catalog writes, seconds for the queued list builds)."""
    catalog, service = app[K.CATALOG], app[K.RELATED]
    started = time.perf_counter()
    batch: list[dict[str, Any]] = []
    done = 0
    for item in articles(n, now=now):
        batch.append(item)
        if len(batch) == 1000:
            results = await catalog.bulk(batch)
            assert all(r.outcome != "rejected" for r in results)
            done += len(batch)
            batch = []
            progress("import", done, n, started)
    if batch:
        await catalog.bulk(batch)
    imported = time.perf_counter() - started
    started = time.perf_counter()
    total = await service.index.pending_count()
    while await service.indexer.build_pending(20_000):
        progress("build lists", total - await service.index.pending_count(), total, started)
    sys.stderr.write("\n")
    return imported, time.perf_counter() - started


async def timed(samples: list[str], call: Callable[[str], Awaitable[Any]]) -> list[float]:
    out = []
    for article in samples:
        t0 = time.perf_counter()
        await call(article)
        out.append(time.perf_counter() - t0)
    return out


async def latencies(service: RelatedService, n: int, count: int, rng: random.Random) -> dict[str, list[float]]:
    samples = [article_id(i) for i in rng.sample(range(n), count)]
    ttl = service.cache.ttl_s
    service.cache.ttl_s = 0  # answers are not kept: every read goes to Redis
    cold = await timed(samples, lambda a: service.related(a, 8))
    warm = await timed(samples, lambda a: service.related(a, 8))
    service.cache.ttl_s = ttl
    await timed(samples, lambda a: service.related(a, 8))
    cached = await timed(samples, lambda a: service.related(a, 8))
    return {"cold (2 round trips)": cold, "warm (1 round trip)": warm, "cached answer": cached}


async def publish_to_visible(app: web.Application, n: int, count: int, rng: random.Random) -> dict[str, list[float]]:
    """PUT a follow-up of an older story (its tags plus one new) and read the story's list until it shows."""
    catalog, service = app[K.CATALOG], app[K.RELATED]
    puts, visible, missed = [], [], 0
    idf = service.indexer.idf()
    for k in range(count):
        while True:
            story = article_id(rng.randrange(n))
            doc = (await service.index.pool_state([story.encode()]))[story.encode()].doc
            rare = doc is not None and any(not idf.common(t, service.config.rules) for t in doc.tags)
            if doc is not None and rare and doc.published_at < time.time() - 86_400:
                break
        # the story's tags but its most common one, plus a new one: related, not a near-duplicate
        kept = sorted(doc.tags, key=idf.weight)[1:] if len(doc.tags) > 2 else list(doc.tags)
        meta = (await service.index.metadata([story]))[story]
        assert meta is not None
        body = {"url": f"https://t4k3.news/follow-{k}", "title": f"Follow-up: {meta.title}",
                "tags": [*kept, f"followup-{k}"],
                "published_at": datetime.fromtimestamp(doc.published_at + 3600, UTC).isoformat()}
        t0 = time.perf_counter()
        await catalog.put(f"follow-{k}", catalog.parse(body))
        puts.append(time.perf_counter() - t0)
        while time.perf_counter() - t0 < 2.0:
            listed = await service.related(story, 8)
            if any(item.article_id == f"follow-{k}" for item in listed.related):
                visible.append(time.perf_counter() - t0)
                break
        else:
            missed += 1
    print(f"  follow-ups listed in the top 8 within 2 s: {len(visible)}/{count}")
    return {"PUT (SQLite+Redis+lists)": puts, "PUT -> listed": visible}


async def memory(app: web.Application, n: int, rng: random.Random) -> None:
    client: aioredis.Redis = app[K.REDIS]
    info = await client.info("memory")
    used, rss = info["used_memory"] / 2**20, info["used_memory_rss"] / 2**20
    print(f"  redis used_memory {used:,.0f} MiB (rss {rss:,.0f} MiB)")
    tag_bytes = term_bytes = 0
    async for key in client.scan_iter(match=f"{keys.PREFIX}:rel:tag:*", count=1000):
        tag_bytes += await client.memory_usage(key) or 0
    async for key in client.scan_iter(match=f"{keys.PREFIX}:rel:term:*", count=1000):
        term_bytes += await client.memory_usage(key) or 0
    shards = range(keys.SHARDS)
    docs = sum([await client.memory_usage(keys.related_docs(s), samples=0) or 0 for s in shards])
    built = sum([await client.memory_usage(keys.related_built(s), samples=0) or 0 for s in shards])
    sample = [article_id(i) for i in rng.sample(range(n), 2000)]
    lists = statistics.mean([await client.memory_usage(keys.related_candidates(a)) or 0 for a in sample]) * n
    extra = sum([await client.memory_usage(k) or 0 for k in (keys.related_df(), keys.related_recent(),
                                                               keys.related_term_df())])
    total = tag_bytes + term_bytes + docs + built + lists + extra
    print(f"  related index ~{total / 2**20:,.0f} MiB: tag postings {tag_bytes / 2**20:,.0f}, term postings "
          f"{term_bytes / 2**20:,.0f}, candidate lists "
          f"{lists / 2**20:,.0f}, docs {docs / 2**20:,.0f}, built {built / 2**20:,.0f}, df+tdf+recent "
          f"{extra / 2**20:,.1f}")


@contextlib.asynccontextmanager
async def private_app(prefix: str) -> AsyncIterator[web.Application]:
    """The started app (no flusher) on a private redis-server and SQLite file in a temporary directory."""
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    proc = start_redis(directory)
    settings = Settings(redis_url=f"unix://{directory / 'redis.sock'}", data_dir=directory / "data",
                        admin_token="bench", log_format="text", log_level="WARNING")
    app = create_app(settings, flusher=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app
    finally:
        await runner.cleanup()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(directory, ignore_errors=True)


async def run(n: int, samples: int, follow_ups: int) -> None:
    print(f"== {n:,} articles")
    rng = random.Random(7)
    async with private_app("related-bench-") as app:
        imported, built = await import_catalog(app, n, int(time.time()))
        print(f"  import: catalog {imported:,.0f} s ({n / imported:,.0f}/s), lists {built:,.0f} s "
              f"({n / built:,.0f}/s), total {imported + built:,.0f} s")
        await memory(app, n, rng)
        print(render(await measure(app[K.REDIS], n)))
        for name, values in (await latencies(app[K.RELATED], n, samples, rng)).items():
            print(line(name, values))
        for name, values in (await publish_to_visible(app, n, follow_ups, rng)).items():
            print(line(name, values))


def main() -> None:
    parser = argparse.ArgumentParser(description="related news latency at scale")
    parser.add_argument("sizes", type=int, nargs="*", help="catalog sizes, e.g. 100000 1000000")
    parser.add_argument("--articles", type=int, nargs="+", default=[], help="the same as the sizes")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--follow-ups", type=int, default=50)
    args = parser.parse_args()
    for n in [*args.sizes, *args.articles] or [100_000]:
        asyncio.run(run(n, args.samples, args.follow_ups))


if __name__ == "__main__":
    main()
