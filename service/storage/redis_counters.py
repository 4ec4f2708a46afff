"""Live counters in Redis: events counted by one script call per batch, reads in one round trip.

Requests that arrive while the previous batch is in flight are grouped into the next script call (group
commit): no added latency when idle, one round trip for many events under load. On one Redis a batch holds
events of any shards; on a cluster, of one shard (a script's keys must share a slot), one queue each.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from typing import NamedTuple

from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError

from . import keys
from .decode import text_or_none
from .redis_cluster import Client, Cluster, pipeline
from .redis_link import RedisLink, pack
from .scripts import INGEST

KEY_CACHE_SIZE = 10_000
HOT_METRICS = ("view", "share", "click")  # people only: bots never trend


class Event(NamedTuple):
    """One countable event (a tuple: made on every request)."""

    article_id: str
    metric: str  # view, share, click, bot_view, bot_share, bot_click
    network: str  # '' where it does not apply
    hour: int  # epoch hour
    event_id: str
    event_ttl: int  # how long the id blocks a repeat (seconds)
    visitor: str = ""  # keyed visitor hash for views, else ''
    day: int = 0
    limiter: str = ""  # keyed hash of the sender for its window and rate limit ('' none)
    window_s: int = 0  # one event of this metric per limiter and article (and network) this long; 0 none
    rate_limit: int = 0  # at most this many events of this kind per limiter, shard and minute; 0 none
    minute: int = 0  # epoch minute (the rate window)


class IngestResult(NamedTuple):
    status: str  # ok, repeat, duplicate, limited, unknown, gone
    url: str | None
    extra: str | None
    title: str | None = None


STATUSES = ("ok", "repeat", "duplicate", "limited", "unknown", "gone")
_STATUS_ONLY = {s.encode(): IngestResult(s, None, None) for s in STATUSES}


Pending = tuple[Event, str, "asyncio.Future[IngestResult]"]


class RedisCounters:
    """Counting adapter; the caller supplies ids and clock values."""

    def __init__(
        self, redis: Client, max_batch: int = 256, link: RedisLink | None = None, retry: Retry | None = None
    ) -> None:
        """`link`: the connection the ingest script goes over (redis-py's pool without one); `retry`: how
        often a script call that failed on the connection is repeated (safe: events carry ids)."""
        self.redis = redis
        self.max_batch = max_batch
        self._ingest = redis.register_script(INGEST)
        self._link = link
        self._retry = retry or Retry(NoBackoff(), 0)
        self._per_shard = isinstance(redis, Cluster)  # a script call's keys in one slot; one Redis: one queue
        self._queues: dict[int, list[Pending]] = {}
        self._drains: dict[int, asyncio.Task[None]] = {}
        self._keys: dict[str, tuple[str, str, str, str, int]] = {}
        self._tokens = map(f"{os.urandom(6).hex()}.%x.".__mod__, itertools.count())  # attempt tokens, unique

    async def ingest(self, ev: Event, return_field: str = "") -> IngestResult:
        """Count an event once (by its id) into totals, the shard's delta hash and trending buckets."""
        return await self.submit(ev, return_field)

    def submit(self, ev: Event, return_field: str = "") -> asyncio.Future[IngestResult]:
        """`ingest` without its coroutine: queue the event, return the future of its result.

        `return_field`: the article field to answer with, besides its URL and title; "" for the status
        alone (views: nothing more to send back and decode)."""
        queue = keys.shard_of(ev.article_id) if self._per_shard else 0
        future: asyncio.Future[IngestResult] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(queue, []).append((ev, return_field, future))
        if queue not in self._drains:  # the drain task is owned here: a cancelled request cannot cut a call
            self._drains[queue] = asyncio.create_task(self._drain(queue))
        return future

    async def _drain(self, queue: int) -> None:
        try:
            while pending := self._queues.get(queue):
                batch = pending[: self.max_batch]
                del pending[: self.max_batch]
                await self._send(batch)
        finally:
            self._drains.pop(queue, None)

    async def _send(self, batch: list[Pending]) -> None:
        index: dict[str, int] = {}
        heads: dict[tuple[str, str, str, int, int, int, str, int, int], tuple[str, str, int]] = {}  # packed once
        args = [str(keys.HOT_TTL_S), next(self._tokens), str(keys.RATE_TTL_S), ""]
        records: list[str] = []
        for ev, field, _future in batch:
            group = (ev.article_id, ev.metric, ev.network, ev.hour, ev.event_ttl, ev.day, field, ev.window_s,
                     ev.rate_limit)
            found = heads.get(group)
            if found is None:
                marker_prefix, shard = self._head(args, index, ev, field)
                found = heads[group] = (str(len(heads) + 1), marker_prefix, shard)
            number, marker_prefix, shard = found
            e = index.setdefault(marker_prefix + ev.event_id, len(index) + 1)
            w = r = 0
            if ev.limiter:
                if ev.window_s:
                    w = index.setdefault(keys.once(ev.article_id, ev.metric, ev.network, ev.limiter), len(index) + 1)
                if ev.rate_limit:
                    kind = ev.metric.removeprefix("bot_")
                    r = index.setdefault(keys.rate(shard, kind, ev.limiter, ev.minute), len(index) + 1)
            records += (number, str(e), ev.visitor, str(w), str(r), ev.limiter)
        args[3] = str(len(heads))
        args += records
        batch_keys = list(index)
        try:
            if self._link is None:
                reply = await self._ingest(keys=batch_keys, args=args)
            else:
                command = pack(["EVALSHA", self._ingest.sha, len(batch_keys), *batch_keys, *args])
                reply = await self._retry.call_with_retry(lambda: self._over_link(command), _ignore)
        except Exception as exc:
            for _ev, _field, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        at = 0
        for _ev, field, future in batch:
            status = reply[at]
            if field:
                url, extra, title = (text_or_none(v) for v in reply[at + 1 : at + 4])
                result = IngestResult(status.decode(), url, extra, title)
                at += 4
            else:  # views: the status alone
                result = _STATUS_ONLY.get(status) or IngestResult(status.decode(), None, None)
                at += 1
            if not future.done():
                future.set_result(result)

    def _head(self, args: list[str], index: dict[str, int], ev: Event, field: str) -> tuple[str, int]:
        """Append the head, the fields an event shares with the batch's other events of its article, metric
        and hour, to `args`; returns the article's event-marker key prefix and its shard."""
        art, tot, ev_prefix, uv_prefix, shard = self._article_keys(ev.article_id)
        a = index.setdefault(art, len(index) + 1)
        t = index.setdefault(tot, len(index) + 1)
        u = index.setdefault(f"{uv_prefix}{ev.day}", len(index) + 1)
        h = index.setdefault(keys.hot(shard, ev.metric, ev.hour), len(index) + 1)
        d = index.setdefault(keys.delta(shard), len(index) + 1)
        hot = "1" if ev.metric in HOT_METRICS else "0"
        args += (str(a), str(t), str(u), str(h), ev.article_id, ev.metric, ev.network, str(ev.hour),
                 str(ev.event_ttl), str(ev.day), field, hot, str(ev.window_s), str(ev.rate_limit), str(d))
        return ev_prefix, shard

    async def _over_link(self, command: bytes) -> list[bytes | None]:
        assert self._link is not None
        try:
            reply: list[bytes | None] = await self._link.call(command)
        except NoScriptError:  # a restarted or flushed Redis: load the script, then the same call again
            await self._link.call(pack(("SCRIPT", "LOAD", INGEST)))
            reply = await self._link.call(command)
        return reply

    def _article_keys(self, article_id: str) -> tuple[str, str, str, str, int]:
        """An article's keys and key prefixes, and its shard, kept for the articles being read now (bounded)."""
        found = self._keys.get(article_id)
        if found is None:
            if len(self._keys) >= KEY_CACHE_SIZE:
                self._keys.clear()
            found = self._keys[article_id] = (
                keys.article(article_id), keys.totals(article_id), keys.event(article_id, ""),
                keys.visitors(article_id, 0)[:-1], keys.shard_of(article_id),
            )
        return found

    async def close(self) -> None:
        """Wait for batches in flight (at shutdown, after the server stopped taking requests)."""
        for task in list(self._drains.values()):
            with contextlib.suppress(Exception):
                await task

    async def read(self, article_ids: list[str], today: int) -> dict[str, tuple[str | None, dict[str, int], int]]:
        """Per article: (status, totals by `metric\\tnetwork`, unique visitors over all days)."""
        async with pipeline(self.redis) as pipe:
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
            out[a] = (text_or_none(status), totals, _unique(totals, {today: live_today, today - 1: live_yesterday}))
        return out


async def _ignore(error: Exception) -> None:
    """Nothing to do between retries: the link reconnects on the next call."""


def _unique(totals: dict[str, int], live: dict[int, int]) -> int:
    """Sum of daily uniques: snapshots for past days, the larger of snapshot and live HLL for recent ones."""
    days: dict[int, int] = {}
    for field, n in totals.items():
        if field.startswith("uvd\t"):
            days[int(field[4:])] = n
    for day, n in live.items():
        days[day] = max(days.get(day, 0), int(n))
    return sum(days.values())
