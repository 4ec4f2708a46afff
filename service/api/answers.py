"""Models of the JSON answers `api/` builds itself (the domain's own results have theirs in `domain/`)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """What went wrong: a stable `code`, a sentence for people and, where useful, machine-readable details."""

    code: str = Field(examples=["validation_error"])
    message: str
    details: Any = None


class ErrorAnswer(BaseModel):
    """Every 4xx and 5xx answer of the service."""

    error: Problem


class BulkResult(BaseModel):
    """One item of a bulk write: `status` is what a PUT of it alone would have answered."""

    index: int = Field(description="the item's position in `articles`, from 0")
    id: str | None = Field(description="the item's article id, if it gave one as a string")
    outcome: Literal["created", "replaced", "rejected"]
    status: Literal[200, 201, 422]
    error: Problem | None = None


class BulkAnswer(BaseModel):
    """Answer of `POST /v1/articles/bulk`: 201/200 all written, 207 some, 422 none."""

    accepted: int
    rejected: int
    results: list[BulkResult]


class EventAnswer(BaseModel):
    """What became of a counted event (a view, a related list shown or clicked)."""

    status: Literal["accepted", "repeat", "duplicate", "bot"]


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] = Field(description="per dependency: `ok`, or the name of the error it gave")
    role: Literal["all", "api", "worker"] = Field(description="this process's role (`ROLE`)")
    process: str = Field(description="this process's id: hostname:pid:random")
    lease: dict[str, Any] = Field(
        description="who holds the worker lease: `holder`, `this_process`, `age_s`, `expires_in_s` (or `error`)"
    )
