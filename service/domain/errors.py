"""Domain exceptions: what went wrong, by kind and a stable `code`; `api/errors.py` gives each its HTTP answer."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from redis.exceptions import RedisError


class DomainError(Exception):
    """Base of errors a client caused or may see."""

    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Gone(DomainError):
    code = "gone"


class InvalidInput(DomainError):
    code = "validation_error"


class Unauthorized(DomainError):
    code = "unauthorized"


class Unavailable(DomainError):
    code = "unavailable"


class RateLimited(DomainError):
    """Too many writes from one visitor: answered 429 with Retry-After."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, details: Any = None) -> None:
        super().__init__(message, details)
        self.retry_after = retry_after


class OutcomeUnknown(Unavailable, RedisError):
    """A write whose storage call failed or timed out: it may or may not have been counted (a RedisError
    too, so the edge counts it as one)."""

    def __init__(self, retry: str = "same event_id", retry_after: int = 1) -> None:
        super().__init__(
            "storage did not answer in time; the event may or may not have been counted: "
            + ("retry with the same event_id, it is counted at most once" if retry == "same event_id" else "retry"),
            {"outcome": "unknown", "retry": retry},
        )
        self.retry_after = retry_after


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """What pydantic found wrong, without the input itself (it may be large or private)."""
    return [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_context=False, include_input=False)
    ]
