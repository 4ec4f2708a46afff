"""The edge every request passes: metrics, access log, request id, CORS and JSON error answers.

Routes are registered through `Routes` with their `Operation` (api/contract.py), which wraps each
handler once, at registration, with the route's template, method, CORS policy, metrics table and log
levels already known, so a request pays no route lookup and no extra coroutine layer. Requests no
route matches land on a catch-all route registered last, which answers CORS preflights, 405 (with
Allow) and 404, through the same wrapper. At startup every route of the router must be one of ours.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict, istr
from redis.exceptions import RedisError

from ..appkeys import ROUTES
from ..metrics import Metrics
from .access_log import levels, log_request, request_id
from .access_log import log as access_log
from .contract import Operation
from .cors import add_headers, is_preflight, origin_allowed, preflight
from .errors import CLIENT_GONE, error_answer

REQUEST_ID = istr("X-Request-ID")
UNMATCHED = "unmatched"  # the route label of requests no route matched (404, 405, preflights)
Account = Callable[[str, str, int, float], None]  # (method, request id, status, seconds)


class CatchAll(web.PlainResource):
    """Matches every request target, `*`, `host:port` and paths with a newline included (a regex route does not)."""

    def __init__(self) -> None:
        super().__init__("/")

    def _match(self, path: str) -> dict[str, str] | None:
        return {}

    def raw_match(self, path: str) -> bool:
        return False  # never reused by `add_resource`


@dataclass(frozen=True)
class Declared:
    """A registered route and its contract (HEAD twins of GET routes are not listed)."""

    method: str
    path: str
    operation: Operation


class Routes:
    """Registers routes on an app, each handler wrapped by the edge; `close()` adds the catch-all."""

    def __init__(self, app: web.Application, metrics: Metrics, cors_origins: list[str]) -> None:
        self.router = app.router
        self.metrics = metrics
        self.cors_origins = cors_origins
        self.declared: list[Declared] = []
        self.wrapped: set[Handler] = set()
        self._cross_origin: dict[web.AbstractResource, set[str]] = {}  # a resource's CORS methods
        self._catch_all: web.AbstractResource | None = None

    def get(self, path: str, handler: Handler, op: Operation, *, allow_head: bool = True) -> None:
        if allow_head:
            self.add("HEAD", path, handler, op)
        self.add("GET", path, handler, op)

    def post(self, path: str, handler: Handler, op: Operation) -> None:
        self.add("POST", path, handler, op)

    def put(self, path: str, handler: Handler, op: Operation) -> None:
        self.add("PUT", path, handler, op)

    def delete(self, path: str, handler: Handler, op: Operation) -> None:
        self.add("DELETE", path, handler, op)

    def add(self, method: str, path: str, handler: Handler, op: Operation) -> None:
        if self._catch_all is not None:
            raise RuntimeError("routes added after the catch-all would never match")
        resource = self.router.add_resource(path)
        if op.cross_origin:
            self._cross_origin.setdefault(resource, set()).add(method)
        resource.add_route(method, self._wrap(resource.canonical, handler, op.cross_origin, method))
        if method != "HEAD":
            self.declared.append(Declared(method, resource.canonical, op))

    def files(self, prefix: str, directory: Path, op: Operation, headers: Mapping[str, str] | None = None) -> None:
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

        self.get(prefix.rstrip("/") + "/{path:.+}", serve, op)

    def close(self) -> None:
        """Register the catch-all (last): preflights, 405 and 404 answered through the edge."""
        if self._catch_all is not None:
            return
        resource = CatchAll()
        self.router.register_resource(resource)
        resource.add_route(hdrs.METH_ANY, self._wrap(UNMATCHED, self._unmatched, None))
        self._catch_all = resource

    def check(self) -> None:
        """Refuse to start with a route registered around the edge (no metrics, JSON errors or CORS)."""
        bypass = [f"{r.method} {r.resource.canonical if r.resource else '?'}"
                  for r in self.router.routes() if r.handler not in self.wrapped]
        if bypass:
            raise RuntimeError(f"routes registered around the edge (use Routes): {', '.join(bypass)}")

    async def _resolve(self, request: web.Request) -> tuple[set[str], set[str]]:
        """The methods registered at the request's path, and the cross-origin ones among them."""
        allowed: set[str] = set()
        cross: set[str] = set()
        for resource in self.router.resources():
            if resource is not self._catch_all:
                _match, here = await resource.resolve(request)
                if here:
                    allowed |= here
                    cross |= self._cross_origin.get(resource, set())
        return allowed, cross

    async def _unmatched(self, request: web.Request) -> web.StreamResponse:
        allowed, cross = await self._resolve(request)
        if cross and is_preflight(request):
            return preflight(request, frozenset(cross), origin_allowed(request, self.cors_origins))
        if allowed:
            raise web.HTTPMethodNotAllowed(request.method, allowed)
        raise web.HTTPNotFound()

    def _accounting(self, route: str, method: str | None) -> Account:
        """One metric and (at the route's levels) one access-log line per request."""
        metrics = self.metrics
        table = metrics.http.stats(route, method) if method is not None else None
        ok_level, other_level = levels(route)

        def account(request_method: str, rid: str, status: int, seconds: float) -> None:
            (table if table is not None else metrics.http.stats(route, request_method)).observe(status, seconds)
            level = ok_level if status < 300 else other_level
            if access_log.isEnabledFor(level):
                log_request(level, request_method, route, rid, status, seconds)

        return account

    def _failed(self, request: web.Request, exc: Exception) -> web.StreamResponse:
        """The JSON answer for what a handler raised; HTTP answers below 400 (redirects, 304) go on up."""
        if isinstance(exc, RedisError):
            self.metrics.redis_errors.inc()
        answer = error_answer(request, exc)
        if answer is None:
            raise exc
        return answer

    def _wrap(self, route: str, handler: Handler, cross_origin: bool | None, method: str | None = None) -> Handler:
        """`handler` dressed and accounted for: whatever happens, one metric, one log line, a request id.

        `cross_origin`: whether answers carry CORS headers, None to find out per request (the
        catch-all); `method`: the route's, None if it takes any (the catch-all).
        """
        account, failed, resolve = self._accounting(route, method), self._failed, self._resolve
        origins = self.cors_origins
        perf_counter = time.perf_counter

        async def edge(request: web.Request) -> web.StreamResponse:
            started = perf_counter()
            rid = request_id(request.headers.get(REQUEST_ID))
            cors = cross_origin if cross_origin is not None else bool((await resolve(request))[1])
            allow = origin_allowed(request, origins) if cors else None
            status = 500
            try:
                try:
                    response = await handler(request)
                except Exception as exc:
                    response = failed(request, exc)
                status = response.status
                if not response.prepared:
                    dress(response.headers, rid, cors, allow)
                return response
            except web.HTTPException as exc:  # redirects and 304s travel as exceptions
                status = exc.status
                dress(exc.headers, rid, cors, allow)
                raise
            except asyncio.CancelledError:
                status = CLIENT_GONE
                raise
            finally:
                account(request.method, rid, status, perf_counter() - started)

        self.wrapped.add(edge)
        return edge


def dress(headers: CIMultiDict[str], rid: str, cors: bool, allow: str | None) -> None:
    """The request id and, on a cross-origin route, the CORS answer (Vary: Origin always)."""
    headers[REQUEST_ID] = rid
    if cors:
        if hdrs.VARY in headers or allow is not None:
            add_headers(headers, allow)
        else:
            headers[hdrs.VARY] = "Origin"


def forwarded_for(request: web.Request) -> str | None:
    """Every X-Forwarded-For line in order, as one list: a proxy appends its own line after the client's."""
    lines = request.headers.getall(hdrs.X_FORWARDED_FOR, ())
    return ",".join(lines) if lines else None


def routes(app: web.Application) -> Routes:
    """The app's route registry (made by `create_app` before any module registers routes)."""
    return app[ROUTES]
