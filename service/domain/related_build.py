"""Related news, the write side: keeps the index in step with the catalog and builds candidate lists.

An article put alone is indexed and its list built at once, and it is pushed into the lists of
neighbours built before it was indexed (the index sequence tells which). A bulk batch is indexed and
queued; the builder drains the queue in bounded batches once imports are quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from ..config import Settings
from ..storage import keys
from ..storage.durable import ArticleStore
from ..storage.related_claims import RelatedClaims
from ..storage.related_index import RelatedIndex
from ..storage.related_records import Build, Candidate, Change
from ..tasks import OutageLog
from .articles import Article, tag_key, tag_keys
from .related import Doc, Idf, Query, Rules, best, nearest, nearest_span, query_terms, select_terms
from .related_matrix import Features, Ints, best_rows
from .terms import term_counts

log = logging.getLogger(__name__)
STORE_BATCH = 250  # lists per write pipeline
BUILD_SLICE = 5  # lists computed between two yields to the event loop
ROWS_SLICE = 200  # postings keys mapped to feature rows between two yields
INGEST_SLICE = 50  # articles indexed per pipeline when a bulk batch arrives
KNOWN_MAX = 1_500_000  # articles a bulk drain keeps decoded
Rows = Ints


@dataclass(frozen=True)
class RelatedConfig:
    """Serving and building knobs around the ranking rules."""

    rules: Rules = field(default_factory=Rules)
    candidates: int = 50
    per_tag_cap: int = 200
    per_term_cap: int = 100
    language: str = "english"
    cache_s: float = 30.0
    cache_entries: int = 5000
    recent_cap: int = 2000
    fallback_pool: int = 50
    inline_batch: int = 20
    build_batch: int = 5000
    bulk_quiet_s: int = 30
    stats_refresh_s: float = 30.0  # other replicas' frequencies are reloaded at least this often
    fresh_poll_s: float = 0.2  # and whenever the index generation moved, polled this often
    claim_s: float = 300.0  # a queued build claimed by a builder that died is free again after this

    @classmethod
    def from_settings(cls, s: Settings) -> RelatedConfig:
        rules = Rules(**{f.name: getattr(s, f"related_{f.name}") for f in fields(Rules)})  # every rule a setting
        return cls(
            rules, candidates=s.related_candidates, per_tag_cap=s.related_per_tag_cap,
            per_term_cap=s.related_per_term_cap, language=s.related_language, cache_s=s.related_cache_s,
            cache_entries=s.related_cache_entries, recent_cap=s.related_recent_cap,
            fallback_pool=s.related_fallback_pool, inline_batch=s.related_inline_batch,
            build_batch=s.related_build_batch, bulk_quiet_s=s.related_bulk_quiet_s,
            stats_refresh_s=s.related_stats_refresh_s, fresh_poll_s=s.related_fresh_poll_s,
            claim_s=s.related_claim_s,
        )


def doc_of(article: Article, rules: Rules, language: str = "english") -> Doc:
    """An article as the index sees it, with every term of its title and summary (select_terms trims them)."""
    counts = term_counts(article.title, article.summary, rules.title_weight, language)
    return Doc(article.id, frozenset(tag_keys(article)), int(article.published_at.timestamp()),
               tag_key(article.section or ""), terms=tuple(sorted(counts.items())))


def postings_keys(doc: Doc, tag_idf: Idf, term_idf: Idf, rules: Rules) -> list[tuple[str, bool]]:
    """(postings key, is a term) a build of `doc` reads: its uncommon tags and heaviest terms."""
    out = [(keys.related_tag(t), False) for t in tag_idf.scanned(doc.tags, rules)]
    return out + [(keys.related_term(t), True) for t in query_terms(doc.terms, term_idf, rules)]


async def _nobody() -> None:
    return None


async def _anyone() -> bool:
    return True


class _Known:
    """Articles found in postings, read at one index sequence, and the term frequencies read with them;
    scored candidates are rows of `features` (added once their terms' frequencies are known)."""

    def __init__(self, seq: int, idf: Idf) -> None:
        self.seq = seq
        self.idf = idf
        self.found: dict[bytes, Candidate] = {}
        self.term_df: dict[str, int] = {}
        self.features = Features(idf)
        self.rows: dict[bytes, int] = {}  # member -> row of `features`
        self.ids: list[str] = []  # by row
        self._built: Rows = np.zeros(16, dtype=np.int64)  # by row: the sequence its list was built at
        self.gone: set[str] = set()  # in the postings, no longer indexed
        self._new: list[bytes] = []  # found, not yet a row

    def add(self, found: dict[bytes, Candidate]) -> None:
        self.found.update(found)
        self._new.extend(found)
        self.gone.update(c.article_id for c in found.values() if not c.indexed)

    def missing_terms(self) -> set[str]:
        return {t for m in self._new for t, _c in self.found[m].terms if t not in self.term_df}

    async def featurize(self, term_idf: Idf) -> None:
        """Rows for the articles found since the last call (their terms' frequencies are read by now); the
        first batch after a start finds tens of thousands: it yields to the event loop between slices."""
        new, self._new = self._new, []
        for n, member in enumerate(new, 1):
            if n % ROWS_SLICE == 0:
                await asyncio.sleep(0)
            c = self.found[member]
            if c.article_id in self.gone or member in self.rows:
                continue
            self.rows[member] = self.features.add(
                Doc(c.article_id, frozenset(c.tags), c.published_at, terms=c.terms), term_idf)
            self.ids.append(c.article_id)
            row = len(self.ids) - 1
            if row >= len(self._built):
                self._built = np.concatenate([self._built, np.zeros(len(self._built), dtype=np.int64)])
            self._built[row] = c.built

    def rows_of(self, members: list[bytes]) -> Rows:
        """The rows of a postings key's members, -1 for those no longer indexed."""
        n = len(members)  # map over a bound method and repeat(): C loops, not a generator's frames
        return np.fromiter(map(self.rows.get, members, itertools.repeat(-1, n)), dtype=np.int64, count=n)

    def built_at(self, rows: Rows) -> Rows:
        built: Rows = self._built[rows]
        return built


class RelatedIndexer:
    """The related-news index (writes, statistics) and its list builds."""

    def __init__(self, index: RelatedIndex, config: RelatedConfig, on_change: Callable[[], None],
                 claims: RelatedClaims | None = None, wall: Callable[[], float] = time.time) -> None:
        self.index = index
        self.config = config
        self.on_change = on_change  # the read side's caches are stale
        self.announce: Callable[[], Awaitable[None]] = _nobody  # and other replicas': after the writes
        self.claims = claims  # None: queued builds are read, not claimed (one builder)
        self.wall = wall
        self._df: dict[str, int] = {}
        self._sizes: dict[int, int] = {}
        self._idf: Idf | None = None
        self._known: _Known | None = None
        self._lock = asyncio.Lock()
        self._rows_lock = asyncio.Lock()  # featurize yields: one build maps postings to rows at a time
        self.wake = asyncio.Event()

    # ---- statistics -------------------------------------------------------------------------

    def idf(self) -> Idf:
        """Tag weights from the in-process copy of the document frequencies (memoised until they change)."""
        if self._idf is None:
            self._idf = Idf(self._df, sum(self._sizes.values()))
        return self._idf

    async def term_idf(self, terms: Iterable[str], known: dict[str, int] | None = None) -> Idf:
        """Term weights over the same catalog size, with the frequencies of `terms` read from Redis."""
        df = {} if known is None else known
        missing = {t for t in terms if t not in df}
        if missing:
            df.update(await self.index.term_df(missing))
            df.update((t, 0) for t in missing if t not in df)
        return Idf(df, self.idf().n)

    async def refresh_stats(self) -> None:
        """Reload tag frequencies written by other processes."""
        df, sizes = await self.index.stats()
        if (df, sizes) != (self._df, self._sizes):
            self._df, self._sizes, self._idf = df, sizes, None

    # ---- writes -----------------------------------------------------------------------------

    async def on_articles(self, articles: list[Article]) -> None:
        """Catalog hook: index a batch; build a small one now, queue a big one for the builder."""
        if not articles:
            return
        rules, language = self.config.rules, self.config.language
        latest = list({a.id: (doc_of(a, rules, language) if a.published else None) for a in articles}.items())
        defer = len(latest) > self.config.inline_batch
        for start in range(0, len(latest), INGEST_SLICE):  # a few ms of work per slice: requests get in between
            await self.ingest(latest[start : start + INGEST_SLICE], defer=defer)
        await self.announce()

    async def ingest(self, entries: Iterable[tuple[str, Doc | None]], defer: bool, bulk: bool = True) -> None:
        """Index articles (None: unpublished; terms are trimmed to the salient ones here), then build
        their lists or queue them (`bulk`: and hold builders back while the import goes on)."""
        entries = await self._salient(list(entries))
        olds = await self.index.swap(entries)
        changes = [(a, old, new) for (a, new), old in zip(entries, olds, strict=True) if old != new]
        self.on_change()
        if not changes:
            return
        applied = await self.index.apply([Change(*c) for c in changes], self.config.recent_cap, queued=defer,
                                         posted=self.config.rules.query_terms)
        self._df.update(applied.df)
        self._sizes.update(applied.shard_sizes)
        self._idf = None
        for _a, old, new in changes:  # pulled or re-featured: off the lists that had it (pushes re-add it)
            if old is not None and (new is None or (old.tags, old.terms) != (new.tags, new.terms)):
                await self._unlist(old)
        built = [new for _a, _old, new in changes if new is not None]
        if defer:
            await self.index.add_pending(built, applied.seq, self.config.bulk_quiet_s if bulk else 0)
            self.wake.set()
            return
        if built:
            await self.build_many([(doc, applied.seq) for doc in built])

    async def _salient(self, entries: list[tuple[str, Doc | None]]) -> list[tuple[str, Doc | None]]:
        """Keep each article's `max_terms` most salient terms, weighed by the catalog's frequencies."""
        idf = await self.term_idf({t for _a, d in entries if d for t, _c in d.terms})
        rules = self.config.rules
        return [(a, d._replace(terms=select_terms(dict(d.terms), idf, rules)) if d else None) for a, d in entries]

    async def pool(self, postings: list[str], around: int) -> dict[bytes, int]:
        """Articles -> publish time: per postings key the `per_tag_cap` nearest in time to `around`."""
        cap = self.config.per_tag_cap
        _seq, found = await self.index.pool(postings, around, cap)
        return {a: t for before, after in found for a, t in nearest(before, after, around, cap)}

    async def _unlist(self, old: Doc) -> None:
        idf = await self.term_idf(t for t, _c in old.terms)
        owners = [k for k, _t in postings_keys(old, self.idf(), idf, self.config.rules)]
        pool = await self.pool(owners, old.published_at)
        await self.index.unlist(old.article_id, pool)

    async def build_many(self, todo: Sequence[tuple[Doc, int]]) -> None:
        """Build lists of (article, sequence it was indexed at), in one read of the postings they need.

        Per uncommon tag and heavy term, each article's pool is the postings nearest in time (`per_tag_cap`
        and `per_term_cap`); its list is the best `candidates` of the pool by storage key. Articles close in
        time share most postings, so a batch in publish-time order reads each about once.
        """
        tag_idf, rules, cfg = self.idf(), self.config.rules, self.config
        known = self._known
        term_df = known.term_df if known is not None and known.idf is tag_idf else {}
        query_idf = await self.term_idf({t for d, _i in todo for t, _c in d.terms}, term_df)
        scanned = [postings_keys(doc, tag_idf, query_idf, rules) for doc, _i in todo]
        around: dict[str, list[int]] = defaultdict(list)
        for (doc, _i), ks in zip(todo, scanned, strict=True):
            for key, _term in ks:
                around[key].append(doc.published_at)
        seq, found = await self.index.postings({k: sorted(v) for k, v in around.items()},
                                               max(cfg.per_tag_cap, cfg.per_term_cap))
        async with self._rows_lock:  # a concurrent build (a read's) waits until every member has its row
            known = self._known_at(seq, tag_idf)
            known.term_df.update(term_df)
            members = set().union(*(members for members, _times in found.values()))  # set algebra in C
            known.add(await self.index.candidates(members.difference(known.found)))
            term_idf = await self.term_idf(known.missing_terms(), known.term_df)
            await known.featurize(term_idf)
            rows_of: dict[str, Rows] = {}
            for n, (k, (members_of_k, _times)) in enumerate(found.items(), 1):
                rows_of[k] = known.rows_of(members_of_k)
                if n % ROWS_SLICE == 0:
                    await asyncio.sleep(0)  # at 1,000,000 articles a batch reads millions of postings
        builds: list[Build] = []
        storing: asyncio.Task[None] | None = None
        try:
            for n, ((doc, indexed), ks) in enumerate(zip(todo, scanned, strict=True), 1):
                builds.append(self._computed(doc, indexed, [(found[k], rows_of[k], t) for k, t in ks if k in found],
                                             known, term_idf))
                if n % BUILD_SLICE == 0:
                    await asyncio.sleep(0)  # a few ms a list: requests get in between
                if len(builds) >= STORE_BATCH:
                    if storing is not None:
                        await storing
                    storing = asyncio.create_task(self.index.store(builds, seq, cfg.candidates))
                    builds = []
                    await asyncio.sleep(0)  # let it send: Redis writes these while the next ones are computed
        finally:
            if storing is not None:
                await storing
        if builds:
            await self.index.store(builds, seq, cfg.candidates)

    def _computed(self, doc: Doc, indexed: int, postings: list[tuple[tuple[list[bytes], list[int]], Rows, bool]],
                  known: _Known, term_idf: Idf) -> Build:
        """An article's list from its postings, and pushes into neighbours built before it was indexed."""
        spans = []
        for (_members, times), rows_of, is_term in postings:
            start, end = nearest_span(times, doc.published_at, self.config.per_term_cap if is_term
                                      else self.config.per_tag_cap)
            spans.append(rows_of[start:end])
        rows = np.unique(np.concatenate(spans)) if spans else np.zeros(0, dtype=np.int64)
        own = known.rows.get(doc.article_id.encode(), -1)
        rows = rows[(rows >= 0) & (rows != own)]  # -1: no longer indexed
        scores = known.features.keys(Query(doc, known.idf, term_idf, self.config.rules), rows)
        built = known.built_at(rows)
        pushed = np.flatnonzero((scores > 0) & (built > 0) & (built < indexed)).tolist()
        pushes = [(known.ids[r], k) for r, k in zip(rows[pushed].tolist(), scores[pushed].tolist(), strict=True)]
        top = best_rows(scores, self.config.candidates)
        items = best([known.ids[r] for r in rows[top].tolist()], scores[top].tolist(), self.config.candidates, ())
        return Build(doc.article_id, items, pushes)

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
            queued = await self._claim(batch or self.config.build_batch, unless_bulk)
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
                self.on_change()
                await self.announce()
            else:
                self._known = None
            return len(queued)

    async def _claim(self, batch: int, unless_bulk: bool) -> list[tuple[str, int]]:
        if self.claims is None:
            return await self.index.pending(batch, unless_bulk)
        return await self.claims.claim(batch, int(self.wall() * 1000), int(self.config.claim_s * 1000), unless_bulk)

    async def claim_one(self, article_id: str) -> None:
        """A read builds a queued list itself: claim it so a builder does not take it as well."""
        if self.claims is not None:
            await self.claims.claim_one(article_id, int(self.wall() * 1000), int(self.config.claim_s * 1000))

    async def rebuild_if_empty(self, store: ArticleStore, batch: int = 1000) -> int:
        """Index the whole catalog from SQLite when Redis lost the related index; lists are queued."""
        if await self.index.ready():
            return 0
        count = 0
        rules, language = self.config.rules, self.config.language
        async for articles in store.iter_articles(batch):
            await self.ingest([(a.id, doc_of(a, rules, language) if a.published else None) for a in articles],
                              True, bulk=False)
            count += len(articles)
        await self.index.mark_ready()
        await self.announce()
        if count:
            log.info("related index rebuilt from SQLite: %d articles indexed, lists queued", count)
        return count

    async def run(self, store: ArticleStore, may_run: Callable[[], Awaitable[bool]] = _anyone,
                  idle_s: float = 1.0) -> None:
        """Owned background task: rebuild a lost index and drain queued builds, each step only if `may_run()`
        (this process holds the worker lease)."""
        outage = OutageLog(log, "related builder")
        while True:
            built = 0
            try:
                if await may_run():
                    await self.rebuild_if_empty(store)  # one EXISTS a step: notices a loss while running
                    built = await self.build_pending(unless_bulk=True)
                outage.ok()
            except Exception as exc:
                outage.failed(exc)  # one line per outage, not one per step
            if not built:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow a cancel
                    async with asyncio.timeout(idle_s):
                        await self.wake.wait()
