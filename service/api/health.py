"""Liveness and readiness."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..appkeys import DB, REDIS
from .edge import routes


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(request.app[REDIS].ping(), 2)
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = type(exc).__name__
    try:
        async with request.app[DB].execute("SELECT 1") as cur:
            await cur.fetchone()
        checks["sqlite"] = "ok"
    except Exception as exc:
        checks["sqlite"] = type(exc).__name__
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not_ready", "checks": checks}
    return web.json_response(body, status=200 if ready else 503)


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/healthz", healthz)
    r.get("/readyz", readyz)
