"""What the domain answers with, as models: api/ serialises them and /openapi.json documents them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

EventStatus = Literal["accepted", "repeat", "duplicate", "bot"]


class ShareLink(BaseModel):
    """A counted share intent: the article's short link on that network and the network's share URL."""

    network: str
    code: str
    share_url: str
    intent_url: str | None = Field(description="the network's share page (none for copy and native)")
    counted: bool = Field(description="whether it went into the public share count")
    status: Literal["accepted", "repeat", "duplicate", "bot"]


class Tally(BaseModel):
    total: int
    by_network: dict[str, int]


class RelatedClicks(BaseModel):
    total: int
    by_position: dict[str, int]


class RelatedStats(BaseModel):
    """Related-list lists shown, clicks by position and click-through rates (null before a list was shown)."""

    impressions: int
    clicks: RelatedClicks
    ctr: float | None
    ctr_by_position: dict[str, float | None]


class Stats(BaseModel):
    """Exact counts of one article at the time of the call (repeat_* and bot_*: kept apart, not public counts)."""

    article_id: str
    views: int
    unique_visitors: int
    shares: Tally
    clicks: Tally
    bot_clicks: int
    bot_views: int
    bot_shares: int
    repeat_views: int
    repeat_shares: int
    repeat_clicks: int
    related: RelatedStats
    bot_related_clicks: int


class Point(BaseModel):
    t: str = Field(description="the bucket's start, RFC 3339 UTC")
    value: int


class Trend(BaseModel):
    """An article of a trending ranking."""

    article_id: str
    title: str
    url: str
    count: int
    score: float


class NetworkCounts(BaseModel):
    """Flushed shares and clicks by network over a window."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
    window: str
    start: str | None = Field(alias="from")
    shares: dict[str, int]
    clicks: dict[str, int]


class FlushStatus(BaseModel):
    """The flusher: last success, lag, pending work in Redis (null: Redis did not say), whether it lags."""

    last_success: str | None
    lag_s: float
    interval_s: float
    warn_after_s: float
    lagging: bool
    runs: int
    failures: int
    last_error: str | None
    pending_batches: int | None
    pending_deltas: int | None
    redis_resets: int
    last_report: dict[str, Any] | None
    flushed_by: str | None = None  # the lease holder's id where another process flushes


class EventTally(BaseModel):
    """Events counted, by kind; bots; events not counted, by reason; whether one failed lately."""

    accepted: dict[str, int]
    bots: int
    dropped: dict[str, int]
    last_failed_at: str | None
    dropping: bool


class HealthStatus(BaseModel):
    status: Literal["ok", "warning"]
    reasons: list[str]


class OpsSummary(BaseModel):
    """What the ops dashboard shows (`headline`, `hourly`: per public metric; `redis`: from INFO)."""

    worker: dict[str, Any]  # this process's role and id, and who holds the worker lease
    generated_at: str | None
    refresh_s: float
    headline: dict[str, dict[str, Any]]
    hourly: dict[str, list[int]]
    networks: NetworkCounts
    top: dict[str, dict[str, list[Trend]]]
    flush: FlushStatus
    events: EventTally
    redis: dict[str, Any]
    health: HealthStatus
