"""Counting shares, share-link clicks and views, and reading the counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..storage.redis_counters import Event, IngestResult, RedisCounters
from ..storage.redis_index import RedisIndex, code_field
from ..storage.salts import DailySalt
from .catalog import Catalog, check_article_id
from .clock import DAY_S, HOUR_S, Clock, epoch_day, utcnow
from .codes import valid_code
from .errors import Gone, NotFound
from .networks import NETWORKS, intent_url, with_utm
from .visitors import VisitorHasher, is_bot

_RESULTS = {"ok": "accepted", "duplicate": "duplicate", "unknown": "rejected", "gone": "rejected"}


class Requester(NamedTuple):
    """What the service may know of who sent an event: used, then forgotten."""

    ip: str
    user_agent: str
    method: str = "GET"

    @property
    def bot(self) -> bool:
        return is_bot(self.user_agent, self.method)


@dataclass(frozen=True)
class EventPolicy:
    client_ttl_s: int = 86_400  # a client event id blocks repeats this long
    retry_ttl_s: int = 300  # a server-made id only needs to outlive redis-py's retries


class Engagement:
    """Shares, clicks, views and stats."""

    def __init__(
        self,
        counters: RedisCounters,
        index: RedisIndex,
        salts: DailySalt,
        catalog: Catalog,
        public_base_url: str,
        policy: EventPolicy = EventPolicy(),
        clock: Clock = utcnow,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        on_event: Callable[[str, str], None] = lambda kind, result: None,
    ) -> None:
        self.counters = counters
        self.index = index
        self.salts = salts
        self.catalog = catalog
        self.base = public_base_url
        self.policy = policy
        self.clock = clock
        self.new_id = new_id
        self.on_event = on_event
        self._hasher, self._hasher_day = VisitorHasher(b""), -1

    def _event(
        self, article_id: str, metric: str, network: str, event_id: str | None, visitor: str = "",
        seconds: int | None = None,
    ) -> Event:
        """The event, stamped at `seconds` (Unix time; now if None)."""
        if seconds is None:
            seconds = int(self.clock().timestamp())
        ttl = self.policy.client_ttl_s if event_id else self.policy.retry_ttl_s
        kind = metric.removeprefix("bot_")  # one event id per kind: a share and a view may share an id
        ident = f"c:{kind}:{event_id}" if event_id else f"s:{self.new_id()}"
        return Event(article_id, metric, network, seconds // HOUR_S, ident, ttl, visitor, seconds // DAY_S)

    async def _ingest(self, ev: Event, field: str = "") -> IngestResult:
        try:
            result = await self.counters.submit(ev, field)
        except Exception:
            self.on_event(ev.metric.removeprefix("bot_"), "failed")
            raise
        return await self._settle(ev, field, result)

    async def _settle(self, ev: Event, field: str, result: IngestResult) -> IngestResult:
        """Count the outcome; an article missing from Redis is re-indexed from SQLite and tried again."""
        kind = ev.metric.removeprefix("bot_")
        if result.status == "unknown":
            try:
                if await self.catalog.reindex(ev.article_id):
                    result = await self.counters.ingest(ev, field)
            except Exception:
                self.on_event(kind, "failed")
                raise
        self.on_event(kind, _RESULTS[result.status] if result.status != "ok" or kind == ev.metric else "bot")
        if result.status == "unknown":
            raise NotFound(f"no article {ev.article_id!r}")
        return result

    async def share(self, article_id: str, network: str, event_id: str | None) -> dict[str, Any]:
        """Count one share and answer with the share link and the network's intent URL."""
        check_article_id(article_id)
        result = await self._ingest(self._event(article_id, "share", network, event_id), code_field(network))
        if result.status == "gone":
            raise Gone(f"article {article_id!r} is unpublished")
        code = result.extra or await self._first_share(article_id, network)
        share_url = f"{self.base}/s/{code}"
        title = result.title or ""
        return {
            "network": network,
            "code": code,
            "share_url": share_url,
            "intent_url": intent_url(network, share_url, title),
            "counted": result.status == "ok",
        }

    async def _first_share(self, article_id: str, network: str) -> str:
        """The article's code on a network not shared before: from SQLite into Redis (codes are lazy)."""
        code = (await self.catalog.store.codes(article_id)).get(network, "")
        if code:
            await self.index.add_code(article_id, network, code)
        return code

    async def click(self, code: str, who: Requester) -> str:
        """Count a share-link click (or a bot click) and return the redirect target."""
        target = await self._code_target(code)
        article_id, network = target
        metric = "bot_click" if who.bot else "click"
        result = await self._ingest(self._event(article_id, metric, network, None), "url")
        if result.status == "gone":
            raise Gone("this article is no longer available")
        return with_utm(result.url or "", network)

    async def _code_target(self, code: str) -> tuple[str, str]:
        if not valid_code(code):
            raise NotFound("unknown share link")
        target = await self.index.code_target(code)
        if target is None:
            stored = await self.catalog.store.code_target(code)
            if stored is None:
                raise NotFound("unknown share link")
            await self.index.remember_code(code, *stored)  # the article itself is reindexed if missing too
            target = stored
        return target

    async def view(self, article_id: str, event_id: str | None, who: Requester) -> str:
        """Count a page view once per event id; bots apart. Returns accepted/duplicate/bot."""
        check_article_id(article_id)
        if who.bot:
            result = await self._ingest(self._event(article_id, "bot_view", "", event_id))
            return "bot" if result.status == "ok" else self._status(result, article_id)
        seconds = int(self.clock().timestamp())
        day = seconds // DAY_S
        hasher = self._hasher if day == self._hasher_day else await self._hasher_of(day)
        ev = self._event(article_id, "view", "", event_id, hasher(who.ip, who.user_agent), seconds)
        try:  # _ingest inlined: the beacon is the hottest path, one coroutine less
            result = await self.counters.submit(ev, "")
        except Exception:
            self.on_event("view", "failed")
            raise
        if result.status == "ok":
            self.on_event("view", "accepted")
        else:
            result = await self._settle(ev, "", result)
        return "accepted" if result.status == "ok" else self._status(result, article_id)

    async def _hasher_of(self, day: int) -> VisitorHasher:
        """The visitor hasher under `day`'s salt (made once a day; the salt itself lives in Redis, 48 h)."""
        hasher = VisitorHasher(await self.salts.get(day))
        self._hasher, self._hasher_day = hasher, day
        return hasher

    @staticmethod
    def _status(result: IngestResult, article_id: str) -> str:
        if result.status == "gone":
            raise Gone(f"article {article_id!r} is unpublished")
        return result.status

    async def stats(self, article_ids: list[str]) -> dict[str, dict[str, Any]]:
        """Exact counts per article; unknown ids are left out."""
        for a in article_ids:
            check_article_id(a)
        today = epoch_day(self.clock())
        read = await self.counters.read(article_ids, today)
        out: dict[str, dict[str, Any]] = {}
        for a in article_ids:
            status, totals, unique = read[a]
            if status is None and await self.catalog.reindex(a):
                status, totals, unique = (await self.counters.read([a], today))[a]
            if status is not None:
                out[a] = stats_body(a, totals, unique)
        return out


def stats_body(article_id: str, totals: dict[str, int], unique: int) -> dict[str, Any]:
    """The public stats shape from totals keyed `metric\\tnetwork`."""
    by: dict[str, dict[str, int]] = {"share": {}, "click": {}}
    flat: dict[str, int] = {"view": 0, "bot_view": 0, "bot_click": 0}
    for field, n in totals.items():
        metric, _, network = field.partition("\t")
        if metric in by:
            by[metric][network] = by[metric].get(network, 0) + n
        elif metric in flat:
            flat[metric] += n
    return {
        "article_id": article_id,
        "views": flat["view"],
        "unique_visitors": unique,
        "shares": {"total": sum(by["share"].values()), "by_network": _all_networks(by["share"])},
        "clicks": {"total": sum(by["click"].values()), "by_network": _all_networks(by["click"])},
        "bot_clicks": flat["bot_click"],
        "bot_views": flat["bot_view"],
    }


def _all_networks(counts: dict[str, int]) -> dict[str, int]:
    return {n: counts.get(n, 0) for n in NETWORKS}
