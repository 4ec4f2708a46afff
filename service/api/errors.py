"""Domain errors, bad requests and outages as JSON answers (applied once, by the edge)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from redis.exceptions import RedisError

from ..domain.errors import DomainError, Gone, InvalidInput, NotFound, RateLimited, Unauthorized, Unavailable
from ..outages import StorageUnavailable, sqlite_outage
from .parsing import BadRequest, TooLarge, UnsupportedType

log = logging.getLogger(__name__)
CLIENT_GONE = 499  # nginx's "client closed request": counted apart from errors, never sent
RETRY_AFTER_S = "1"  # every 503 says when to come back: storage outages here are short or supervised


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": details}}, status=status)


HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 411: "length_required", 413: "payload_too_large", 414: "uri_too_long",
    415: "unsupported_media_type", 431: "headers_too_large", 500: "internal_error", 501: "not_implemented",
    503: "unavailable", 504: "timeout",
}


# The HTTP status of each kind of error a handler may raise (a subclass takes its nearest listed base's).
STATUS_OF: dict[type[DomainError], int] = {
    BadRequest: 400, Unauthorized: 401, NotFound: 404, Gone: 410, TooLarge: 413, UnsupportedType: 415,
    InvalidInput: 422, RateLimited: 429, Unavailable: 503,
}


def status_of(exc: DomainError) -> int:
    """The status `exc` answers with: its class's, else its nearest base's in STATUS_OF, else 400."""
    return next((STATUS_OF[c] for c in type(exc).__mro__ if c in STATUS_OF), 400)


def client_gone(request: web.Request) -> bool:
    """True once the client's connection is closed (reading its body then fails with ConnectionResetError)."""
    transport = request.transport
    return transport is None or transport.is_closing()


def error_answer(request: web.Request, exc: Exception) -> web.Response | None:
    """The JSON answer for an exception a handler raised; None for HTTP answers below 400 (re-raise them).

    Domain errors get their status, a client gone mid-request 499, Redis down 503, anything else a
    logged JSON 500.
    """
    if isinstance(exc, StorageUnavailable):
        exc = Unavailable(exc.message, exc.details)
    elif (outage := sqlite_outage(exc)) is not None:
        log.warning("sqlite unavailable: %s", outage.details)
        exc = Unavailable(outage.message, outage.details)
    if isinstance(exc, DomainError):
        response = error_response(status_of(exc), exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after", None)  # RateLimited, OutcomeUnknown
        if retry_after is not None:
            response.headers[hdrs.RETRY_AFTER] = str(retry_after)
        elif isinstance(exc, Unavailable):
            response.headers[hdrs.RETRY_AFTER] = RETRY_AFTER_S
        return response
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        response = error_response(exc.status, HTTP_CODES.get(exc.status, "http_error"), exc.reason, None)
        if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110: a 405 says which methods are allowed
            response.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
        return response
    if isinstance(exc, ConnectionError) and client_gone(request):
        log.debug("client went away on %s %s: %s", request.method, request.path, type(exc).__name__)
        return error_response(CLIENT_GONE, "client_closed_request", "the client closed the connection")
    if isinstance(exc, (RedisError, ConnectionError, TimeoutError)):
        log.warning("redis unavailable: %s", type(exc).__name__)
        response = error_response(503, "unavailable", "storage is unavailable; nothing was recorded, retry later")
        response.headers[hdrs.RETRY_AFTER] = RETRY_AFTER_S
        return response
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error")
