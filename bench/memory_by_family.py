"""Redis memory by key family: SCAN every key, MEMORY USAGE a sample per family, bytes per article.

    .venv/bin/python bench/memory_by_family.py 100000            # import into a private Redis, then report
    .venv/bin/python bench/memory_by_family.py --redis-url unix:///path/redis.sock   # report a running one

Per family (the key builders of service/storage/keys.py, named by the segment after the shard tag:
art, tot, code, url, rel:tag, ...) it prints the number of keys, the bytes per key (MEMORY USAGE,
SAMPLES 0, over up to --sample keys, so the key name and its keyspace entry are included), the bytes
per article, the family's total, and the encodings seen; then the sum against INFO's used_memory. The
difference is what MEMORY USAGE does not see: the keyspace's bucket arrays, the expires table of keys
with a TTL, client buffers and the server's own baseline. Families grow linearly with the catalog, so
the 1,000,000-article projection is the per-article figure times a million.

With a size, the catalog of bench/gen_catalog.py is imported through `Catalog.bulk` (as the CLI import
does) into a private redis-server, the related lists are built, and --views / --shares / --clicks events
are counted through the app's own paths (views with client event ids: their markers live 24 h).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import redis.asyncio as aioredis

from service.storage import keys

PROJECTED_ARTICLES = 1_000_000


def family(key: str) -> str:
    """`art`, `tot`, `rel:tag`, ...: the key's kind, without its prefix, shard tag and ids."""
    parts = key.split(":")
    if not parts or parts[0] != keys.PREFIX:
        return "other"
    parts = parts[1:]
    tag = parts[0] if parts and parts[0].startswith("{") else ""
    if tag:
        parts = parts[1:]
    if tag == "{rel}":
        parts = ["rel", *parts]
    if not parts:
        return tag or "other"
    if parts[0] == "rel" and len(parts) > 1:
        return f"rel:{parts[1]}"
    return parts[0]


@dataclass
class Family:
    """Keys of one family: how many, and a sample's sizes and encodings."""

    name: str
    count: int = 0
    sample: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    encodings: Counter[str] = field(default_factory=Counter)

    @property
    def bytes(self) -> float:
        return sum(self.sizes) / len(self.sizes) * self.count if self.sizes else 0.0

    def offer(self, key: str, limit: int, rng: random.Random) -> None:
        """Reservoir sampling: every key has the same chance to be measured."""
        self.count += 1
        if len(self.sample) < limit:
            self.sample.append(key)
        elif (slot := rng.randrange(self.count)) < limit:
            self.sample[slot] = key


@dataclass
class Report:
    articles: int
    families: dict[str, Family]
    used_memory: int
    baseline: int

    @property
    def attributed(self) -> float:
        return sum(f.bytes for f in self.families.values())


async def _scan(client: aioredis.Redis) -> AsyncIterator[str]:
    async for key in client.scan_iter(count=1000):
        yield key.decode() if isinstance(key, bytes) else key


async def measure(client: aioredis.Redis, articles: int | None = None, sample: int = 2000,
                  baseline: int = 0, seed: int = 1) -> Report:
    """Count every key by family (SCAN, never KEYS) and measure a sample of each."""
    rng = random.Random(seed)
    families: dict[str, Family] = {}
    async for key in _scan(client):
        name = family(key)
        families.setdefault(name, Family(name)).offer(key, sample, rng)
    for fam in families.values():
        for start in range(0, len(fam.sample), 500):
            chunk = fam.sample[start : start + 500]
            async with client.pipeline(transaction=False) as pipe:
                for key in chunk:
                    pipe.memory_usage(key, samples=0)
                    pipe.object("ENCODING", key)
                replies = await pipe.execute()
            for size, encoding in zip(replies[0::2], replies[1::2], strict=True):
                if size is not None:
                    fam.sizes.append(int(size))
                    fam.encodings[encoding.decode() if isinstance(encoding, bytes) else str(encoding)] += 1
    info = await client.info("memory")
    count = articles if articles is not None else families.get("art", Family("art")).count
    return Report(count, families, int(info["used_memory"]), baseline)


def render(report: Report) -> str:
    """The report as a table: bytes per article per family, totals, projection."""
    n = max(report.articles, 1)
    scale = PROJECTED_ARTICLES / n
    rows = [f"  Redis memory by key family at {report.articles:,} articles (MEMORY USAGE, SAMPLES 0)",
            f"  {'family':<14}{'keys':>11}{'keys/art':>10}{'B/key':>9}{'B/article':>11}{'MiB':>9}"
            f"{'MiB@1M':>9}  encodings (sample)"]
    ordered = sorted(report.families.values(), key=lambda f: -f.bytes)
    for fam in ordered:
        per_key = fam.bytes / fam.count if fam.count else 0.0
        enc = ", ".join(f"{e} {c * 100 // max(len(fam.sizes), 1)}%" for e, c in fam.encodings.most_common())
        rows.append(f"  {fam.name:<14}{fam.count:>11,}{fam.count / n:>10.2f}{per_key:>9,.0f}{fam.bytes / n:>11,.0f}"
                    f"{fam.bytes / 2**20:>9,.1f}{fam.bytes * scale / 2**20:>9,.0f}  {enc}")
    rel = sum(f.bytes for f in report.families.values() if f.name.startswith("rel:"))
    rest = report.attributed - rel
    unseen = report.used_memory - report.baseline - report.attributed
    rows += [
        f"  {'related index (rel:*)':<35}{rel / n:>11,.0f}{rel / 2**20:>9,.1f}{rel * scale / 2**20:>9,.0f}",
        f"  {'everything else':<35}{rest / n:>11,.0f}{rest / 2**20:>9,.1f}{rest * scale / 2**20:>9,.0f}",
        f"  {'not seen by MEMORY USAGE':<35}{unseen / n:>11,.0f}{unseen / 2**20:>9,.1f}{unseen * scale / 2**20:>9,.0f}",
        f"  used_memory {report.used_memory / 2**20:,.1f} MiB (empty server {report.baseline / 2**20:,.1f} MiB): "
        f"{(report.used_memory - report.baseline) / n:,.0f} B/article, projected at {PROJECTED_ARTICLES:,} "
        f"articles (linear) {((report.used_memory - report.baseline) * scale + report.baseline) / 2**30:,.2f} GiB",
    ]
    return "\n".join(rows)


async def _traffic(app: object, n: int, views: int, shares: int, clicks: int) -> None:
    """Counted events through the app's paths: views with client event ids, shares, share-link clicks."""
    from gen_catalog import article_id

    from service import appkeys as K
    from service.domain.engagement import Requester
    from service.domain.networks import NETWORKS

    engagement = app[K.ENGAGEMENT]  # type: ignore[index]
    rng = random.Random(3)
    who = Requester("203.0.113.9", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
    for i in range(views):
        await engagement.view(article_id(rng.randrange(n)), f"ev-{i:012d}", who)
    codes = []
    for i in range(shares):
        share = await engagement.share(article_id(rng.randrange(n)), rng.choice(NETWORKS), f"sh-{i:010d}")
        codes.append(share.code)
    for _ in range(clicks if codes else 0):
        await engagement.click(rng.choice(codes), who)


async def _catalog_only(app: object, n: int) -> tuple[float, float]:
    """The catalog writes of import_catalog without the queued list builds (rel:cand, rel:built stay empty)."""
    from gen_catalog import articles

    from service import appkeys as K

    catalog = app[K.CATALOG]  # type: ignore[index]
    started = time.perf_counter()
    batch: list[dict[str, object]] = []
    for item in articles(n, now=int(time.time())):
        batch.append(item)
        if len(batch) == 1000:
            await catalog.bulk(batch)
            batch = []
    if batch:
        await catalog.bulk(batch)
    return time.perf_counter() - started, 0.0


async def _imported(n: int, sample: int, views: int, shares: int, clicks: int, config: list[str],
                    lists: bool = True) -> None:
    from related_latency import import_catalog, private_app

    from service import appkeys as K

    async with private_app("memory-bench-") as app:
        client: aioredis.Redis = app[K.REDIS]
        for setting in config:
            name, _, value = setting.partition("=")
            await client.config_set(name, value)
            print(f"  CONFIG SET {name} {value}")
        baseline = int((await client.info("memory"))["used_memory"])
        started = time.perf_counter()
        if lists:
            imported, built = await import_catalog(app, n, int(time.time()))
        else:
            imported, built = await _catalog_only(app, n)
        print(f"== {n:,} articles: import {imported:,.0f} s, lists {built:,.0f} s")
        if views or shares or clicks:
            await _traffic(app, n, views, shares, clicks)
            print(f"  traffic: {views:,} views (client event ids), {shares:,} shares, {clicks:,} clicks")
        print(render(await measure(client, n, sample, baseline)))
        print(f"  ({time.perf_counter() - started:,.0f} s in all)")


async def _running(url: str, articles: int | None, sample: int) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        print(render(await measure(client, articles, sample)))
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("articles", type=int, nargs="?", help="import a catalog of this size first")
    parser.add_argument("--redis-url", help="report a running Redis instead")
    parser.add_argument("--sample", type=int, default=2000, help="keys measured per family")
    parser.add_argument("--views", type=int, default=0)
    parser.add_argument("--shares", type=int, default=0)
    parser.add_argument("--clicks", type=int, default=0)
    parser.add_argument("--no-lists", action="store_true", help="skip the related list builds")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=VALUE",
                        help="a Redis setting for the import, e.g. hash-max-ziplist-value=512")
    args = parser.parse_args()
    if args.redis_url:
        asyncio.run(_running(args.redis_url, args.articles, args.sample))
    elif args.articles:
        asyncio.run(_imported(args.articles, args.sample, args.views, args.shares, args.clicks, args.config,
                              not args.no_lists))
    else:
        parser.error("give a catalog size or --redis-url")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
