"""The one middleware every request passes: metrics, access log, request id, CORS and error answers.

One layer instead of five: each aiohttp middleware costs a wrapper and a coroutine per request, and
on the beacon path that was a quarter of the time (bench/beacon.py).
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_urldispatcher import AbstractResource
from redis.exceptions import RedisError

from ..metrics import Metrics
from .access_log import log_request, request_id
from .cors import add_headers, allowed_origin, is_preflight, preflight, public_methods
from .errors import error_answer
from .metrics import UNMATCHED


def edge_middleware(metrics: Metrics, cors_origins: list[str]) -> Middleware:
    """The middleware, bound to the app's metrics and CORS origins (no app lookups per request)."""
    routes: dict[AbstractResource, tuple[str, frozenset[str]]] = {}  # resource -> (template, CORS methods)

    def route_of(request: web.Request) -> tuple[str, frozenset[str]]:
        resource = request.match_info.route.resource
        if resource is None:  # 404, or 405 and preflights: no route matched the method
            return UNMATCHED, public_methods(request.path)
        found = routes.get(resource)
        if found is None:
            found = routes[resource] = (resource.canonical, public_methods(resource.canonical))
        return found

    @web.middleware
    async def edge(request: web.Request, handler: Handler) -> web.StreamResponse:
        """Answer through `handler`, then dress and account for the answer, whatever happened."""
        started = time.perf_counter()
        route, methods = route_of(request)
        rid = request_id(request)
        origin = request.headers.get("Origin") if methods else None
        allow = allowed_origin(origin, cors_origins) if origin else None
        status = 500
        try:
            if methods and is_preflight(request):
                response: web.StreamResponse = preflight(request, methods, allow)
            else:
                try:
                    response = await handler(request)
                except Exception as exc:
                    if isinstance(exc, RedisError):
                        metrics.redis_errors.inc()
                    answer = error_answer(request, exc)
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
            metrics.request(route, request.method, status, seconds)
            log_request(request, route, rid, status, seconds)

    return edge
