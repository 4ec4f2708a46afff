"""The edge every request passes: metrics, access log, request id, CORS and JSON error answers.

Routes are registered through `Routes`, which wraps each handler once, at registration, with the
route's template, method, CORS methods, metrics table and log levels already known. A middleware did
the same work per request plus two coroutine layers (aiohttp's own and ours) and a route lookup: the
edge went from ~17 to ~6 µs of the view beacon's CPU time (bench/beacon.py). Requests no route
matches land on a catch-all route registered last, which answers CORS preflights, 405 (with Allow)
and 404, through the same wrapper.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from multidict import istr
from redis.exceptions import RedisError

from ..appkeys import ROUTES
from ..metrics import Metrics
from .access_log import levels, log_request, request_id
from .access_log import log as access_log
from .cors import add_headers, allowed_origin, is_preflight, preflight, public_methods
from .errors import CLIENT_GONE, error_answer

REQUEST_ID = istr("X-Request-ID")
UNMATCHED = "unmatched"  # the route label of requests no route matched (404, 405, preflights)


class CatchAll(web.PlainResource):
    """Matches every request target, `*`, `host:port` and paths with a newline included (a regex route does not)."""

    def __init__(self) -> None:
        super().__init__("/")

    def _match(self, path: str) -> dict[str, str] | None:
        return {}

    def raw_match(self, path: str) -> bool:
        return False  # never reused by `add_resource`


class Routes:
    """Registers routes on an app, each handler wrapped by the edge; `close()` adds the catch-all."""

    def __init__(self, app: web.Application, metrics: Metrics, cors_origins: list[str]) -> None:
        self.router = app.router
        self.metrics = metrics
        self.cors_origins = cors_origins
        self._catch_all: web.AbstractResource | None = None

    def get(self, path: str, handler: Handler, *, allow_head: bool = True) -> None:
        if allow_head:
            self.add("HEAD", path, handler)
        self.add("GET", path, handler)

    def post(self, path: str, handler: Handler) -> None:
        self.add("POST", path, handler)

    def put(self, path: str, handler: Handler) -> None:
        self.add("PUT", path, handler)

    def delete(self, path: str, handler: Handler) -> None:
        self.add("DELETE", path, handler)

    def add(self, method: str, path: str, handler: Handler) -> None:
        if self._catch_all is not None:
            raise RuntimeError("routes added after the catch-all would never match")
        resource = self.router.add_resource(path)
        template = resource.canonical
        resource.add_route(method, self._wrap(template, handler, public_methods(template), method))

    def files(self, prefix: str, directory: Path, headers: Mapping[str, str] | None = None) -> None:
        """GET `prefix/<path>`: files under `directory` (nothing outside it) with `headers`, through the edge."""
        root = directory.resolve()
        extra = dict(headers or {})

        async def serve(request: web.Request) -> web.FileResponse:
            try:
                path = (root / request.match_info["path"]).resolve()
                found = path.is_relative_to(root) and path.is_file()
            except (ValueError, OSError):  # a NUL byte, a name too long: no such file
                found = False
            if not found:
                raise web.HTTPNotFound()
            return web.FileResponse(path, headers=extra)

        self.get(prefix.rstrip("/") + "/{path:.+}", serve)

    def close(self) -> None:
        """Register the catch-all (last): preflights, 405 and 404 answered through the edge."""
        if self._catch_all is not None:
            return
        resource = CatchAll()
        self.router.register_resource(resource)
        resource.add_route(hdrs.METH_ANY, self._wrap(UNMATCHED, self._unmatched, None))
        self._catch_all = resource

    async def _unmatched(self, request: web.Request) -> web.StreamResponse:
        methods = public_methods(request.path)
        if methods and is_preflight(request):
            origin = request.headers.get(hdrs.ORIGIN)
            return preflight(request, methods, allowed_origin(origin, self.cors_origins) if origin else None)
        allowed: set[str] = set()
        for resource in self.router.resources():
            if resource is not self._catch_all:
                _match, methods_here = await resource.resolve(request)
                allowed |= methods_here
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()

    def _wrap(self, route: str, handler: Handler, cors: frozenset[str] | None, method: str | None = None) -> Handler:
        """`handler` dressed and accounted for: whatever happens, one metric, one log line, a request id.

        `cors`: the route's cross-origin methods, None to look them up by path; `method`: the route's
        method, None if it takes any (the catch-all). Everything known here is not looked up per request:
        this runs on every request, the view beacon's included.
        """
        metrics = self.metrics
        origins = self.cors_origins
        table = metrics.http.stats(route, method) if method is not None else None
        ok_level, other_level = levels(route)
        perf_counter = time.perf_counter

        async def edge(request: web.Request) -> web.StreamResponse:
            started = perf_counter()
            rid = request_id(request.headers.get(REQUEST_ID))
            methods = cors if cors is not None else public_methods(request.path)
            allow = None
            if methods:
                origin = request.headers.get(hdrs.ORIGIN)
                allow = allowed_origin(origin, origins) if origin else None
            status = 500
            try:
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
                    headers = response.headers
                    headers[REQUEST_ID] = rid
                    if methods:
                        if hdrs.VARY in headers or allow is not None:
                            add_headers(headers, allow)
                        else:
                            headers[hdrs.VARY] = "Origin"
                return response
            except web.HTTPException as exc:  # redirects and 304s travel as exceptions
                status = exc.status
                exc.headers[REQUEST_ID] = rid
                if methods:
                    add_headers(exc.headers, allow)
                raise
            except asyncio.CancelledError:
                status = CLIENT_GONE
                raise
            finally:
                seconds = perf_counter() - started
                (table if table is not None else metrics.http.stats(route, request.method)).observe(status, seconds)
                level = ok_level if status < 300 else other_level
                if access_log.isEnabledFor(level):
                    log_request(level, request.method, route, rid, status, seconds)

        return edge


def forwarded_for(request: web.Request) -> str | None:
    """Every X-Forwarded-For line in order, as one list: a proxy appends its own line after the client's."""
    lines = request.headers.getall(hdrs.X_FORWARDED_FOR, ())
    return ",".join(lines) if lines else None


def routes(app: web.Application) -> Routes:
    """The app's route registry (made by `create_app` before any module registers routes)."""
    return app[ROUTES]

