"""Related news, the read side: one pipeline for the query, its list (with the storage keys) and the
candidates it had last time, a rerank in Python (popularity, one copy per story, diversity, fallback),
and a short-lived in-process answer cache that every write invalidates.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..storage.related_claims import RelatedClaims, RelatedGeneration
from ..storage.related_index import RelatedIndex
from ..storage.related_records import Meta, QueryRead
from .articles import Article, tag_key
from .catalog import check_article_id
from .clock import Clock, utcnow
from .errors import Gone, NotFound
from .freshness import Freshness
from .related import DAY_S, Doc, Listed, Pick, Rules, fallback, popularity, rank, select_terms, shortlist
from .related_build import RelatedConfig, RelatedIndexer, doc_of, postings_keys
from .terms import term_counts

Reindex = Callable[[str], Awaitable[bool]]
LoadArticle = Callable[[str], Awaitable[Article | None]]


@dataclass(frozen=True)
class RelatedItem:
    """One entry of a served list."""

    article_id: str
    title: str
    url: str
    published_at: int
    score: float
    shared_tags: list[str]
    reason: str


@dataclass(frozen=True)
class RelatedList:
    """A served related list (`article_id` is None for a preview)."""

    article_id: str | None
    related: list[RelatedItem]


@dataclass
class _Entry:
    ids: tuple[str, ...] = ()  # candidates of the last read: fetched in the same round trip next time
    answers: dict[int, tuple[float, int, RelatedList]] = field(default_factory=dict)  # limit -> (expiry, generation, a)


class RelatedListCache:
    """LRU of recent answers and candidate hints; a local write bumps the generation."""

    def __init__(self, ttl_s: float, entries: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.entries = entries
        self.monotonic = monotonic
        self.generation = 0
        self._items: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, article_id: str, limit: int) -> RelatedList | None:
        entry = self._items.get(article_id)
        found = entry.answers.get(limit) if entry else None
        if found is None or found[0] < self.monotonic() or found[1] != self.generation:
            return None
        return found[2]

    def hint(self, article_id: str) -> tuple[str, ...]:
        entry = self._items.get(article_id)
        return entry.ids if entry else ()

    def put(self, article_id: str, limit: int, ids: Sequence[str], value: RelatedList,
            generation: int | None = None) -> None:
        """Keep an answer; `generation`: the one its read began at (a write during the read makes it stale)."""
        entry = self._items.pop(article_id, None) or _Entry()
        entry.ids = tuple(ids)
        if self.ttl_s > 0:
            began = self.generation if generation is None else generation
            entry.answers[limit] = (self.monotonic() + self.ttl_s, began, value)
        self._items[article_id] = entry
        while len(self._items) > self.entries:
            self._items.popitem(last=False)

    def invalidate(self) -> None:
        self.generation += 1


class PopularityCache:
    """Recent popularity inputs of candidates, so a warm read skips their totals (a bounded, soft signal)."""

    def __init__(self, ttl_s: float, entries: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.entries = entries
        self.monotonic = monotonic
        self._items: OrderedDict[str, tuple[float, tuple[int, int]]] = OrderedDict()  # expiry, (views, shares)

    def __contains__(self, article_id: object) -> bool:
        found = self._items.get(article_id) if isinstance(article_id, str) else None
        return found is not None and found[0] >= self.monotonic()

    def fill(self, metas: dict[str, Meta | None]) -> None:
        """Complete metas read without popularity from the cache; remember the ones read."""
        expires = self.monotonic() + self.ttl_s
        for article_id, meta in metas.items():
            if meta is None:
                continue
            if meta.views is None or meta.shares is None:
                found = self._items.get(article_id)
                metas[article_id] = replace(meta, views=found[1][0] if found else 0, shares=found[1][1] if found else 0)
            elif self.ttl_s > 0:
                self._items[article_id] = (expires, (meta.views, meta.shares))
                self._items.move_to_end(article_id)
        while len(self._items) > self.entries:
            self._items.popitem(last=False)


def doc_from_meta(meta: Meta, rules: Rules) -> Doc:
    return Doc(meta.article_id, frozenset(tag_key(t) for t in meta.tags), meta.published_at,
               tag_key(meta.section), popularity(meta.views or 0, meta.shares or 0, rules),
               meta.status == "published")


def listed(meta: Meta, key: int, rules: Rules) -> Listed:
    return Listed(doc_from_meta(meta, rules), key, meta.title, meta.url)


class RelatedService:
    """Related lists (reads); the index and its builds are `self.indexer`'s."""

    def __init__(self, index: RelatedIndex, config: RelatedConfig, clock: Clock = utcnow,
                 reindex: Reindex | None = None, load_article: LoadArticle | None = None,
                 claims: RelatedClaims | None = None, generation: RelatedGeneration | None = None) -> None:
        self.index = index
        self.load_article = load_article
        self.config = config
        self.clock = clock
        self.reindex = reindex
        self.cache = RelatedListCache(config.cache_s, config.cache_entries)
        self.popularity = PopularityCache(config.cache_s, 20 * config.cache_entries)
        self.indexer = RelatedIndexer(index, config, self.cache.invalidate, claims)
        self.freshness: Freshness | None = None  # None: a single process, no other replica writes
        if generation is not None:
            self.freshness = Freshness(generation, self.cache.invalidate, self.indexer.refresh_stats,
                                       config.fresh_poll_s, config.stats_refresh_s)
            self.indexer.announce = self.freshness.announce

    def _now(self) -> int:
        return int(self.clock().timestamp())

    async def related(self, article_id: str, limit: int) -> RelatedList:
        """The related list of a catalog article."""
        check_article_id(article_id)
        cached = self.cache.get(article_id, limit)
        if cached is not None:
            return cached
        began = self.cache.generation
        read = await self.index.read(article_id, self.cache.hint(article_id), self.popularity)
        if read.meta is None and self.reindex is not None and await self.reindex(article_id):
            read = await self.index.read(article_id, ())
        if read.meta is None:
            raise NotFound(f"no article {article_id!r}")
        meta = read.meta
        if meta.status != "published":
            raise Gone(f"article {article_id!r} is unpublished")
        if not read.indexed or not read.built or read.pending is not None:
            await self._build_now(meta, read)
            read = await self.index.read(article_id, self.cache.hint(article_id), self.popularity)
        metas = dict(read.metas)
        metas.update(await self.index.metadata([c for c in read.candidates if c not in metas], self.popularity))
        await self._restore(metas, read.candidates[: limit + 8])
        self.popularity.fill(metas)
        query = listed(meta, 0, self.config.rules)
        result = RelatedList(article_id, await self._choose(query, read.keys, metas, limit))
        self.cache.put(article_id, limit, read.candidates, result, began)
        return result

    async def _restore(self, metas: dict[str, Meta | None], best: Sequence[str]) -> None:
        """Candidates whose article hash Redis lost (it lost its data; the catalog reseeds them): from SQLite."""
        missing = [a for a in best if metas.get(a) is None]
        if not missing or self.reindex is None:
            return
        for article_id in missing:
            await self.reindex(article_id)
        metas.update(await self.index.metadata(missing, self.popularity))

    async def _build_now(self, meta: Meta, read: QueryRead) -> None:
        """A list nobody built yet (queued, or its index entry was lost): build it for this read."""
        if not read.indexed:
            article = await self.load_article(meta.article_id) if self.load_article is not None else None
            if article is not None:
                await self.indexer.ingest([(article.id, doc_of(article, self.config.rules, self.config.language)
                                            if article.published else None)], defer=False)
            return
        state = (await self.index.pool_state([meta.article_id.encode()]))[meta.article_id.encode()]
        if state.doc is not None:
            await self.indexer.claim_one(meta.article_id)
            await self.indexer.build_many([(state.doc, read.pending if read.pending is not None else 0)])

    async def preview(self, tags: list[str], title: str, summary: str | None, exclude: Sequence[str],
                      limit: int) -> RelatedList:
        """The related list of a page that is not in the catalog yet (an editor's preview)."""
        now, rules, indexer = self._now(), self.config.rules, self.indexer
        counts = term_counts(title, summary, rules.title_weight, self.config.language)
        term_idf = await indexer.term_idf(counts)
        query = Doc("", frozenset(tag_key(t) for t in tags), now, terms=select_terms(counts, term_idf, rules))
        owners = [k for k, _t in postings_keys(query, indexer.idf(), term_idf, rules)]
        pool = await indexer.pool(owners, now)
        skip = set(exclude)
        states = await self.index.pool_state([a for a, at in pool.items() if a.decode() not in skip and at <= now])
        docs = [s.doc for s in states.values() if s.doc is not None]
        term_idf = await indexer.term_idf({t for d in docs for t, _c in d.terms}, dict(term_idf.df))
        keys = dict(shortlist(query, docs, indexer.idf(), term_idf, rules, self.config.candidates))
        metas = await self.index.metadata(list(keys), self.popularity)
        self.popularity.fill(metas)
        me = Listed(query, 0, title, "")
        return RelatedList(None, await self._choose(me, keys, metas, limit, frozenset(skip), tags))

    async def _choose(self, query: Listed, keys: dict[str, int], metas: dict[str, Meta | None], limit: int,
                      exclude: frozenset[str] = frozenset(), display: Iterable[str] = ()) -> list[RelatedItem]:
        now, idf, rules = self._now(), self.indexer.idf(), self.config.rules
        found = {a: listed(m, keys[a], rules) for a in keys if (m := metas.get(a)) is not None}
        picks = rank(query, found.values(), idf, rules, limit, now, exclude)
        windows = (now - rules.fallback_days * DAY_S, 0)  # recent first; then the newest of any age
        for oldest in windows:
            if len(picks) >= limit:
                break
            ids = await self.index.fallback_ids(query.doc.tags, query.doc.section, oldest, now,
                                                self.config.fallback_pool + limit)
            metas.update(await self.index.metadata([a for a in ids if a not in metas], self.popularity))
            self.popularity.fill(metas)
            pool = [listed(m, 0, rules) for a in ids if (m := metas.get(a)) is not None]
            chosen = [found[p.article_id] if p.article_id in found else listed(metas[p.article_id], 0, rules)  # type: ignore[arg-type]
                      for p in picks]
            picks += fallback(query, pool, chosen, limit - len(picks), now, idf, exclude)
        shown = {tag_key(t): t for t in [*display, *(metas[query.doc.article_id].tags  # type: ignore[union-attr]
                                                     if query.doc.article_id in metas else [])]}
        return _items(picks, metas, shown)


def _items(picks: list[Pick], metas: dict[str, Meta | None], display: dict[str, str]) -> list[RelatedItem]:
    out = []
    for p in picks:
        m = metas[p.article_id]
        assert m is not None
        out.append(RelatedItem(p.article_id, m.title, m.url, m.published_at, round(p.score, 4),
                               [display.get(t, t) for t in p.shared], p.reason))
    return out
