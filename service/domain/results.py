"""What the domain answers with, as models: api/ serialises them and /openapi.json documents them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

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
