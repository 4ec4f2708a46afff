"""Related news: keeps the index in step with the catalog and serves ranked lists.

Writes: an article put alone is indexed and its candidate list built at once, and it is pushed into
the lists of neighbours built before it was indexed (the index sequence tells which). A bulk batch is
indexed and queued; the builder drains the queue in bounded batches once imports are quiet.
Reads: one pipeline for the query, its list and the candidates it had last time, a rerank in
Python, and a short-lived in-process answer cache that every local write invalidates.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import json
import logging
import time
from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from ..config import Settings
from ..storage.related_index import Build, Candidate, Change, Meta, QueryRead, RelatedIndex
from ..storage.sqlite_store import SqliteStore
from .articles import Article, rfc3339, tag_key
from .catalog import check_article_id
from .clock import Clock, utcnow
from .errors import Gone, NotFound
from .related import (
    Doc,
    Idf,
    Pick,
    Postings,
    Rules,
    best,
    fallback,
    nearest_span,
    pool_keys,
    rank,
    shortlist,
)

log = logging.getLogger(__name__)
Reindex = Callable[[str], Awaitable[bool]]
STORE_BATCH = 250  # lists per write pipeline
BUILD_SLICE = 5  # lists computed between two yields to the event loop
COLUMN_SLICE = 20_000  # postings entries prepared between two yields
INGEST_SLICE = 50  # articles indexed per pipeline when a bulk batch arrives
KNOWN_MAX = 1_500_000  # articles a bulk drain keeps decoded (~300 B each)


@dataclass(frozen=True)
class RelatedConfig:
    """Serving knobs around the ranking rules."""

    rules: Rules = field(default_factory=Rules)
    candidates: int = 50
    per_tag_cap: int = 200
    cache_s: float = 30.0
    cache_entries: int = 5000
    recent_cap: int = 2000
    fallback_pool: int = 50
    inline_batch: int = 20
    build_batch: int = 5000
    bulk_quiet_s: int = 30
    stats_refresh_s: float = 30.0

    @classmethod
    def from_settings(cls, s: Settings) -> RelatedConfig:
        rules = Rules(
            min_score=s.related_min_score, gate_max_df=s.related_gate_max_df,
            gate_min_catalog=s.related_gate_min_catalog, half_life_days=s.related_half_life_days,
            popularity_weight=s.related_popularity_weight, mmr_lambda=s.related_mmr_lambda,
            near_duplicate=s.related_near_duplicate, fallback_days=s.related_fallback_days,
        )
        return cls(
            rules, candidates=s.related_candidates, per_tag_cap=s.related_per_tag_cap, cache_s=s.related_cache_s,
            cache_entries=s.related_cache_entries, recent_cap=s.related_recent_cap,
            fallback_pool=s.related_fallback_pool, inline_batch=s.related_inline_batch,
            build_batch=s.related_build_batch, bulk_quiet_s=s.related_bulk_quiet_s,
        )


@dataclass(frozen=True)
class Answer:
    """A served related list: the payload, its JSON bytes and their ETag."""

    payload: dict[str, Any]
    body: bytes
    etag: str


def answer(payload: dict[str, Any]) -> Answer:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Answer(payload, body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@dataclass
class _Entry:
    ids: tuple[str, ...] = ()  # candidates of the last read: fetched in the same round trip next time
    answers: dict[int, tuple[float, int, Answer]] = field(default_factory=dict)  # limit -> (expiry, generation, a)


class AnswerCache:
    """LRU of recent answers and candidate hints; a local write bumps the generation."""

    def __init__(self, ttl_s: float, entries: int, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.entries = entries
        self.monotonic = monotonic
        self.generation = 0
        self._items: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, article_id: str, limit: int) -> Answer | None:
        entry = self._items.get(article_id)
        found = entry.answers.get(limit) if entry else None
        if found is None or found[0] < self.monotonic() or found[1] != self.generation:
            return None
        return found[2]

    def hint(self, article_id: str) -> tuple[str, ...]:
        entry = self._items.get(article_id)
        return entry.ids if entry else ()

    def put(self, article_id: str, limit: int, ids: Sequence[str], value: Answer) -> None:
        entry = self._items.pop(article_id, None) or _Entry()
        entry.ids = tuple(ids)
        if self.ttl_s > 0:
            entry.answers[limit] = (self.monotonic() + self.ttl_s, self.generation, value)
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
        self._items: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def __contains__(self, article_id: object) -> bool:
        found = self._items.get(article_id) if isinstance(article_id, str) else None
        return found is not None and found[0] >= self.monotonic()

    def fill(self, metas: dict[str, Meta | None]) -> None:
        """Complete metas read without popularity from the cache; remember the ones read."""
        expires = self.monotonic() + self.ttl_s
        for article_id, meta in metas.items():
            if meta is None:
                continue
            if meta.popularity is None:
                found = self._items.get(article_id)
                metas[article_id] = replace(meta, popularity=found[1] if found else 0.0)
            elif self.ttl_s > 0:
                self._items[article_id] = (expires, meta.popularity)
                self._items.move_to_end(article_id)
        while len(self._items) > self.entries:
            self._items.popitem(last=False)


class _Known:
    """Articles found in postings, read at one index sequence and scored with one set of weights."""

    def __init__(self, seq: int, idf: Idf) -> None:
        self.seq = seq
        self.idf = idf
        self.found: dict[bytes, Candidate] = {}
        self.norms: dict[bytes, float] = {}
        self.gone: set[str] = set()  # in the postings, no longer indexed

    def add(self, found: dict[bytes, Candidate]) -> None:
        self.found.update(found)
        self.norms.update({a: self.idf.norm(c.tags) if c.tags else 1.0 for a, c in found.items()})
        self.gone.update(c.article_id for c in found.values() if not c.indexed)


@dataclass(frozen=True)
class _Columns:
    """A tag's postings as a build reads them, with the positions of articles whose list is built."""

    postings: Postings
    built_at: list[int]  # positions of built articles, ascending
    built: list[int]  # and the sequence each was built at

    @classmethod
    def of(cls, tag: str, members: list[bytes], times: list[int], known: _Known) -> _Columns:
        found = [known.found[m] for m in members]
        tags = [c.tags for c in found]
        norms = array("d", [known.norms[m] for m in members])
        postings = Postings(tag, [c.article_id for c in found], times, tags, norms, all(tag in t for t in tags))
        built_at = [i for i, c in enumerate(found) if c.built > 0 and c.indexed]
        return cls(postings, built_at, [found[i].built for i in built_at])

    def stale(self, start: int, end: int, indexed: int) -> list[int]:
        """Positions in [start, end) of articles whose list was built before sequence `indexed`."""
        lo, hi = bisect.bisect_left(self.built_at, start), bisect.bisect_left(self.built_at, end)
        return [self.built_at[j] for j in range(lo, hi) if self.built[j] < indexed]


def doc_of(article: Article) -> Doc:
    return Doc(article.id, frozenset(article.tag_keys), int(article.published_at.timestamp()),
               tag_key(article.section or ""))


def doc_from_meta(meta: Meta) -> Doc:
    return Doc(meta.article_id, frozenset(tag_key(t) for t in meta.tags), meta.published_at,
               tag_key(meta.section), meta.popularity or 0.0, meta.status == "published")


class RelatedService:
    """The related-news index (writes) and related lists (reads)."""

    def __init__(self, index: RelatedIndex, config: RelatedConfig, clock: Clock = utcnow,
                 reindex: Reindex | None = None) -> None:
        self.index = index
        self.config = config
        self.clock = clock
        self.reindex = reindex
        self.cache = AnswerCache(config.cache_s, config.cache_entries)
        self.popularity = PopularityCache(config.cache_s, 20 * config.cache_entries)
        self._df: dict[str, int] = {}
        self._sizes: dict[int, int] = {}
        self._idf: Idf | None = None
        self._known: _Known | None = None
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()

    # ---- statistics -------------------------------------------------------------------------

    def idf(self) -> Idf:
        """Tag weights from the in-process copy of the document frequencies (memoised until they change)."""
        if self._idf is None:
            self._idf = Idf(self._df, sum(self._sizes.values()))
        return self._idf

    async def refresh_stats(self) -> None:
        """Reload frequencies written by other processes."""
        df, sizes = await self.index.stats()
        if (df, sizes) != (self._df, self._sizes):
            self._df, self._sizes, self._idf = df, sizes, None

    # ---- writes -----------------------------------------------------------------------------

    async def on_articles(self, articles: list[Article]) -> None:
        """Catalog hook: index a batch; build a small one now, queue a big one for the builder."""
        if not articles:
            return
        latest = list({a.id: (doc_of(a) if a.published else None) for a in articles}.items())
        defer = len(latest) > self.config.inline_batch
        for start in range(0, len(latest), INGEST_SLICE):  # a few ms of work per slice: requests get in between
            await self.ingest(latest[start : start + INGEST_SLICE], defer=defer)

    async def ingest(self, entries: Iterable[tuple[str, Doc | None]], defer: bool, bulk: bool = True) -> None:
        """Index articles (None: unpublished), then build their lists or queue them (`bulk`: and hold
        builders back while the import goes on)."""
        entries = list(entries)
        olds = await self.index.swap(entries)
        changes = [Change(a, old, new) for (a, new), old in zip(entries, olds, strict=True) if old != new]
        self.cache.invalidate()
        if not changes:
            return
        applied = await self.index.apply(changes, self.config.recent_cap, queued=defer)
        self._df.update(applied.df)
        self._sizes.update(applied.shard_sizes)
        self._idf = None
        for change in changes:
            if change.new is None and change.old is not None:
                await self._unlist(change.old)
        built = [c.new for c in changes if c.new is not None]
        if defer:
            quiet = self.config.bulk_quiet_s if bulk else 0
            await self.index.add_pending(built, applied.seq, quiet)
            self._wake.set()
            return
        if built:
            await self.build_many([(doc, applied.seq) for doc in built])

    async def _unlist(self, old: Doc) -> None:
        tags = self.idf().scanned(old.tags, self.config.rules)
        _seq, pool = await self.index.pool(tags, old.published_at, self.config.per_tag_cap)
        await self.index.unlist(old.article_id, pool)

    async def build(self, doc: Doc, indexed: int) -> None:
        """Compute an article's candidate list and push it into neighbours built before it was indexed."""
        await self.build_many([(doc, indexed)])

    async def build_many(self, todo: Sequence[tuple[Doc, int]]) -> None:
        """Build lists of (article, sequence it was indexed at), in one read of the postings they need.

        Per rare tag, each article's pool is the `per_tag_cap` postings nearest in time; its list is the
        best `candidates` of the pool by exact storage key. Articles close in time share most postings,
        so a batch in publish-time order reads each about once.
        """
        idf, rules, cap = self.idf(), self.config.rules, self.config.per_tag_cap
        scanned = [idf.scanned(doc.tags, rules) for doc, _i in todo]
        around: dict[str, list[int]] = defaultdict(list)
        for (doc, _i), tags in zip(todo, scanned, strict=True):
            for tag in tags:
                around[tag].append(doc.published_at)
        seq, found = await self.index.postings({t: sorted(times) for t, times in around.items()}, cap)
        known = self._known_at(seq, idf)
        known.add(await self.index.candidates({m for members, _t in found.values() for m in members
                                               if m not in known.found}))
        postings: dict[str, _Columns] = {}
        read = 0
        for tag, (members, times) in found.items():
            postings[tag] = _Columns.of(tag, members, times, known)
            read += len(members)
            if read >= COLUMN_SLICE:  # a batch's postings hold up to millions of entries
                read = 0
                await asyncio.sleep(0)
        builds: list[Build] = []
        storing: asyncio.Task[None] | None = None
        try:
            for n, ((doc, indexed), tags) in enumerate(zip(todo, scanned, strict=True), 1):
                builds.append(self._computed(doc, indexed, [postings[t] for t in tags], known))
                if n % BUILD_SLICE == 0:
                    await asyncio.sleep(0)  # about 1 ms a list: requests get in between
                if len(builds) >= STORE_BATCH:
                    if storing is not None:
                        await storing
                    storing = asyncio.create_task(self.index.store(builds, seq, self.config.candidates))
                    builds = []
                    await asyncio.sleep(0)  # let it send: Redis writes these while the next ones are computed
        finally:
            if storing is not None:
                await storing
        if builds:
            await self.index.store(builds, seq, self.config.candidates)

    def _computed(self, doc: Doc, indexed: int, columns: list[_Columns], known: _Known) -> Build:
        """An article's list from its tags' postings, and pushes into neighbours built before it was indexed."""
        cap = self.config.per_tag_cap
        windows = [(c.postings, *nearest_span(c.postings.times, doc.published_at, cap)) for c in columns]
        ids, keyed = pool_keys(doc, windows, known.idf, self.config.rules)
        skip = {doc.article_id, *known.gone} if known.gone else {doc.article_id}
        pushes: dict[str, int] = {}
        offset = 0
        for column, (_p, start, end) in zip(columns, windows, strict=True):
            for i in column.stale(start, end, indexed):
                if ids[offset + i - start] not in skip:
                    pushes[ids[offset + i - start]] = keyed[offset + i - start]
            offset += end - start
        return Build(doc.article_id, best(ids, keyed, self.config.candidates, skip), list(pushes.items()))

    def _known_at(self, seq: int, idf: Idf) -> _Known:
        """Candidates read earlier at the same index sequence and weights (a bulk drain reads the same
        articles batch after batch); a fresh cache once either changed."""
        known = self._known
        if known is None or known.seq != seq or known.idf is not idf or len(known.found) > KNOWN_MAX:
            known = self._known = _Known(seq, idf)
        return known

    async def build_pending(self, batch: int | None = None, unless_bulk: bool = False) -> int:
        """Build up to `batch` queued lists, the earliest published first; returns how many were taken.

        `unless_bulk`: none while a bulk import is running (its later batches are not indexed yet).
        """
        async with self._lock:
            queued = await self.index.pending(batch or self.config.build_batch, unless_bulk)
            states = await self.index.pool_state([a.encode() for a, _s in queued])
            todo = []
            for article_id, seq in queued:
                doc = states[article_id.encode()].doc
                if doc is None:
                    await self.index.done(article_id, seq)
                else:
                    todo.append((doc, seq))
            todo.sort(key=lambda item: item[0].published_at)
            if todo:
                await self.build_many(todo)
            if queued:
                self.cache.invalidate()
            else:
                self._known = None
            return len(queued)

    async def rebuild_if_empty(self, store: SqliteStore, batch: int = 1000) -> int:
        """Index the whole catalog from SQLite when Redis lost the related index; lists are queued."""
        if await self.index.ready():
            return 0
        count = 0
        async for articles in store.iter_articles(batch):
            await self.ingest([(a.id, doc_of(a) if a.published else None) for a in articles], True, bulk=False)
            count += len(articles)
        await self.index.mark_ready()
        if count:
            log.info("related index rebuilt from SQLite: %d articles indexed, lists queued", count)
        return count

    async def run(self, store: SqliteStore, idle_s: float = 1.0) -> None:
        """Owned background task: rebuild an empty index, drain queued builds, refresh frequencies."""
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + self.config.stats_refresh_s
        checked = False
        while True:
            built = 0
            try:
                if not checked:
                    await self.rebuild_if_empty(store)
                    checked = True
                built = await self.build_pending(unless_bulk=True)
                if loop.time() >= refresh_at:
                    refresh_at = loop.time() + self.config.stats_refresh_s
                    await self.refresh_stats()
            except Exception:
                log.exception("related builder step failed; retrying")
            if not built:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow a cancel
                    async with asyncio.timeout(idle_s):
                        await self._wake.wait()

    # ---- reads ------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock().timestamp())

    async def related(self, article_id: str, limit: int) -> Answer:
        """The related list of a catalog article."""
        check_article_id(article_id)
        cached = self.cache.get(article_id, limit)
        if cached is not None:
            return cached
        read = await self.index.read(article_id, self.cache.hint(article_id), self.popularity)
        if read.meta is None and self.reindex is not None and await self.reindex(article_id):
            read = await self.index.read(article_id, ())
        if read.meta is None:
            raise NotFound(f"no article {article_id!r}")
        meta = read.meta
        if meta.status != "published":
            raise Gone(f"article {article_id!r} is unpublished")
        query = doc_from_meta(meta)
        if not read.indexed or not read.built or read.pending is not None:
            await self._build_now(query, read)
            read = await self.index.read(article_id, self.cache.hint(article_id), self.popularity)
        metas = dict(read.metas)
        metas.update(await self.index.metadata([c for c in read.candidates if c not in metas], self.popularity))
        self.popularity.fill(metas)
        picks, docs = await self._choose(query, [metas.get(c) for c in read.candidates], metas, limit)
        result = answer({"article_id": article_id, "related": _items(picks, docs, meta.tags)})
        self.cache.put(article_id, limit, read.candidates, result)
        return result

    async def _build_now(self, query: Doc, read: QueryRead) -> None:
        """A list nobody built yet (queued, or its index entry was lost): build it for this read."""
        if not read.indexed:
            await self.ingest([(query.article_id, query)], defer=False)
        else:
            await self.build(query, read.pending if read.pending is not None else 0)

    async def preview(self, tags: list[str], exclude: Sequence[str], limit: int) -> dict[str, Any]:
        """The related list of a page that is not in the catalog yet (an editor's preview)."""
        now = self._now()
        query = Doc("", frozenset(tag_key(t) for t in tags), now)
        scanned = self.idf().scanned(query.tags, self.config.rules)
        _seq, pool = await self.index.pool(scanned, now, self.config.per_tag_cap)
        skip = set(exclude)
        states = await self.index.pool_state([a for a, at in pool.items() if a.decode() not in skip and at <= now])
        docs = [s.doc for s in states.values() if s.doc is not None]
        best = [a for a, _k in shortlist(query, docs, self.idf(), self.config.rules, self.config.candidates)]
        metas = await self.index.metadata(best, self.popularity)
        self.popularity.fill(metas)
        picks, found = await self._choose(query, [metas[a] for a in best], metas, limit, frozenset(skip))
        return {"related": _items(picks, found, tags)}

    async def _choose(self, query: Doc, candidates: Iterable[Meta | None], metas: dict[str, Meta | None],
                      limit: int, exclude: frozenset[str] = frozenset()) -> tuple[list[Pick], dict[str, Meta]]:
        now, idf, rules = self._now(), self.idf(), self.config.rules
        docs = {m.article_id: doc_from_meta(m) for m in candidates if m is not None}
        picks = rank(query, docs.values(), idf, rules, limit, now, exclude)
        if len(picks) < limit:
            oldest = now - rules.fallback_days * 86_400
            ids = await self.index.fallback_ids(query.tags, query.section, oldest, now, self.config.fallback_pool)
            metas.update(await self.index.metadata([a for a in ids if a not in metas], self.popularity))
            self.popularity.fill(metas)
            pool = [doc_from_meta(m) for a in ids if (m := metas.get(a)) is not None]
            chosen = [docs[p.article_id] for p in picks]
            picks += fallback(query, pool, chosen, limit - len(picks), now, idf, rules, exclude)
        return picks, {p.article_id: m for p in picks if (m := metas.get(p.article_id)) is not None}


def _items(picks: list[Pick], metas: dict[str, Meta], query_tags: Iterable[str]) -> list[dict[str, Any]]:
    display = {tag_key(t): t for t in query_tags}
    return [
        {
            "article_id": p.article_id,
            "title": metas[p.article_id].title,
            "url": metas[p.article_id].url,
            "published_at": rfc3339(datetime.fromtimestamp(metas[p.article_id].published_at, UTC)),
            "score": round(p.score, 4),
            "shared_tags": [display.get(t, t) for t in p.shared],
            "reason": p.reason,
        }
        for p in picks
    ]

