"""CPU time the edge adds to one request, in process: the view route's wrapper around a trivial handler.

    .venv/bin/python bench/edge_overhead.py [--requests 100000] [--repeats 5]

Less noisy than bench/beacon.py on a shared machine (no sockets, no Redis, no load generator): it
prints the best of `--repeats` runs in µs per request, CORS on, an Origin header given, the access
log at its production level (accepted beacons are not logged).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from service.api.edge import Routes
from service.metrics import Metrics

ROUTE = "/v1/articles/{article_id}/views"


async def trivial(request: web.Request) -> web.Response:
    return web.Response(status=202, body=b'{"status":"accepted"}', content_type="application/json")


async def measure(requests: int, repeats: int) -> float:
    routes = Routes(web.Application(), Metrics(), ["*"])
    wrapped = routes._wrap(ROUTE, trivial, True, "POST")
    request = make_mocked_request("POST", "/v1/articles/a1/views", headers={"Origin": "https://t4k3.news"})
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(requests):
            await wrapped(request)
        best = min(best, (time.perf_counter() - started) / requests)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description="the edge's CPU time per request")
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.getLogger("service.access").setLevel(logging.INFO)
    best = asyncio.run(measure(args.requests, args.repeats))
    print(f"edge around a trivial handler: {best * 1e6:.2f} µs per request (best of {args.repeats} x {args.requests})")


if __name__ == "__main__":
    main()
