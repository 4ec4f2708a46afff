"""The article catalog: SQLite is the record, Redis the hot-path index."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from ..storage.durable import ArticleStore
from ..storage.redis_index import RedisIndex
from .articles import Article, ArticleIn, BulkArticle, article_from_input, valid_article_id
from .clock import Clock, utcnow
from .codes import new_code
from .errors import InvalidInput, NotFound, validation_details
from .networks import NETWORKS
from .urls import canonical_url

log = logging.getLogger(__name__)
UNKNOWN_TTL_S = 5.0
UNKNOWN_CACHE_SIZE = 10_000
PARSE_SLICE = 100  # bulk items validated between two yields to the event loop
Listener = Callable[[Article], Awaitable[None]]
BulkListener = Callable[[list[Article]], Awaitable[None]]


@dataclass(frozen=True)
class BulkItem:
    """What became of one item of a bulk write (`error`: why it was rejected)."""

    index: int
    id: str | None
    outcome: Literal["created", "replaced", "rejected"]
    error: InvalidInput | None = None


def check_article_id(article_id: str) -> None:
    if not valid_article_id(article_id):
        raise InvalidInput("article_id must match [A-Za-z0-9_-]{1,64}", {"article_id": article_id[:80]})


class Catalog:
    """Create, replace, unpublish and look up articles."""

    def __init__(
        self,
        store: ArticleStore,
        index: RedisIndex,
        host_allowed: Callable[[str], bool],
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.index = index
        self.host_allowed = host_allowed
        self.clock = clock
        self.listeners: list[Listener] = []
        self._unknown: dict[str, float] = {}  # ids recently missing from SQLite too: random ids stay cheap
        self.bulk_listeners: list[BulkListener] = []  # one call per bulk() batch, else one per write

    def parse(self, raw: Any) -> ArticleIn:
        """Validate a JSON object as an article body."""
        return ArticleIn.model_validate(raw, context={"host_allowed": self.host_allowed})

    async def put(self, article_id: str, data: ArticleIn) -> tuple[bool, Article]:
        """Create or replace; returns (created, stored article)."""
        check_article_id(article_id)
        article = article_from_input(article_id, data, self.clock())
        (created,) = await self._save([article])
        await self._notify(article)
        return created, article

    async def bulk(self, items: list[Any]) -> list[BulkItem]:
        """Per-item outcomes; a bad item does not sink the good ones. The good ones are written together."""
        results: list[BulkItem | None] = []
        valid: list[tuple[int, Article]] = []
        now = self.clock()
        for i, raw in enumerate(items):
            if i and i % PARSE_SLICE == 0:
                await asyncio.sleep(0)  # let requests in between: validating 1000 articles takes ~10 ms
            try:
                valid.append((i, self._bulk_article(raw, now)))
                results.append(None)
            except InvalidInput as exc:
                results.append(BulkItem(i, _given_id(raw), "rejected", exc))
        articles = [article for _i, article in valid]
        for (i, article), created in zip(valid, await self._save(articles), strict=True):
            results[i] = BulkItem(i, article.id, "created" if created else "replaced")
        batch: list[Article] = []
        for article in articles:
            await self._notify(article, batch)
        for bulk_listener in self.bulk_listeners:
            await bulk_listener(batch)
        return [r for r in results if r is not None]

    def _bulk_article(self, raw: Any, now: datetime) -> Article:
        """One bulk item as an article: its id under `id` or `article_id`, the rest an article body."""
        if not isinstance(raw, dict):
            raise InvalidInput("each article must be a JSON object")
        try:
            item = BulkArticle.model_validate(raw, context={"host_allowed": self.host_allowed})
        except ValidationError as exc:
            raise InvalidInput("invalid article", validation_details(exc)) from None
        check_article_id(item.id)
        return Article(id=item.id, updated_at=now, **item.model_dump(include=set(ArticleIn.model_fields)))

    async def _save(self, articles: list[Article]) -> list[bool]:
        """Write articles to SQLite then index them in Redis; whether each was created."""
        if not articles:
            return []
        for article in articles:
            self._unknown.pop(article.id, None)
        saved = await self.store.save_articles([(a, {n: new_code() for n in NETWORKS}) for a in articles])
        totals = await self.store.totals({a.id for a in articles})
        pairs = zip(articles, saved, strict=True)
        await self._index([(a, codes_in_use(codes, totals[a.id]), totals[a.id]) for a, (_c, codes) in pairs])
        return [created for created, _codes in saved]

    async def _index(self, items: Iterable[tuple[Article, Mapping[str, str], Mapping[str, int]]]) -> None:
        await self.index.put([(a, canonical_url(a.url), codes, totals) for a, codes, totals in items])

    async def article_for_url(self, url: str) -> str | None:
        """The id of the indexed article whose canonical URL matches `url`, if any."""
        canonical = canonical_url(url)
        found = None if canonical is None else await self.index.article_at(canonical)
        if found is None or canonical_url(found[1]) != canonical:
            return None  # none there, or the article moved to another URL since it was put there
        return found[0]

    async def find(self, article_id: str) -> Article | None:
        """The stored article, or None."""
        return await self.store.get_article(article_id)

    async def get(self, article_id: str) -> Article:
        check_article_id(article_id)
        article = await self.store.get_article(article_id)
        if article is None:
            raise NotFound(f"no article {article_id!r}")
        return article

    async def unpublish(self, article_id: str) -> Article:
        """Unpublish: share links answer 410, counts are kept."""
        article = await self.get(article_id)
        await self.store.set_status(article_id, "unpublished", self.clock())
        await self.index.set_status(article_id, "unpublished")
        article.status = "unpublished"
        await self._notify(article)
        return article

    async def reindex(self, article_id: str) -> bool:
        """Rebuild one article's Redis entries from SQLite (after a miss); False if unknown."""
        now = time.monotonic()
        if self._unknown.get(article_id, 0.0) > now:
            return False
        article = await self.store.get_article(article_id)
        if article is None:
            if len(self._unknown) >= UNKNOWN_CACHE_SIZE:
                self._unknown.clear()
            self._unknown[article_id] = now + UNKNOWN_TTL_S
            return False
        codes = await self.store.codes(article_id)
        totals = await self.store.totals([article_id])
        await self._index([(article, codes_in_use(codes, totals[article_id]), totals[article_id])])
        return True

    async def rebuild(self, batch: int = 1000) -> int:
        """Rebuild the whole Redis index from SQLite when Redis lost its data; returns articles indexed."""
        missing = await self.index.missing_shards()
        if not missing:
            return 0
        if await self.store.count_articles() == 0:  # a fresh install: nothing to rebuild
            await self.index.mark_seeded(missing)
            return 0
        log.warning("redis lacks %d shard(s) of the catalog: rebuilding from SQLite", len(missing))
        count = 0
        async for articles in self.store.iter_articles(batch):
            ids = [a.id for a in articles]
            codes = await self.store.all_codes(ids)
            totals = await self.store.totals(ids)
            await self._index([(a, codes_in_use(codes[a.id], totals[a.id]), totals[a.id]) for a in articles])
            count += len(articles)
        await self.index.mark_seeded(missing)
        return count

    async def _notify(self, article: Article, batch: list[Article] | None = None) -> None:
        for listener in self.listeners:
            await listener(article)
        if batch is not None:
            batch.append(article)  # bulk(): bulk listeners get the whole batch at its end
            return
        for bulk_listener in self.bulk_listeners:
            await bulk_listener([article])


def codes_in_use(codes: dict[str, str], totals: dict[str, int]) -> dict[str, str]:
    """The share codes worth a place in Redis: networks the article was shared or clicked on. The others
    stay in SQLite until their first share (or a click, for a link made before this rule)."""
    used = {field.partition("\t")[2] for field, n in totals.items() if n and field.startswith(_CODE_METRICS)}
    return {network: code for network, code in codes.items() if network in used}


_CODE_METRICS = ("share\t", "click\t", "bot_click\t")


def _given_id(raw: Any) -> str | None:
    """The id a rejected bulk item named, if it named one as a string (under either name)."""
    if not isinstance(raw, dict):
        return None
    given = raw.get("id", raw.get("article_id"))
    return given if isinstance(given, str) else None
