"""CORS for the public endpoints article pages call from the site's origins (CORS_ORIGINS).

Applied by the edge to the routes registered with `Operation(cross_origin=True)`: headers on every
answer, preflights answered.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .errors import error_response

ALLOWED_HEADERS = frozenset({"content-type", "accept", "accept-language", "content-language"})
MAX_AGE_S = 86_400  # browsers cap this (Chrome: 2 h); it only saves preflights


def allowed_origin(origin: str, configured: list[str]) -> str | None:
    """The Access-Control-Allow-Origin value for `origin`, or None if it may not read answers."""
    if "*" in configured:
        return "*"
    wanted = origin.lower().rstrip("/")
    return origin if any(wanted == o.lower().rstrip("/") for o in configured) else None


def origin_allowed(request: web.Request, configured: list[str]) -> str | None:
    """The Access-Control-Allow-Origin value for the request's Origin (None: none, or not allowed)."""
    origin = request.headers.get("Origin")
    return allowed_origin(origin, configured) if origin else None


def _headers(allow: str | None) -> dict[str, str]:
    return {"Vary": "Origin"} if allow is None else {"Vary": "Origin", "Access-Control-Allow-Origin": allow}


def add_headers(headers: Any, allow: str | None) -> None:
    """Set the CORS answer on `headers`, adding Origin to any Vary already there."""
    given = headers.get("Vary")
    if not given:
        headers["Vary"] = "Origin"
    else:
        vary = [v.strip() for v in given.split(",") if v.strip()]
        if "origin" not in (v.lower() for v in vary):
            vary.append("Origin")
        headers["Vary"] = ", ".join(vary)
    if allow is not None:
        headers["Access-Control-Allow-Origin"] = allow


def preflight(request: web.Request, methods: frozenset[str], allow: str | None) -> web.Response:
    """Answer an OPTIONS preflight: 204 with what is allowed, 403 when the origin or request is not."""
    method = request.headers.get("Access-Control-Request-Method", "").upper()
    asked = request.headers.get("Access-Control-Request-Headers", "")
    headers = {h.strip().lower() for h in asked.split(",") if h.strip()}
    if allow is None or method not in methods or not headers <= ALLOWED_HEADERS:
        response = error_response(403, "forbidden", "cross-origin request not allowed", {
            "origin": request.headers.get("Origin"), "method": method, "headers": sorted(headers),
        })
        add_headers(response.headers, allow)
        return response
    return web.Response(status=204, headers={
        **_headers(allow),
        "Access-Control-Allow-Methods": ", ".join(sorted(methods)),
        "Access-Control-Allow-Headers": ", ".join(sorted(ALLOWED_HEADERS)),
        "Access-Control-Max-Age": str(MAX_AGE_S),
    })


def is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Origin" in request.headers and (
        "Access-Control-Request-Method" in request.headers
    )
