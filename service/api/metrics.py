"""GET /metrics (Prometheus text format) and the middlewares that feed the HTTP metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from redis.exceptions import RedisError

from .. import appkeys as K
from ..domain.ops import flush_snapshot
from .parsing import require_admin

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the classic text format every scraper reads
UNMATCHED = "unmatched"  # the route label of requests no route matched (404/405)


def route_of(request: web.Request) -> str:
    """The route template (`/v1/articles/{article_id}`), never the raw path: labels stay bounded."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


@web.middleware
async def metrics_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Outermost: counts every request by route, method and final status, and times it."""
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    finally:
        request.app[K.METRICS].request(route_of(request), request.method, status, time.perf_counter() - started)


@web.middleware
async def redis_error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Innermost: counts Redis errors before the error middleware turns them into 503s."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except RedisError:
        request.app[K.METRICS].redis_errors.inc()
        raise


async def update_flush_metrics(app: web.Application) -> None:
    """Copy the flusher's state and the pending work in Redis into the metrics."""
    metrics = app[K.METRICS]
    flusher = app[K.FLUSHER]
    metrics.flush.snapshot = flush_snapshot(flusher.state, time.time(), metrics.started)
    try:
        batches, deltas = await flusher.batches.pending_count()
    except RedisError:
        metrics.redis_errors.inc()  # keep the last values; the lag tells the story
        return
    metrics.pending_batches.set(batches)
    metrics.pending_deltas.set(deltas)


async def metrics(request: web.Request) -> web.Response:
    if not request.app[K.SETTINGS].metrics_public:
        require_admin(request, request.app[K.ADMIN_TOKEN])
    await update_flush_metrics(request.app)
    body = generate_latest(request.app[K.METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.router.add_get("/metrics", metrics)
