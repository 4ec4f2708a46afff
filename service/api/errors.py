"""Domain errors, bad requests and outages as JSON answers (applied once, by the edge)."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import hdrs, web
from redis.exceptions import RedisError

from ..domain.errors import DomainError

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, "details": details}}, status=status)


_HTTP_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    406: "not_acceptable", 411: "length_required", 413: "payload_too_large", 415: "unsupported_media_type",
}


def error_answer(request: web.Request, exc: Exception) -> web.Response | None:
    """The JSON answer for an exception a handler raised; None for HTTP answers below 400 (re-raise them).

    Domain errors get their status, Redis down 503, anything else a logged JSON 500.
    """
    if isinstance(exc, DomainError):
        response = error_response(exc.status, exc.code, exc.message, exc.details)
        retry_after = getattr(exc, "retry_after", None)  # RateLimited, OutcomeUnknown
        if retry_after is not None:
            response.headers[hdrs.RETRY_AFTER] = str(retry_after)
        return response
    if isinstance(exc, web.HTTPException):
        if exc.status < 400:
            return None
        response = error_response(exc.status, _HTTP_CODES.get(exc.status, "http_error"), exc.reason, None)
        if isinstance(exc, web.HTTPMethodNotAllowed):  # RFC 9110: a 405 says which methods are allowed
            response.headers[hdrs.ALLOW] = exc.headers[hdrs.ALLOW]
        return response
    if isinstance(exc, (RedisError, ConnectionError, TimeoutError)):
        log.warning("redis unavailable: %s", type(exc).__name__)
        return error_response(503, "unavailable", "storage is unavailable; nothing was recorded, retry later")
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error")
