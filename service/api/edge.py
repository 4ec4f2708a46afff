"""The one middleware every request passes: metrics, access log, request id, CORS and error answers.

One layer instead of five: each aiohttp middleware costs a wrapper and a coroutine per request, and
on the beacon path that was a quarter of the time (bench/beacon.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from .. import appkeys as K
from .access_log import log_request, request_id
from .cors import add_headers, cors_origin, is_preflight, preflight, public_methods, route_methods
from .errors import error_answer
from .metrics import UNMATCHED


@web.middleware
async def edge_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Answer the request through `handler`, then dress and account for the answer, whatever happened."""
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else UNMATCHED
    rid = request_id(request)
    methods = route_methods(route) if resource is not None else public_methods(request.path)
    allow = cors_origin(request) if methods else None
    status = 500
    try:
        if methods and is_preflight(request):
            response: web.StreamResponse = preflight(request, methods, allow)
        else:
            try:
                response = await handler(request)
            except Exception as exc:
                answer = _error_answer(request, exc)
                if answer is None:
                    raise
                response = answer
        status = response.status
        if not response.prepared:
            response.headers["X-Request-ID"] = rid
            if methods:
                add_headers(response.headers, allow)
        return response
    except web.HTTPException as exc:  # redirects and 304s travel as exceptions
        status = exc.status
        exc.headers["X-Request-ID"] = rid
        if methods:
            add_headers(exc.headers, allow)
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away
        raise
    finally:
        seconds = time.perf_counter() - started
        request.app[K.METRICS].request(route, request.method, status, seconds)
        log_request(request, route, rid, status, seconds)


def _error_answer(request: web.Request, exc: Exception) -> web.Response | None:
    if isinstance(exc, RedisError):
        request.app[K.METRICS].redis_errors.inc()
    return error_answer(request, exc)
