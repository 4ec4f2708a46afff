"""GET /metrics (Prometheus text format); the edge feeds the HTTP metrics."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import generate_latest
from redis.exceptions import RedisError

from .. import appkeys as K
from ..domain.ops import flush_snapshot
from ..domain.worker_lease import works_here
from .contract import Operation, Reply
from .edge import routes
from .parsing import require_admin

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the classic text format every scraper reads


async def update_flush_metrics(app: web.Application) -> None:
    """Copy the flusher's state (where this process flushes: none from an api replica or a standby worker,
    whose lag would only grow) and the pending work in Redis into the metrics."""
    metrics = app[K.METRICS]
    flusher = app[K.FLUSHER]
    here = works_here(app[K.SETTINGS].role, app[K.LEASE])
    metrics.flush.snapshot = flush_snapshot(flusher.state, time.time(), metrics.started) if here else None
    try:
        batches, deltas = await flusher.pending_count()
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
    routes(app).get("/metrics", metrics, Operation(
        "Prometheus metrics (admin unless METRICS_PUBLIC)", {200: Reply("the text format", media="text/plain")},
        "meta", admin=True,
    ))
