"""Related news ranking (pure; no I/O).

Relevance mixes two similarities: the cosine of the articles' salient-term vectors (title and summary
stems, w = (1 + ln count) * ln(1 + N/df), the top `max_terms` per article, as Elasticsearch's
more_like_this picks them) and the IDF-weighted overlap of their tags, sum of w_t over shared tags /
sqrt(W_q * W_c). S = term_weight * S_terms + tag_weight * S_tags; equal tags make S high, never a
duplicate. A list's storage key scales S by recency relative to the query, S * (1 + r * R); a read
scales it by popularity, (1 + p * P), collapses copies of one story, lets MMR reorder near-equal
candidates (it never removes one) and fills the rest with zero-overlap fallbacks, which always come last.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

from ..records import Doc as Doc  # shared with storage: it lives in the leaf
from ..records import Terms as Terms
from .terms import title_key

DAY_S = 86_400
KEY_SCALE = 10_000  # storage keys are stored as integers: compact in Redis



@dataclass(frozen=True)
class Rules:
    """Every ranking knob (`Settings.related_*`)."""

    term_weight: float = 1.0
    tag_weight: float = 0.2
    recency_weight: float = 1.0
    half_life_days: float = 60.0
    popularity_weight: float = 0.3
    share_weight: float = 5.0  # popularity = views + share_weight * shares
    mmr_lambda: float = 0.85
    max_terms: int = 25
    query_terms: int = 12
    title_weight: int = 2
    gate_max_df: float = 0.10
    gate_min_catalog: int = 300
    fallback_days: float = 7.0


class Idf:
    """Weights w = ln(1 + N / df) over the published catalog (df 0 counts as 1: a preview's new word)."""

    def __init__(self, df: Mapping[str, int], n: int) -> None:
        self.df = df
        self.n = n
        self._weights: dict[str, float] = {}
        self._norms: dict[frozenset[str], float] = {}  # articles' W, reused while the frequencies hold

    def weight(self, key: str) -> float:
        w = self._weights.get(key)
        if w is None:
            w = self._weights[key] = math.log(1 + self.n / max(self.df.get(key, 0), 1))
        return w

    def doc_norm(self, tags: frozenset[str]) -> float:
        """W_a of an article's tag set, memoised."""
        found = self._norms.get(tags)
        if found is None:
            if len(self._norms) > 100_000:
                self._norms.clear()
            found = self._norms[tags] = self.norm(tags)
        return found

    def norm(self, tags: Iterable[str]) -> float:
        """W_a: the sum of the weights of a's tags."""
        return math.fsum([self.weight(t) for t in tags])

    def common(self, key: str, rules: Rules) -> bool:
        """Carried by more than `gate_max_df` of a catalog big enough to tell: not worth scanning."""
        return self.n >= rules.gate_min_catalog and self.df.get(key, 0) > rules.gate_max_df * self.n

    def scanned(self, tags: Iterable[str], rules: Rules) -> list[str]:
        """The tags whose postings a list build reads (all but the common ones)."""
        return sorted(t for t in tags if not self.common(t, rules))


@dataclass(frozen=True)
class Pick:
    """One entry of a related list; `shared` holds tag keys, heaviest first."""

    article_id: str
    score: float
    shared: tuple[str, ...]
    reason: str  # "tags" | "text" | "fallback"


# ---- terms ---------------------------------------------------------------------------------------


def select_terms(counts: Mapping[str, int], idf: Idf, rules: Rules) -> Terms:
    """The `max_terms` most salient terms, heaviest first: (1 + ln count) * w, ties by stem. The first
    `query_terms` of them are the article's postings; all of them score."""
    return tuple(heapq.nsmallest(rules.max_terms, counts.items(),
                                 key=lambda kv: (-(1 + math.log(kv[1])) * idf.weight(kv[0]), kv[0])))


def vector(terms: Terms, idf: Idf) -> dict[str, float]:
    """Unit-length tf-idf vector of an article's terms."""
    raw = {t: (1 + math.log(c)) * idf.weight(t) for t, c in terms if c > 0}
    norm = math.sqrt(math.fsum([x * x for x in raw.values()]))
    return {t: x / norm for t, x in raw.items()} if norm > 0 else {}


def query_terms(terms: Terms, idf: Idf, rules: Rules) -> list[str]:
    """The terms whose postings a build reads: the query's heaviest `query_terms`, none of them common."""
    vec = vector(terms, idf)
    heavy = sorted((t for t in vec if not idf.common(t, rules)), key=lambda t: (-vec[t], t))
    return sorted(heavy[: rules.query_terms])


# ---- similarity ----------------------------------------------------------------------------------


def tag_similarity(a: frozenset[str], b: frozenset[str], idf: Idf, norm_a: float | None = None,
                   norm_b: float | None = None) -> float:
    """S_tags(a, b): IDF-weighted overlap of two tag sets, 1.0 for equal sets."""
    shared = a & b
    if not shared:
        return 0.0
    denom = math.sqrt((idf.norm(a) if norm_a is None else norm_a) * (idf.norm(b) if norm_b is None else norm_b))
    return idf.norm(shared) / denom if denom > 0 else 0.0


def dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Of two sparse vectors: the shared keys found by a set intersection (most pairs share one or two)."""
    shared = a.keys() & b.keys()
    return math.fsum([a[t] * b[t] for t in shared]) if shared else 0.0  # fsum: exact whatever the order


def recency(query_at: int, doc_at: int, half_life_days: float) -> float:
    """R in (0, 1]: halves every half-life away from the query's publish time, either way."""
    return float(0.5 ** (abs(doc_at - query_at) / (half_life_days * DAY_S)))


class Query:
    """A query article prepared for scoring many candidates: its term vector and tag norm, once."""

    def __init__(self, doc: Doc, tag_idf: Idf, term_idf: Idf, rules: Rules,
                 vectors: dict[str, dict[str, float]] | None = None) -> None:
        self.doc = doc
        self.tag_idf = tag_idf
        self.term_idf = term_idf
        self.rules = rules
        self.vectors = {} if vectors is None else vectors  # candidates' vectors, shared by the queries of a build
        self.vector = vector(doc.terms, term_idf)
        self.tag_norm = tag_idf.norm(doc.tags)

    def _vector(self, doc: Doc) -> dict[str, float]:
        found = self.vectors.get(doc.article_id)
        if found is None:
            found = self.vectors[doc.article_id] = vector(doc.terms, self.term_idf)
        return found

    def relevance(self, doc: Doc) -> float:
        """S = term_weight * S_terms + tag_weight * S_tags (0 when nothing is shared)."""
        rules = self.rules
        s_tags = 0.0
        shared = self.doc.tags & doc.tags
        if shared:  # tag_similarity, with the intersection and the query's norm computed once
            denom = math.sqrt(self.tag_norm * self.tag_idf.doc_norm(doc.tags))
            s_tags = self.tag_idf.norm(shared) / denom if denom > 0 else 0.0
        s_terms = dot(self.vector, self._vector(doc)) if doc.terms and self.vector else 0.0
        return rules.term_weight * s_terms + rules.tag_weight * s_tags

    def key(self, doc: Doc) -> int:
        """The storage key of a candidate: S * (1 + r * R), as an integer; 0 when nothing is shared."""
        s = self.relevance(doc)
        if s <= 0:
            return 0
        r = recency(self.doc.published_at, doc.published_at, self.rules.half_life_days)
        return max(1, round(s * (1 + self.rules.recency_weight * r) * KEY_SCALE))


def storage_keys(query: Doc, docs: Iterable[Doc], tag_idf: Idf, term_idf: Idf, rules: Rules) -> list[int]:
    """The storage key of each doc as a candidate of `query`."""
    prepared = Query(query, tag_idf, term_idf, rules)
    return [prepared.key(d) for d in docs]


def shortlist(query: Doc, docs: Iterable[Doc], tag_idf: Idf, term_idf: Idf, rules: Rules,
              size: int) -> list[tuple[str, int]]:
    """The `size` best overlapping candidates of `query` by storage key (what its precomputed list holds)."""
    others = [d for d in docs if d.article_id != query.article_id]
    return best([d.article_id for d in others], storage_keys(query, others, tag_idf, term_idf, rules), size, ())


def best(ids: Sequence[str], keys: Sequence[int], size: int, skip: Collection[str]) -> list[tuple[str, int]]:
    """The `size` highest positive keys over distinct ids not in `skip`, ties by id."""
    found = {a: k for a, k in zip(ids, keys, strict=True) if k > 0 and a not in skip}
    return [(a, k) for k, a in heapq.nlargest(size, ((k, a) for a, k in found.items()))]


def nearest_span(times: Sequence[int], around: int, k: int) -> tuple[int, int]:
    """[start, end) of the k entries nearest in time to `around` in ascending `times`, with the
    tie-break of the index reads: the earlier entry wins at equal distance."""
    if len(times) <= k:
        return 0, len(times)
    pos = bisect.bisect_right(times, around)
    after_end = min(len(times), pos + k)
    lo, hi = max(0, k - (len(times) - pos)), min(k, pos)
    while lo < hi:  # the most entries before `around` that all rank among the first k
        mid = (lo + hi + 1) // 2
        closer_after = bisect.bisect_left(times, 2 * around - times[pos - mid], pos, after_end) - pos
        if mid - 1 + closer_after < k:
            lo = mid
        else:
            hi = mid - 1
    return pos - lo, pos + min(k - lo, len(times) - pos)


def nearest(before: list[tuple[bytes, int]], after: list[tuple[bytes, int]], around: int,
            k: int) -> list[tuple[bytes, int]]:
    """The k entries nearest in time, from two lists that start at `around` and move away from it."""
    if len(before) + len(after) <= k:
        return before + after
    out: list[tuple[bytes, int]] = []
    i = j = 0
    while len(out) < k:
        if j >= len(after) or (i < len(before) and around - before[i][1] <= after[j][1] - around):
            out.append(before[i])
            i += 1
        else:
            out.append(after[j])
            j += 1
    return out


# ---- reads: popularity, duplicates, diversity, fallback ------------------------------------------


def popularity(views: int, shares: int, rules: Rules) -> float:
    """P's input: a share says more than a view."""
    return float(views + rules.share_weight * shares)


class Listed(NamedTuple):
    """A candidate as a read sees it: its doc, storage key, title and URL."""

    doc: Doc
    key: int
    title: str
    url: str


@functools.lru_cache(maxsize=1 << 16)  # once per candidate of every read: urlsplit is not cheap
def story_key(url: str) -> str:
    """What two copies of one page share: host and path, without scheme, query, fragment or final slash."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').removeprefix('www.')}{parts.path.rstrip('/')}"


def _visible(doc: Doc, query: Doc, now: int, exclude: Collection[str]) -> bool:
    return (doc.published and doc.published_at <= now and doc.article_id != query.article_id
            and doc.article_id not in exclude)


def collapse(items: Iterable[Listed], query: Listed | None = None) -> list[Listed]:
    """One of each story (same canonical URL or the same title): the earliest published; the query's copies go."""
    seen: set[str] = set()
    if query is not None:
        seen.update((story_key(query.url), title_key(query.title)))
    out: list[Listed] = []
    for item in sorted(items, key=lambda i: (i.doc.published_at, i.doc.article_id)):
        marks = {story_key(item.url), title_key(item.title)}
        if seen.isdisjoint(marks):
            out.append(item)
        seen.update(marks)
    return out


def rank(query: Listed, listed: Iterable[Listed], idf: Idf, rules: Rules, limit: int, now: int,
         exclude: Collection[str] = frozenset()) -> list[Pick]:
    """Overlapping candidates by key * (1 + p * P), one per story, reordered (never thinned) by MMR."""
    items = collapse([i for i in listed if i.key > 0 and _visible(i.doc, query.doc, now, exclude)], query)
    top_pop = max((math.log1p(i.doc.popularity) for i in items), default=0.0)

    def base(i: Listed) -> float:
        p = math.log1p(i.doc.popularity) / top_pop if top_pop > 0 else 0.0
        return i.key / KEY_SCALE * (1 + rules.popularity_weight * p)

    scored = sorted(((base(i), i) for i in items), key=lambda bi: (-bi[0], -bi[1].doc.published_at,
                                                                   bi[1].doc.article_id))
    picked = _mmr(scored[: max(limit, 0) + 8], limit, idf, rules)
    return [Pick(i.doc.article_id, b, _shared(query.doc.tags, i.doc.tags, idf),
                 "tags" if query.doc.tags & i.doc.tags else "text") for b, i in picked]


def _mmr(scored: list[tuple[float, Listed]], limit: int, idf: Idf, rules: Rules) -> list[tuple[float, Listed]]:
    """Maximal marginal relevance over tag similarity: a second story with the same tags may move down
    behind a near-equal different one; every candidate stays (the list is only reordered)."""
    top = scored[0][0] if scored else 0.0
    remaining = list(scored)
    maxsim = [0.0] * len(remaining)
    lam = rules.mmr_lambda
    picked: list[tuple[float, Listed]] = []
    while remaining and len(picked) < limit:
        values = [lam * (b / top if top > 0 else 0.0) - (1 - lam) * m for (b, _i), m in zip(remaining, maxsim,
                                                                                              strict=True)]
        at = max(range(len(values)), key=lambda n: (values[n], -n))
        chosen = remaining.pop(at)
        maxsim.pop(at)
        picked.append(chosen)
        for n, (_b, i) in enumerate(remaining):
            maxsim[n] = max(maxsim[n], tag_similarity(i.doc.tags, chosen[1].doc.tags, idf))
    return picked


def _shared(query: frozenset[str], doc: frozenset[str], idf: Idf) -> tuple[str, ...]:
    return tuple(sorted(query & doc, key=lambda t: (-idf.weight(t), t)))


def fallback(query: Listed, pool: Iterable[Listed], chosen: Sequence[Listed], limit: int, now: int, idf: Idf,
             exclude: Collection[str] = frozenset()) -> list[Pick]:
    """Zero-overlap fill: recent articles sharing the section first, then the most read and newest."""
    taken = {c.doc.article_id for c in chosen}
    items = [i for i in pool if _visible(i.doc, query.doc, now, exclude) and i.doc.article_id not in taken]
    seen: set[str] = {story_key(query.url), title_key(query.title)}
    for c in chosen:
        seen.update((story_key(c.url), title_key(c.title)))
    items.sort(key=lambda i: (not _close(query.doc, i.doc), -i.doc.popularity, -i.doc.published_at,
                              i.doc.article_id))
    out: list[Pick] = []
    for item in items:
        if len(out) >= limit:
            break
        marks = {story_key(item.url), title_key(item.title)}
        if seen.isdisjoint(marks):
            out.append(Pick(item.doc.article_id, 0.0, _shared(query.doc.tags, item.doc.tags, idf), "fallback"))
        seen.update(marks)
    return out


def _close(query: Doc, doc: Doc) -> bool:
    return query.section != "" and query.section == doc.section
