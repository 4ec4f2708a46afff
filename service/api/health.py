"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable

import aiosqlite
from aiohttp import hdrs, web

from ..appkeys import REDIS, SETTINGS
from .answers import Health, Readiness
from .contract import Operation, Reply
from .edge import routes
from .errors import RETRY_AFTER_S
from .parsing import json_answer

# Readiness reads SQLite on a connection of its own: the app's connection serves its calls one at a
# time, so a probe on it would wait behind a long write (a bulk import, a flush on a locked file).
PROBE = web.AppKey("sqlite_probe", aiosqlite.Connection)


async def healthz(request: web.Request) -> web.Response:
    return json_answer(Health(status="ok"))


async def _check(probe: Awaitable[object], seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            await probe
        return "ok"
    except Exception as exc:
        return type(exc).__name__


async def _sqlite_reads(db: aiosqlite.Connection) -> None:
    async with db.execute("SELECT 1 FROM sqlite_master LIMIT 1") as cur:
        await cur.fetchone()


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    seconds = app[SETTINGS].readyz_timeout_s
    redis, sqlite = await asyncio.gather(
        _check(app[REDIS].ping(), seconds), _check(_sqlite_reads(app[PROBE]), seconds)
    )
    checks = {"redis": redis, "sqlite": sqlite}
    ready = all(v == "ok" for v in checks.values())
    response = json_answer(Readiness(status="ready" if ready else "not_ready", checks=checks), 200 if ready else 503)
    if not ready:
        response.headers[hdrs.RETRY_AFTER] = RETRY_AFTER_S
    return response


async def probe_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    db = await aiosqlite.connect(str(settings.sqlite_path), timeout=settings.readyz_timeout_s)
    app[PROBE] = db
    try:
        yield
    finally:
        await db.close()


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(probe_ctx)
    r = routes(app)
    r.get("/healthz", healthz, Operation("Alive", {200: Health}, "meta", deadline=False))
    r.get("/readyz", readyz, Operation(
        "Redis and SQLite answer", {200: Reply("ready", Readiness), 503: Reply("not ready", Readiness)}, "meta",
        deadline=False,  # each check is bounded by READYZ_TIMEOUT_S
    ))
