"""Redis CPU per counted view, at group-commit batch sizes 1, 16 and 256 (issue 14 item 5).

    .venv/bin/python bench/redis_cpu.py                      # private redis-server, one hot article and 500
    .venv/bin/python bench/redis_cpu.py --views 20000 --batches 16 --articles 1
    .venv/bin/python bench/redis_cpu.py --no-link                 # ingest through redis-py, as on a cluster
    .venv/bin/python bench/redis_cpu.py --redis-url redis://127.0.0.1:7000   # a cluster node: CPU of all primaries

Views go through `RedisCounters` as the view beacon sends them: a client event id (marker 24 h), a new
visitor each (its HLL entry, its per-visitor window and rate-limit keys, the defaults' 1800 s and 60/min),
over the link when the URL allows one. Each batch is one shard's events, queued together so the drain takes
exactly `batch` of them. Per setting it prints the server's CPU (INFO used_cpu_sys + used_cpu_user, the
whole server: parsing, scripts, replies) and the scripts' own time (INFO commandstats, cmdstat_evalsha
usec), both per counted view. Redis is the embedded default (unix socket, AOF everysec) unless --redis-url.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from service.config import Settings
from service.storage import keys
from service.storage.embedded import EmbeddedRedis
from service.storage.redis_client import connect, make_link
from service.storage.redis_cluster import Client, Cluster, pipeline
from service.storage.redis_counters import Event, RedisCounters

HOUR_S, DAY_S = 3600, 86400


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def views(articles: list[str], n: int, run: str, now: int) -> dict[int, list[Event]]:
    """`n` views spread round-robin over `articles`, each from a new visitor, grouped by shard."""
    out: dict[int, list[Event]] = {}
    for i in range(n):
        a = articles[i % len(articles)]
        visitor = _hash(f"{run}-visitor-{i}")
        ev = Event(a, "view", "", now // HOUR_S, f"c:view:{run}-{i:09d}", 86_400, visitor, now // DAY_S,
                   _hash(f"limiter-{visitor}"), 1800, 60, now // 60)
        out.setdefault(keys.shard_of(a), []).append(ev)
    return out


async def seed(client: Client, articles: list[str]) -> None:
    async with pipeline(client) as pipe:
        for a in articles:
            pipe.hset(keys.article(a), mapping={"status": "published", "url": f"https://t4k3.news/{a}", "title": a})
        await pipe.execute()


async def cpu(client: Client) -> tuple[float, float]:
    """(server CPU seconds, EVALSHA microseconds) so far, summed over a cluster's primaries."""
    if isinstance(client, Cluster):
        infos = list((await client.on_primaries("INFO", "cpu")).values())
        stats = list((await client.on_primaries("INFO", "commandstats")).values())
    else:
        infos, stats = [await client.info("cpu")], [await client.info("commandstats")]
    seconds = sum(float(i["used_cpu_sys"]) + float(i["used_cpu_user"]) for i in infos)
    return seconds, float(sum(st.get("cmdstat_evalsha", {}).get("usec", 0) for st in stats))


async def measure(counters: RedisCounters, client: Client, articles: list[str], n: int, batch: int,
                  run: str) -> tuple[float, float, float]:
    """(server µs per view, script µs per view, views/s seen by the client) for `n` views in batches."""
    counters.max_batch = batch
    by_shard = views(articles, n, run, int(time.time()))
    before, script_before = await cpu(client)
    started = time.perf_counter()
    counted = 0
    for events in by_shard.values():
        for at in range(0, len(events), batch):
            results = await asyncio.gather(*(counters.submit(ev) for ev in events[at : at + batch]))
            counted += sum(r.status == "ok" for r in results)
    elapsed = time.perf_counter() - started
    after, script_after = await cpu(client)
    assert counted == n, f"{counted} of {n} views counted"
    return (after - before) * 1e6 / n, (script_after - script_before) / n, n / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--views", type=int, default=30_000, help="views per setting")
    parser.add_argument("--batches", default="1,16,256")
    parser.add_argument("--articles", default="1,500", help="catalog sizes the views spread over")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every setting this often, alternating")
    parser.add_argument("--redis-url", default=None, help="a running Redis or cluster node (default: a private one)")
    parser.add_argument("--no-link", action="store_true", help="ingest through redis-py, not the lean link")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        embedded = None
        url = args.redis_url
        if url is None:
            embedded = EmbeddedRedis(Path(work) / "redis")
            url = await embedded.start()
        settings = Settings(redis_url=url)
        client = await connect(url, settings)
        link = None if args.no_link or isinstance(client, Cluster) else make_link(url, settings)
        counters = RedisCounters(client, link=link)
        try:
            kind = f"cluster of {len(client.primaries())}" if isinstance(client, Cluster) else "redis"
            print(f"{kind} {url}, link {'on' if link else 'off'}, {args.views} views per setting")
            print(f"{'articles':>8} {'batch':>5} {'server µs/view':>15} {'script µs/view':>15} {'views/s':>9}")
            for round_ in range(args.rounds):
                for size in map(int, args.articles.split(",")):
                    articles = [f"cpu-{size}-{i}" for i in range(size)]
                    await seed(client, articles)
                    for batch in map(int, args.batches.split(",")):
                        server, script, rate = await measure(counters, client, articles, args.views, batch,
                                                             f"r{round_}-a{size}-b{batch}")
                        print(f"{size:>8} {batch:>5} {server:>15.1f} {script:>15.1f} {rate:>9.0f}", flush=True)
        finally:
            await counters.close()
            if link is not None:
                await link.close()
            await client.aclose()
            if embedded is not None:
                await embedded.stop()


if __name__ == "__main__":
    asyncio.run(main())
