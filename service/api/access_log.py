"""One structured log line per request: request id, route template, status, duration; no IP, no UA."""

from __future__ import annotations

import itertools
import logging
import re
import secrets

log = logging.getLogger("service.access")
_GIVEN_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # probes and scrapes log at DEBUG
# accepted beacons are the bulk of traffic and are counted in the metrics: logged at DEBUG when they succeed
QUIET_WHEN_OK = frozenset({"/v1/articles/{article_id}/views"})
_PREFIX = secrets.token_hex(6)
_SEQ = itertools.count(1)


def request_id(given: str | None) -> str:
    """The caller's X-Request-ID when it is a sane token, else a fresh one."""
    return given if given and _GIVEN_ID.match(given) else f"{_PREFIX}{next(_SEQ):010x}"


def levels(route: str) -> tuple[int, int]:
    """The log level of a route's answers: (below 300, the rest). Probes and accepted beacons at DEBUG."""
    quiet = route in QUIET_ROUTES
    return (logging.DEBUG if quiet or route in QUIET_WHEN_OK else logging.INFO), (
        logging.DEBUG if quiet else logging.INFO
    )


def log_request(level: int, method: str, route: str, rid: str, status: int, seconds: float) -> None:
    """One access-log line (the caller checked `log.isEnabledFor(level)`)."""
    ms = round(seconds * 1000, 2)
    extra = {"request_id": rid, "route": route, "method": method, "status": status, "duration_ms": ms}
    log.log(level, "%s %s %d %.1fms", method, route, status, ms, extra=extra)
