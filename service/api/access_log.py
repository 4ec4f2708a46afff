"""One structured log line per request: request id, route template, status, duration; no IP, no UA."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import secrets
import time
from typing import Any

from aiohttp import web

from .metrics import route_of

log = logging.getLogger("service.access")
REQUEST_ID = web.RequestKey("request_id", str)
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes log at DEBUG
# accepted beacons are the bulk of traffic and are counted in the metrics: logged at DEBUG when they succeed
QUIET_WHEN_OK = frozenset({"/v1/articles/{article_id}/views"})
_PREFIX = secrets.token_hex(6)
_SEQ = itertools.count(1)


def request_id(request: web.Request) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    given = request.headers.get("X-Request-ID", "")
    return given if given and _GIVEN_ID.match(given) else f"{_PREFIX}{next(_SEQ):010x}"


@web.middleware
async def access_log_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    rid = request_id(request)
    request[REQUEST_ID] = rid
    started = time.perf_counter()
    status = 500
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        if not response.prepared:
            response.headers["X-Request-ID"] = rid
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-ID"] = rid
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    finally:
        _log(request, rid, status, time.perf_counter() - started)


def _log(request: web.Request, rid: str, status: int, seconds: float) -> None:
    route = route_of(request)
    ms = round(seconds * 1000, 2)
    quiet = route in QUIET_ROUTES or (status < 300 and route in QUIET_WHEN_OK)
    level = logging.DEBUG if quiet else logging.INFO
    if not log.isEnabledFor(level):
        return
    extra = {"request_id": rid, "route": route, "method": request.method, "status": status, "duration_ms": ms}
    log.log(level, "%s %s %d %.1fms", request.method, route, status, ms, extra=extra)
