"""One structured log line per request: request id, route template, status, duration; no IP, no UA."""

from __future__ import annotations

import itertools
import logging
import re
import secrets

from aiohttp import web

log = logging.getLogger("service.access")
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


def log_request(request: web.Request, route: str, rid: str, status: int, seconds: float) -> None:
    """One access-log line (DEBUG for probes and accepted beacons)."""
    ms = round(seconds * 1000, 2)
    quiet = route in QUIET_ROUTES or (status < 300 and route in QUIET_WHEN_OK)
    level = logging.DEBUG if quiet else logging.INFO
    if not log.isEnabledFor(level):
        return
    extra = {"request_id": rid, "route": route, "method": request.method, "status": status, "duration_ms": ms}
    log.log(level, "%s %s %d %.1fms", request.method, route, status, ms, extra=extra)
