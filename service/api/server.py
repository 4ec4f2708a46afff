"""The HTTP server under the app: a bound on connections and on header time, JSON for parser errors.

aiohttp answers a request its parser rejects (a bad request line, header or chunk size, a line past
8 KiB) itself, before any route, with text/plain and an ERROR log line carrying the client's address
and the offending bytes. `EdgeHandler` answers those with the JSON error body and logs only the kind
of error. It also refuses a connection past `max_connections` at once (503, closed) so the process
never runs out of file descriptors and the accept loop keeps working for everyone else.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from yarl import URL

from ..config import Settings
from .errors import HTTP_CODES, error_response

log = logging.getLogger(__name__)
BACKLOG = 128  # the listen queue; asyncio accepts up to this many sockets at once before any is counted
FD_RESERVE = 64  # descriptors kept for Redis, SQLite, the embedded redis-server's pipes and static files
ROOT = URL("/")
BUSY_RETRY_S = 1
_BUSY_BODY = json.dumps({"error": {
    "code": "unavailable", "message": "too many connections; retry later", "details": None,
}}).encode()
BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
    b"Retry-After: %d\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s"
    % (BUSY_RETRY_S, len(_BUSY_BODY), _BUSY_BODY)
)


def raise_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard one (as Go and nginx do); the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            log.warning("could not raise the open-file limit above %d", soft)
    return soft


def default_max_connections(files: int) -> int:
    """Connections a limit of `files` descriptors leaves room for: 576 of 1,024, 64 of 512.

    asyncio accepts up to a backlog of sockets per wakeup, twice before the first is counted here (more
    on a loaded machine), so three backlogs are kept free, and `FD_RESERVE` (or 1/16 of the limit) for everything else.
    """
    if files == resource.RLIM_INFINITY:
        files = 1 << 20
    return max(8, files - 3 * BACKLOG - max(FD_RESERVE, files // 16))


@dataclass(frozen=True)
class Limits:
    """What one connection may hold: header time (also the idle keep-alive time), and how many at once."""

    header_timeout_s: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The configured limits; raises the open-file limit first when MAX_CONNECTIONS is derived from it."""
        return cls(settings.header_timeout_s, settings.max_connections or default_max_connections(raise_file_limit()))


class EdgeHandler(RequestHandler):
    """aiohttp's connection protocol, with JSON parser errors and a connection cap."""

    __slots__ = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        manager = self._manager
        if isinstance(manager, EdgeServer) and not manager.admit(self):
            self.force_close()
            assert isinstance(transport, asyncio.Transport)
            transport.write(BUSY)
            transport.close()
            return
        super().connection_made(transport)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The JSON error answer; the log line names the error's kind only (no address, no header bytes)."""
        kind = type(exc).__name__ if exc is not None else "none"
        if status >= 500:
            log.error("HTTP server error %d (%s)", status, kind)
        else:
            log.info("malformed request refused: %d %s", status, kind, extra={"status": status, "error": kind})
        if request.writer.output_size > 0:
            raise ConnectionError("the answer has started; no error answer can follow")
        text = "malformed HTTP request" if status < 500 else "internal error"
        response = error_response(status, HTTP_CODES.get(status, "http_error"), text, {"error": kind})
        response.force_close()
        return response


class EdgeServer(web.Server):
    """aiohttp's server making `EdgeHandler`s, counting open connections."""

    def __init__(self, base: web.Server, limits: Limits, **kwargs: Any) -> None:
        super().__init__(base.request_handler, request_factory=self._request, **kwargs)
        self._base_factory = base.request_factory
        self.limits = limits
        self._handler_kwargs = kwargs
        self._open: set[RequestHandler] = set()
        self._refused = 0

    def _request(self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any) -> web.BaseRequest:
        if message.method == hdrs.METH_CONNECT:  # an authority-form target has no path: the catch-all gets "/"
            message = message._replace(path="/", url=ROOT)
        return self._base_factory(message, payload, protocol, writer, task)

    def admit(self, handler: RequestHandler) -> bool:
        """True if `handler`'s connection fits under the cap (it is then counted until it is lost)."""
        if len(self._open) >= self.limits.max_connections:
            self._refused += 1
            log.warning("connection refused: %d open, the cap", len(self._open), extra={"refused": self._refused})
            return False
        self._open.add(handler)
        return True

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        self._open.discard(handler)
        super().connection_lost(handler, exc)

    def __call__(self) -> RequestHandler:
        return EdgeHandler(self, loop=asyncio.get_running_loop(), **self._handler_kwargs)


class EdgeRunner(web.AppRunner):
    """An AppRunner whose server is an `EdgeServer`."""

    def __init__(self, app: web.Application, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()  # starts the app
        return EdgeServer(base, self.limits, access_log=None, keepalive_timeout=self.limits.header_timeout_s)


async def serve(app: web.Application, host: str, port: int, limits: Limits, shutdown_timeout: float) -> None:
    """Run `app` on host:port until SIGINT or SIGTERM (`web.GracefulExit`), then shut it down."""
    runner = EdgeRunner(app, limits, handle_signals=True, shutdown_timeout=shutdown_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, backlog=BACKLOG).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(app: web.Application, host: str, port: int, limits: Limits, shutdown_timeout: float) -> None:
    """`serve` on a new event loop, the way `web.run_app` does it."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    main = loop.create_task(serve(app, host, port, limits, shutdown_timeout))
    try:
        loop.run_until_complete(main)
    except (web.GracefulExit, KeyboardInterrupt):
        pass
    finally:
        main.cancel()
        loop.run_until_complete(asyncio.gather(main, return_exceptions=True))
        left = asyncio.all_tasks(loop)
        for task in left:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        asyncio.set_event_loop(None)
