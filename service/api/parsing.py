"""Reading request bodies and parameters at the edge, with clear 4xx answers."""

from __future__ import annotations

import asyncio
import hmac
import json
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ..domain.errors import DomainError, InvalidInput, Unauthorized

M = TypeVar("M", bound=BaseModel)


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class TooLarge(DomainError):
    status = 413
    code = "payload_too_large"


class UnsupportedType(DomainError):
    status = 415
    code = "unsupported_media_type"


def buffered_body(request: web.Request, limit: int) -> bytes | None:
    """The body if it all arrived with the headers (a beacon's does), without a coroutine; else None."""
    length = request.content_length
    if length is None or length > limit or not request.content.is_eof():
        return None
    body = request.content.read_nowait(length)
    if len(body) != length:
        raise BadRequest("body shorter than its Content-Length")
    return body


async def read_body(request: web.Request, limit: int) -> bytes:
    """The body, refusing more than `limit` bytes without reading them all."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise TooLarge(f"body larger than {limit} bytes")
        body = buffered_body(request, limit)
        if body is not None:
            return body
        try:
            return await request.content.readexactly(length)
        except asyncio.IncompleteReadError:
            raise BadRequest("body shorter than its Content-Length") from None
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


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def validate(model: type[M], data: Any, context: dict[str, Any] | None = None) -> M:
    """`model` from parsed JSON, or a 422 listing what was wrong."""
    if not isinstance(data, dict):
        raise InvalidInput("a JSON object is expected")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise InvalidInput("invalid request body", validation_details(exc)) from None


def require_json(request: web.Request) -> None:
    if request.content_type not in ("application/json", "text/plain", "application/octet-stream", ""):
        raise UnsupportedType("send application/json")


def require_admin(request: web.Request, token: str | None) -> None:
    """401 unless `Authorization: Bearer <ADMIN_TOKEN>`."""
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise Unauthorized("a valid admin bearer token is required")
