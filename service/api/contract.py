"""What a route takes and answers, declared where it is registered: the edge, CORS and /openapi.json read it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pydantic import BaseModel

Models = type[BaseModel] | tuple[type[BaseModel], ...]  # a tuple: any one of them (anyOf)
JSON = "application/json"


@dataclass(frozen=True)
class Reply:
    """One answer of a route: a JSON model, or another media type (its body a string), or no body."""

    description: str
    model: Models | None = None
    media: str = JSON
    headers: tuple[str, ...] = ()  # response headers worth documenting (Location, ETag, Retry-After)


@dataclass(frozen=True)
class Operation:
    """A route's contract.

    `cross_origin`: article pages call it from the site's origins (CORS_ORIGINS), so its answers carry
    CORS headers and its preflights are answered; `admin`: it needs the bearer token; `errors`: the
    statuses it may answer with the JSON error shape, beyond the ones every route may (400, 503);
    `deadline`: False for a route that may legitimately run long (admin bulk writes, the streamed CSV
    export: each storage command in them is still bounded) or bounds itself (the health checks).
    """

    summary: str
    replies: Mapping[int, Reply | type[BaseModel]]
    tag: str
    body: type[BaseModel] | None = None
    body_media: tuple[str, ...] = (JSON,)
    body_required: bool = True
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    admin: bool = False
    cross_origin: bool = False
    deadline: bool = True
    description: str = ""

    def reply(self, status: int) -> Reply:
        found = self.replies[status]
        return found if isinstance(found, Reply) else Reply(found.__doc__ or "", found)
