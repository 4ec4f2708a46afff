"""Counting shares, share-link clicks and views, and reading the counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from redis.exceptions import RedisError

from ..storage.keys import RATE_WINDOW_S
from ..storage.redis_counters import Event, IngestResult, RedisCounters
from ..storage.redis_index import RedisIndex, code_field
from ..storage.salts import DailySalt
from .catalog import Catalog, check_article_id
from .clock import DAY_S, HOUR_S, Clock, epoch_day, utcnow
from .codes import valid_code
from .errors import Gone, NotFound, OutcomeUnknown, RateLimited
from .networks import NETWORKS, intent_url, with_utm
from .results import EventStatus, RelatedClicks, RelatedStats, ShareLink, Stats, Tally
from .visitors import VisitorHasher, is_bot

_RESULTS = {
    "ok": "accepted", "repeat": "repeat", "duplicate": "duplicate", "limited": "limited", "unknown": "rejected",
    "gone": "rejected",
}
_FAILED = (RedisError, OSError, TimeoutError)  # a storage call that failed or timed out: outcome unknown


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
    view_window_s: int = 1800  # one view per visitor and article counts this long (0: every view)
    share_window_s: int = 86_400  # one share per visitor, article and network
    click_window_s: int = 3600  # one click per visitor and share link
    rate_per_min: int = 60  # writes per visitor, endpoint and shard each minute (0: no limit)

    def window(self, metric: str) -> int:
        """How long one counted event of a people's metric holds its visitor's next ones (bots: none)."""
        if metric == "view":
            return self.view_window_s
        if metric == "share":
            return self.share_window_s
        return self.click_window_s if metric == "click" else 0


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
        seconds: int | None = None, limiter: str = "",
    ) -> Event:
        """The event, stamped at `seconds` (Unix time; now if None), limited by `limiter` ('' none)."""
        if seconds is None:
            seconds = int(self.clock().timestamp())
        policy = self.policy
        ttl = policy.client_ttl_s if event_id else policy.retry_ttl_s
        kind = metric.removeprefix("bot_")  # one event id per kind: a share and a view may share an id
        ident = f"c:{kind}:{event_id}" if event_id else f"s:{self.new_id()}"
        return Event(
            article_id, metric, network, seconds // HOUR_S, ident, ttl, visitor, seconds // DAY_S, limiter,
            policy.window(metric), policy.rate_per_min, seconds // RATE_WINDOW_S,
        )

    async def _ingest(self, ev: Event, field: str = "") -> IngestResult:
        try:
            result = await self.counters.submit(ev, field)
        except _FAILED as exc:
            raise self._failed(ev) from exc
        return await self._settle(ev, field, result)

    def _failed(self, ev: Event) -> OutcomeUnknown:
        self.on_event(ev.metric.removeprefix("bot_"), "failed")
        return OutcomeUnknown("same event_id" if ev.event_id.startswith("c:") else "again")

    async def _settle(self, ev: Event, field: str, result: IngestResult) -> IngestResult:
        """Count the outcome; an article missing from Redis is re-indexed from SQLite and tried again."""
        kind = ev.metric.removeprefix("bot_")
        if result.status == "unknown":
            try:
                reindexed = await self.catalog.reindex(ev.article_id)
            except Exception:
                self.on_event(kind, "failed")
                raise
            if reindexed:
                try:
                    result = await self.counters.ingest(ev, field)
                except _FAILED as exc:
                    raise self._failed(ev) from exc
        self.on_event(kind, _RESULTS[result.status] if result.status != "ok" or kind == ev.metric else "bot")
        if result.status == "unknown":
            raise NotFound(f"no article {ev.article_id!r}")
        if result.status == "limited":
            wait = RATE_WINDOW_S - int(self.clock().timestamp()) % RATE_WINDOW_S
            raise RateLimited(f"too many {kind}s from this visitor; retry later", wait, {"retry_after_s": wait})
        return result

    async def _limiter(self, who: Requester, seconds: int) -> str:
        """The sender's key for windows and rate limits under the day's salt."""
        day = seconds // DAY_S
        hasher = self._hasher if day == self._hasher_day else await self._hasher_of(day)
        return hasher.limiter(who.ip)

    async def share(self, article_id: str, network: str, event_id: str | None, who: Requester) -> ShareLink:
        """Count one share intent (bots apart, once per visitor, article and network in the window) and
        answer with the share link and the network's intent URL."""
        check_article_id(article_id)
        seconds = int(self.clock().timestamp())
        metric = "bot_share" if who.bot else "share"
        ev = self._event(article_id, metric, network, event_id, "", seconds, await self._limiter(who, seconds))
        result = await self._ingest(ev, code_field(network))
        if result.status == "gone":
            raise Gone(f"article {article_id!r} is unpublished")
        code = result.extra or await self._first_share(article_id, network)
        share_url = f"{self.base}/s/{code}"
        title = result.title or ""
        status: EventStatus = ("accepted" if metric == "share" else "bot") if result.status == "ok" else (
            self._status(result, article_id))
        intent = intent_url(network, share_url, title)
        counted = result.status == "ok" and metric == "share"  # into the public share count
        return ShareLink(network=network, code=code, share_url=share_url, intent_url=intent, counted=counted,
                         status=status)

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
        seconds = int(self.clock().timestamp())
        ev = self._event(article_id, metric, network, None, "", seconds, await self._limiter(who, seconds))
        result = await self._ingest(ev, "url")
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

    async def view(self, article_id: str, event_id: str | None, who: Requester) -> EventStatus:
        """Count a page view once per event id and once per visitor and article in the window (the rest as
        repeat views); bots apart. Returns accepted/repeat/duplicate/bot."""
        check_article_id(article_id)
        if who.bot:
            seconds = int(self.clock().timestamp())
            limiter = await self._limiter(who, seconds)
            result = await self._ingest(self._event(article_id, "bot_view", "", event_id, "", seconds, limiter))
            return "bot" if result.status == "ok" else self._status(result, article_id)
        seconds = int(self.clock().timestamp())
        day = seconds // DAY_S
        hasher = self._hasher if day == self._hasher_day else await self._hasher_of(day)
        ev = self._event(
            article_id, "view", "", event_id, hasher(who.ip, who.user_agent), seconds, hasher.limiter(who.ip)
        )
        try:  # _ingest inlined: the beacon is the hottest path, one coroutine less
            result = await self.counters.submit(ev, "")
        except _FAILED as exc:
            raise self._failed(ev) from exc
        if result.status == "ok":
            self.on_event("view", "accepted")
        else:
            result = await self._settle(ev, "", result)
        return "accepted" if result.status == "ok" else self._status(result, article_id)

    async def related(self, article_id: str, kind: str, position: int, event_id: str | None,
                      who: Requester) -> EventStatus:
        """Count a shown related list ("impression") or a click on its item at `position` ("click") under
        `article_id`, once per event id; bots apart. Returns accepted/duplicate/bot."""
        check_article_id(article_id)
        seconds = int(self.clock().timestamp())
        metric = ("bot_" if who.bot else "") + ("related_click" if kind == "click" else "related_view")
        network = str(position) if kind == "click" else ""
        ev = self._event(article_id, metric, network, event_id, "", seconds, await self._limiter(who, seconds))
        result = await self._ingest(ev)
        if result.status == "ok":
            return "bot" if who.bot else "accepted"
        return self._status(result, article_id)

    async def _hasher_of(self, day: int) -> VisitorHasher:
        """The visitor hasher under `day`'s salt (made once a day; the salt itself lives in Redis, 48 h)."""
        hasher = VisitorHasher(await self.salts.get(day))
        self._hasher, self._hasher_day = hasher, day
        return hasher

    @staticmethod
    def _status(result: IngestResult, article_id: str) -> EventStatus:
        """A counted event's status other than accepted: a repeat or a duplicate (gone raises)."""
        if result.status == "gone":
            raise Gone(f"article {article_id!r} is unpublished")
        return "repeat" if result.status == "repeat" else "duplicate"

    async def stats(self, article_ids: list[str]) -> dict[str, Stats]:
        """Exact counts per article; unknown ids are left out."""
        for a in article_ids:
            check_article_id(a)
        today = epoch_day(self.clock())
        read = await self.counters.read(article_ids, today)
        out: dict[str, Stats] = {}
        for a in article_ids:
            status, totals, unique = read[a]
            if status is None and await self.catalog.reindex(a):
                status, totals, unique = (await self.counters.read([a], today))[a]
            if status is not None:
                out[a] = stats_body(a, totals, unique)
        return out


def stats_body(article_id: str, totals: dict[str, int], unique: int) -> Stats:
    """The public stats shape from totals keyed `metric\\tnetwork`."""
    by: dict[str, dict[str, int]] = {"share": {}, "click": {}, "related_click": {}}
    flat: dict[str, int] = dict.fromkeys(_FLAT, 0)
    for field, n in totals.items():
        metric, _, network = field.partition("\t")
        if metric in by:
            by[metric][network] = by[metric].get(network, 0) + n
        elif metric in flat:
            flat[metric] += n
    return Stats(
        article_id=article_id,
        views=flat["view"],
        unique_visitors=unique,
        shares=Tally(total=sum(by["share"].values()), by_network=_all_networks(by["share"])),
        clicks=Tally(total=sum(by["click"].values()), by_network=_all_networks(by["click"])),
        bot_clicks=flat["bot_click"],
        bot_views=flat["bot_view"],
        bot_shares=flat["bot_share"],
        repeat_views=flat["repeat_view"],  # within a visitor's window: kept, not public counts
        repeat_shares=flat["repeat_share"],
        repeat_clicks=flat["repeat_click"],
        related=related_body(flat["related_view"], by["related_click"]),
        bot_related_clicks=flat["bot_related_click"],
    )


def related_body(impressions: int, clicks: dict[str, int]) -> RelatedStats:
    """Clicks on the related list by position, and click-through rates (clicks / lists shown)."""
    shown = max([8, *(int(p) for p in clicks if p.isdigit())])  # 1..8 always, further ones once clicked
    by_position = {str(p): clicks.get(str(p), 0) for p in range(1, shown + 1)}
    total = sum(clicks.values())
    return RelatedStats(
        impressions=impressions,
        clicks=RelatedClicks(total=total, by_position=by_position),
        ctr=round(total / impressions, 4) if impressions else None,
        ctr_by_position={p: round(n / impressions, 4) if impressions else None for p, n in by_position.items()},
    )


_FLAT = ("view", "bot_view", "bot_click", "bot_share", "repeat_view", "repeat_share", "repeat_click", "related_view",
         "bot_related_view", "bot_related_click")
MAX_RELATED_POSITION = 50  # a related list has at most 50 items (?limit=)


def _all_networks(counts: dict[str, int]) -> dict[str, int]:
    return {n: counts.get(n, 0) for n in NETWORKS}
