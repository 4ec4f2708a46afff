"""Live counters in Redis: one script per event, exact reads in one round trip."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from . import keys
from .scripts import INGEST

HOT_METRICS = ("view", "share", "click")  # people only: bots never trend


@dataclass(frozen=True)
class Event:
    """One countable event."""

    article_id: str
    metric: str  # view, share, click, bot_view, bot_click
    network: str  # '' where it does not apply
    hour: int  # epoch hour
    event_id: str
    event_ttl: int  # how long the id blocks a repeat (seconds)
    visitor: str = ""  # keyed visitor hash for views, else ''
    day: int = 0


@dataclass(frozen=True)
class IngestResult:
    status: str  # ok, duplicate, unknown, gone
    url: str | None
    extra: str | None
    title: str | None = None


def _text(value: bytes | None) -> str | None:
    return value.decode() if value is not None else None


class RedisCounters:
    """Counting adapter; the caller supplies ids and clock values."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._ingest = redis.register_script(INGEST)

    async def ingest(self, ev: Event, return_field: str = "") -> IngestResult:
        """Count an event once (by its id) into totals and the shard's delta hash."""
        shard = keys.shard_of(ev.article_id)
        reply = await self._ingest(
            keys=[
                keys.article(ev.article_id),
                keys.totals(ev.article_id),
                keys.delta(shard),
                keys.event(ev.article_id, ev.event_id),
                keys.visitors(ev.article_id, ev.day),
                *([keys.hot(shard, ev.metric, ev.hour)] if ev.metric in HOT_METRICS else []),
            ],
            args=[
                ev.article_id, ev.metric, ev.network, ev.hour, ev.event_ttl, ev.visitor, ev.day,
                return_field or "status",
                keys.HOT_TTL_S,
            ],
        )
        status, url, extra, title = reply
        return IngestResult(status.decode(), _text(url), _text(extra), _text(title))

    async def read(self, article_ids: list[str], today: int) -> dict[str, tuple[str | None, dict[str, int], int]]:
        """Per article: (status, totals by `metric\\tnetwork`, unique visitors over all days)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for a in article_ids:
                pipe.hget(keys.article(a), "status")
                pipe.hgetall(keys.totals(a))
                pipe.pfcount(keys.visitors(a, today))
                pipe.pfcount(keys.visitors(a, today - 1))
            replies = await pipe.execute()
        out = {}
        for i, a in enumerate(article_ids):
            status, raw, live_today, live_yesterday = replies[4 * i : 4 * i + 4]
            totals = {k.decode(): int(v) for k, v in raw.items()}
            out[a] = (_text(status), totals, _unique(totals, {today: live_today, today - 1: live_yesterday}))
        return out


def _unique(totals: dict[str, int], live: dict[int, int]) -> int:
    """Sum of daily uniques: snapshots for past days, the larger of snapshot and live HLL for recent ones."""
    days: dict[int, int] = {}
    for field, n in totals.items():
        if field.startswith("uvd\t"):
            days[int(field[4:])] = n
    for day, n in live.items():
        days[day] = max(days.get(day, 0), int(n))
    return sum(days.values())
