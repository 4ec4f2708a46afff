"""How long a bulk import keeps the event loop from answering requests.

    .venv/bin/python bench/import_stall.py 20000

Imports a synthetic catalog through `Catalog.bulk` in batches of 1000 (as `POST /v1/articles/bulk` and
the CLI import do) into a private redis-server, while a task that wakes every millisecond records the
gaps between its wake-ups: every gap over 1 ms is time a request would have waited. Prints the import
rate and the p50/p99/max gap; with --build the same for draining the queued related-news list builds
afterwards. The catalog is generated before the clock starts.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from gen_catalog import articles  # bench/ is on sys.path when this runs as a script
from related_latency import private_app

from service import appkeys as K
from service.__main__ import freeze_heap


async def ticker(gaps: list[float]) -> None:
    last = time.perf_counter()
    while True:
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now


def report(what: str, n: int, seconds: float, gaps: list[float]) -> None:
    ordered = sorted(gaps)
    p50, p99 = ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000
    print(f"{what}: {n:,} articles in {seconds:.1f} s ({n / seconds:,.0f}/s); event-loop gaps "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ordered[-1] * 1000:.1f} ms")


async def run(n: int, build: bool) -> None:
    async with private_app("import-stall-") as app:
        await freeze_heap(app)  # as `python -m service serve` does once started
        items = list(articles(n, now=int(time.time())))
        gaps: list[float] = []
        task = asyncio.create_task(ticker(gaps))
        started = time.perf_counter()
        for start in range(0, n, 1000):
            await app[K.CATALOG].bulk(items[start : start + 1000])
        report("import", n, time.perf_counter() - started, gaps)
        del items  # the generated catalog is this script's, not the service's: out of the collector's way
        if build:
            gaps.clear()
            started = time.perf_counter()
            while await app[K.RELATED].indexer.build_pending():  # as the service's background builder drains
                pass
            report("list builds", n, time.perf_counter() - started, gaps)
        task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description="event-loop stalls during a bulk import")
    parser.add_argument("articles", type=int, nargs="?", default=20_000)
    parser.add_argument("--build", action="store_true", help="then drain the queued list builds, measured too")
    args = parser.parse_args()
    asyncio.run(run(args.articles, args.build))


if __name__ == "__main__":
    main()
