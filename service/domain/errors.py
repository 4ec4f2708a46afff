"""Domain exceptions; the error middleware maps each to one HTTP answer."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of errors a client caused or may see."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Gone(DomainError):
    status = 410
    code = "gone"


class InvalidInput(DomainError):
    status = 422
    code = "validation_error"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
