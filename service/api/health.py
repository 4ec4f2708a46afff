"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from aiohttp import hdrs, web

from ..appkeys import DURABLE, LEASE, REDIS_PING, SETTINGS
from .answers import Health, Readiness
from .contract import Operation, Reply
from .edge import routes
from .errors import RETRY_AFTER_S
from .parsing import json_answer


async def healthz(request: web.Request) -> web.Response:
    return json_answer(Health(status="ok"))


async def _check(probe: Awaitable[object], seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            await probe
        return "ok"
    except Exception as exc:
        return type(exc).__name__


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    seconds = app[SETTINGS].readyz_timeout_s
    durable = app[DURABLE]  # the database this process uses: "sqlite" or "postgres"
    redis, database = await asyncio.gather(_check(app[REDIS_PING](), seconds), _check(durable.ping(), seconds))
    checks = {"redis": redis, durable.kind: database}
    ready = all(v == "ok" for v in checks.values())
    answer = Readiness(status="ready" if ready else "not_ready", checks=checks, **await _worker(app, seconds))
    response = json_answer(answer, 200 if ready else 503)
    if not ready:
        response.headers[hdrs.RETRY_AFTER] = RETRY_AFTER_S
    return response


async def _worker(app: web.Application, seconds: float) -> dict[str, Any]:
    """This process's role and id, and who holds the worker lease (a standby worker is ready too)."""
    lease = app[LEASE]
    try:
        async with asyncio.timeout(seconds):
            status: dict[str, Any] = await lease.status()
    except Exception as exc:
        status = {"error": type(exc).__name__}
    return {"role": app[SETTINGS].role, "process": lease.holder_id, "lease": status}


def setup(app: web.Application) -> None:
    r = routes(app)
    r.get("/healthz", healthz, Operation("Alive", {200: Health}, "meta", deadline=False))
    r.get("/readyz", readyz, Operation(
        "Redis and SQLite answer", {200: Reply("ready", Readiness), 503: Reply("not ready", Readiness)}, "meta",
        deadline=False,  # each check is bounded by READYZ_TIMEOUT_S
    ))
