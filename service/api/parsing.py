"""Reading request bodies and parameters at the edge, with clear 4xx answers."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, TypeVar

from aiohttp import hdrs, web
from pydantic import BaseModel, ValidationError

from ..domain.errors import DomainError, InvalidInput, Unauthorized, validation_details

M = TypeVar("M", bound=BaseModel)
# Request bodies the admin endpoints take compressed; aiohttp inflates these as they arrive, and the
# body reader bounds what comes out. Public endpoints take no compressed body at all (415).
COMPRESSED = frozenset({"gzip", "deflate"})
IDENTITY = frozenset({"", "identity"})


class BadRequest(DomainError):
    code = "bad_request"


class TooLarge(DomainError):
    code = "payload_too_large"


class UnsupportedType(DomainError):
    code = "unsupported_media_type"


def buffered_body(request: web.Request, limit: int) -> bytes | None:
    """The body if it all arrived with the headers (a beacon's does), without a coroutine; else None.

    None for a compressed body: its Content-Length counts compressed bytes, so read_body reads it.
    """
    length = request.content_length
    if length is None or length > limit or hdrs.CONTENT_ENCODING in request.headers or not request.content.is_eof():
        return None
    body = request.content.read_nowait(length)
    if len(body) != length:
        raise BadRequest("body shorter than its Content-Length")
    return body


def body_encoding(request: web.Request, compressed: bool) -> str | None:
    """The body's Content-Encoding (None: not encoded); 415 for one this endpoint does not take."""
    header = request.headers.get(hdrs.CONTENT_ENCODING)
    if header is None or header.strip().lower() in IDENTITY:
        return None
    encoding = header.strip().lower()
    if not compressed:
        raise UnsupportedType("this endpoint takes no Content-Encoding: send the body uncompressed")
    if encoding not in COMPRESSED:
        raise UnsupportedType("Content-Encoding must be gzip or deflate", {"content_encoding": header[:40]})
    return encoding


async def read_body(request: web.Request, limit: int, *, compressed: bool = False) -> bytes:
    """The body, refusing more than `limit` bytes without reading them all.

    `compressed`: the endpoint takes a gzip or deflate body (else 415); `limit` bounds its DECOMPRESSED
    size. A body that cannot be decoded (bad gzip, bad chunking) is a 400.
    """
    try:
        if body_encoding(request, compressed) is not None:
            return await _read_stream(request, limit)
        return await _read_plain(request, limit)
    except web.RequestPayloadError as exc:
        raise BadRequest(f"request body could not be read: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    cause = exc.__cause__ or exc.__context__
    text = str(getattr(cause, "message", "") or cause or exc).strip()
    return text.splitlines()[0][:120] if text else type(exc).__name__


async def _read_plain(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is None:
        return await _read_stream(request, limit)
    if length > limit:
        raise TooLarge(f"body larger than {limit} bytes")
    body = buffered_body(request, limit)
    if body is not None:
        return body
    try:
        return await request.content.readexactly(length)
    except asyncio.IncompleteReadError:
        raise BadRequest("body shorter than its Content-Length") from None


async def _read_stream(request: web.Request, limit: int) -> bytes:
    """Up to `limit` bytes of the (decoded) stream, whatever Content-Length says; 413 past it."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(limit + 1 - size):  # b"" at the end of the body
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body larger than {limit} bytes")
    return b"".join(chunks)


def decode_json(body: bytes, allow_empty: bool = False) -> Any:
    """Parse JSON from UTF-8 bytes; empty bodies give {} when allowed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("body is not valid UTF-8", {"position": exc.start}) from None
    if not text.strip():
        if allow_empty:
            return {}
        raise BadRequest("body is empty; a JSON object is expected")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg}", {"line": exc.lineno, "column": exc.colno}) from None
    except (RecursionError, ValueError) as exc:  # nesting too deep, or an integer too long to convert
        raise BadRequest(f"JSON not accepted: {type(exc).__name__}") from None


def validate(model: type[M], data: Any, context: dict[str, Any] | None = None) -> M:
    """`model` from parsed JSON, or a 422 listing what was wrong."""
    if not isinstance(data, dict):
        raise InvalidInput("a JSON object is expected")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidInput("invalid request body", validation_details(exc)) from None


def query(model: type[M], request: web.Request) -> M:
    """`model` from the query string (a repeated name: its first value), or a 422 listing what was wrong."""
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise InvalidInput("invalid query", validation_details(exc)) from None


def json_answer(answer: BaseModel, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """`answer` as a JSON response (the one place a model becomes response bytes)."""
    return web.Response(body=answer.__pydantic_serializer__.to_json(answer), status=status, headers=headers,
                        content_type="application/json")


def has_etag(request: web.Request, etag: str) -> bool:
    """True if the request's If-None-Match names `etag` (weakly or strongly) or is `*`."""
    given, value = request.if_none_match, etag.strip('"')
    return given is not None and any(e.value in ("*", value) for e in given)  # weak comparison, RFC 9110


def require_json(request: web.Request) -> None:
    if request.content_type not in ("application/json", "text/plain", "application/octet-stream", ""):
        raise UnsupportedType("send application/json")


def require_admin(request: web.Request, token: str | None) -> None:
    """401 unless `Authorization: Bearer <ADMIN_TOKEN>`."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("a valid admin bearer token is required")
