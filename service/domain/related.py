"""Related news ranking (pure; no I/O).

Relevance is an IDF-weighted cosine over tag keys: w_t = ln(1 + N/df_t) and
S(q, c) = sum of w_t over shared tags / sqrt(W_q * W_c), W_a the sum over a's tags. A candidate
qualifies when it shares a rare tag (df <= 10% of N, once the catalog is big enough) and S reaches
the minimum. Recency relative to the query's publish time and popularity scale relevance, bounded:
base = S * (1 + R) * (1 + 0.3 * P). MMR then picks a diverse list and drops near-duplicates.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import add, mul, not_, sub, truediv
from typing import NamedTuple

DAY_S = 86_400
QUALIFIED_BONUS = 4.0  # storage keys: every qualified candidate above every other one (S * (1 + R) <= 2)
KEY_SCALE = 10_000  # storage keys are stored as integers: compact in Redis


@dataclass(frozen=True)
class Rules:
    """Every ranking knob (`Settings.related_*`)."""

    min_score: float = 0.15
    gate_max_df: float = 0.10
    gate_min_catalog: int = 300
    half_life_days: float = 14.0
    popularity_weight: float = 0.3
    mmr_lambda: float = 0.7
    near_duplicate: float = 0.9
    fallback_days: float = 7.0


class Idf:
    """Tag weights w_t = ln(1 + N / df_t) over the published catalog."""

    def __init__(self, df: Mapping[str, int], n: int) -> None:
        self.df = df
        self.n = n
        self._weights: dict[str, float] = {}
        self._norms: dict[frozenset[str], float] = {}  # articles' W, reused while the frequencies hold

    def weight(self, tag: str) -> float:
        """w_t; a tag no published article carries counts as df 1 (a preview's new tag)."""
        w = self._weights.get(tag)
        if w is None:
            w = self._weights[tag] = math.log(1 + self.n / max(self.df.get(tag, 0), 1))
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
        weights = self._weights
        try:
            return math.fsum([weights[t] for t in tags])
        except KeyError:
            return math.fsum([self.weight(t) for t in tags])

    def rare(self, tag: str, rules: Rules) -> bool:
        return self.df.get(tag, 0) <= rules.gate_max_df * self.n

    def gated(self, rules: Rules) -> bool:
        """The rarity gate applies once the catalog has a few hundred articles."""
        return self.n >= rules.gate_min_catalog

    def scanned(self, tags: Iterable[str], rules: Rules) -> list[str]:
        """The tags whose postings can yield a qualified candidate (all of them until the gate applies)."""
        gated = self.gated(rules)
        return sorted(t for t in tags if not gated or self.rare(t, rules))


class Doc(NamedTuple):
    """An article as ranking sees it: tag keys, epoch seconds, views + 5 x shares (a tuple: cheap to build)."""

    article_id: str
    tags: frozenset[str]
    published_at: int
    section: str = ""
    popularity: float = 0.0
    published: bool = True


@dataclass(frozen=True)
class Pick:
    """One entry of a related list; `shared` holds tag keys, heaviest first."""

    article_id: str
    score: float
    shared: tuple[str, ...]
    reason: str  # "tags" | "fallback"


@dataclass
class _Scored:
    doc: Doc
    norm: float
    relevance: float
    base: float = 0.0


def similarity(a: frozenset[str], b: frozenset[str], idf: Idf, norm_a: float | None = None,
               norm_b: float | None = None) -> float:
    """S(a, b): IDF-weighted cosine of two tag sets."""
    shared = a & b
    if not shared:
        return 0.0
    denom = math.sqrt((idf.norm(a) if norm_a is None else norm_a) * (idf.norm(b) if norm_b is None else norm_b))
    return idf.norm(shared) / denom if denom > 0 else 0.0


def qualifies(query: frozenset[str], doc: frozenset[str], score: float, idf: Idf, rules: Rules) -> bool:
    """Minimum score, and (in a big enough catalog) at least one shared rare tag."""
    if score < rules.min_score:
        return False
    return not idf.gated(rules) or any(idf.rare(t, rules) for t in query & doc)


def recency(query_at: int, doc_at: int, half_life_days: float) -> float:
    """R in (0, 1]: halves every half-life away from the query's publish time, either way."""
    return float(0.5 ** (abs(doc_at - query_at) / (half_life_days * DAY_S)))


def shared_tags(query: frozenset[str], doc: frozenset[str], idf: Idf) -> tuple[str, ...]:
    return tuple(sorted(query & doc, key=lambda t: (-idf.weight(t), t)))


def storage_keys(query: Doc, docs: Iterable[Doc], idf: Idf, rules: Rules) -> list[int]:
    """Order of a precomputed candidate list: qualified first, then S * (1 + R); one key per doc.

    The hot loop of list builds: the query's weights and rare tags are looked up once.
    """
    weights = {t: idf.weight(t) for t in query.tags}
    rare = frozenset(t for t in query.tags if idf.rare(t, rules))
    gated = idf.gated(rules)
    qnorm = idf.norm(query.tags)
    per_s = 1 / (rules.half_life_days * DAY_S)
    out: list[int] = []
    for doc in docs:
        shared = query.tags & doc.tags
        if not shared:
            out.append(0)
            continue
        denom = math.sqrt(qnorm * idf.doc_norm(doc.tags))
        score = math.fsum([weights[t] for t in shared]) / denom if denom > 0 else 0.0
        key = score * (1 + 0.5 ** (abs(doc.published_at - query.published_at) * per_s))
        if score >= rules.min_score and (not gated or not rare.isdisjoint(shared)):
            key += QUALIFIED_BONUS  # the same test as qualifies()
        out.append(round(key * KEY_SCALE))
    return out


def storage_key(query: Doc, doc: Doc, idf: Idf, rules: Rules) -> int:
    return storage_keys(query, [doc], idf, rules)[0]


def shortlist(query: Doc, docs: Iterable[Doc], idf: Idf, rules: Rules, size: int) -> list[tuple[str, int]]:
    """The `size` best candidates of `query` by storage key (what its precomputed list holds)."""
    others = [d for d in docs if d.article_id != query.article_id]
    return top(others, storage_keys(query, others, idf, rules), size)


def top(docs: list[Doc], keys: list[int], size: int) -> list[tuple[str, int]]:
    best = heapq.nlargest(size, zip(keys, (d.article_id for d in docs), strict=True))
    return [(article_id, key) for key, article_id in best]


# ---- list builds in bulk ------------------------------------------------------------------------
# The same keys as storage_keys, for pools read as windows of tag postings: one window is scored with
# C-level maps over its columns (no per-candidate Doc), which is what makes a catalog of a million
# articles buildable in minutes. tests/unit/test_related_ranking.py checks both agree.


class Postings(NamedTuple):
    """Columns of a tag's postings around some queries, ascending by (publish time, id); stretches
    far apart may follow each other, each holding every window it was read for."""

    tag: str
    ids: list[str]
    times: list[int]
    tags: list[tuple[str, ...]]  # tag keys of each article; () for one no longer indexed
    norms: Sequence[float]  # W of each article (1.0 without tags: it scores 0 either way)
    clean: bool  # every article carries `tag` (not so when a retag raced the read)


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


class _SharedWeight(dict[frozenset[str], float]):
    """Shared tag set -> the sum of its weights (a query's candidates share few distinct sets)."""

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        self.weights = weights

    def __missing__(self, shared: frozenset[str]) -> float:
        value = self[shared] = math.fsum([self.weights[t] for t in shared])
        return value


class _Bonus(dict[frozenset[str], float]):
    """Shared tag set -> QUALIFIED_BONUS when it passes the rarity gate (nothing shared never does)."""

    def __init__(self, rare: frozenset[str], gated: bool) -> None:
        super().__init__()
        self.rare = rare
        self.gated = gated

    def __missing__(self, shared: frozenset[str]) -> float:
        passes = bool(shared) and (not self.gated or not self.rare.isdisjoint(shared))
        value = self[shared] = QUALIFIED_BONUS if passes else 0.0
        return value


def pool_keys(query: Doc, windows: Iterable[tuple[Postings, int, int]], idf: Idf,
              rules: Rules) -> tuple[list[str], list[int]]:
    """(ids, storage keys) of the articles in postings windows (start, end), window after window:
    the keys storage_keys gives them; an article in two windows comes twice."""
    qtags, at = query.tags, query.published_at
    qnorm = idf.norm(qtags)
    ids: list[str] = []
    keys: list[int] = []
    if qnorm <= 0:  # an empty catalog's weights: no scores to speak of, let the reference say so
        for p, start, end in windows:
            docs = [Doc(a, frozenset(tags), t) for a, tags, t in
                    zip(p.ids[start:end], p.tags[start:end], p.times[start:end], strict=True)]
            ids += p.ids[start:end]
            keys += storage_keys(query, docs, idf, rules)
        return ids, keys
    weights = {t: idf.weight(t) for t in qtags}
    shared_weight = _SharedWeight(weights)
    rare = frozenset(t for t in qtags if idf.rare(t, rules))
    gated = idf.gated(rules)
    bonus = _Bonus(rare, gated)
    per_s = 1 / (rules.half_life_days * DAY_S)
    minimum = float(rules.min_score)
    for p, start, end in windows:
        tags = p.tags[start:end]
        denoms = map(math.sqrt, map(mul, repeat(qnorm), p.norms[start:end]))
        if p.clean and p.tag in qtags and (not gated or p.tag in rare):
            # all share p.tag, which passes the gate; most share nothing else
            shared = [weights[p.tag]] * len(tags)
            others = qtags - {p.tag}
            for i in compress(range(len(tags)), map(not_, map(others.isdisjoint, tags))):
                shared[i] = shared_weight[qtags.intersection(tags[i])]
            scores = list(map(truediv, shared, denoms))
            bonuses = map(mul, map(minimum.__le__, scores), repeat(QUALIFIED_BONUS))
        else:
            sets = list(map(qtags.intersection, tags))
            scores = list(map(truediv, map(shared_weight.__getitem__, sets), denoms))
            bonuses = map(mul, map(minimum.__le__, scores), map(bonus.__getitem__, sets))
        recency = map(pow, repeat(0.5), map(mul, map(abs, map(sub, p.times[start:end], repeat(at))), repeat(per_s)))
        relevance = map(mul, scores, map((1.0).__add__, recency))  # S * (1 + R)
        keys += map(round, map(mul, map(add, relevance, bonuses), repeat(KEY_SCALE)))
        ids += p.ids[start:end]
    return ids, keys


def best(ids: list[str], keys: list[int], size: int, skip: Collection[str]) -> list[tuple[str, int]]:
    """`top` over the distinct ids not in `skip` (an id listed twice has the same key both times)."""
    margin = size + 16
    if len(keys) > 2 * margin:  # keep what can beat the margin-th key: exact once `size` ids remain
        floor = sorted(keys)[-margin]
        found = {a: k for a, k in compress(zip(ids, keys, strict=True), map(floor.__le__, keys)) if a not in skip}
        if len(found) < size:
            found = {a: k for a, k in zip(ids, keys, strict=True) if a not in skip}
    else:
        found = {a: k for a, k in zip(ids, keys, strict=True) if a not in skip}
    return [(a, k) for k, a in heapq.nlargest(size, zip(found.values(), found.keys(), strict=True))]


def _visible(doc: Doc, query: Doc, now: int, exclude: frozenset[str]) -> bool:
    return (doc.published and doc.published_at <= now and doc.article_id != query.article_id
            and doc.article_id not in exclude)


def _order(s: _Scored) -> tuple[float, int, str]:
    return (-s.base, -s.doc.published_at, s.doc.article_id)


def _score(query: Doc, docs: Iterable[Doc], idf: Idf, rules: Rules, now: int, exclude: frozenset[str]) -> list[_Scored]:
    qnorm = idf.norm(query.tags)
    scored: list[_Scored] = []
    for doc in docs:
        if not _visible(doc, query, now, exclude):
            continue
        norm = idf.norm(doc.tags)
        score = similarity(query.tags, doc.tags, idf, qnorm, norm)
        if score < rules.near_duplicate and qualifies(query.tags, doc.tags, score, idf, rules):
            scored.append(_Scored(doc, norm, score))
    top = max((math.log1p(s.doc.popularity) for s in scored), default=0.0)
    for s in scored:
        p = math.log1p(s.doc.popularity) / top if top > 0 else 0.0
        r = recency(query.published_at, s.doc.published_at, rules.half_life_days)
        s.base = s.relevance * (1 + r) * (1 + rules.popularity_weight * p)
    return scored


def _mmr(scored: list[_Scored], limit: int, idf: Idf, rules: Rules) -> list[_Scored]:
    top = max((s.base for s in scored), default=0.0)
    remaining = sorted(scored, key=_order)
    maxsim = {s.doc.article_id: 0.0 for s in remaining}
    lam = rules.mmr_lambda
    picked: list[_Scored] = []
    while remaining and len(picked) < limit:
        best, best_value = remaining[0], -math.inf
        for s in remaining:
            value = lam * (s.base / top if top > 0 else 0.0) - (1 - lam) * maxsim[s.doc.article_id]
            if value > best_value:
                best, best_value = s, value
        picked.append(best)
        keep: list[_Scored] = []
        for s in remaining:
            if s is best:
                continue
            sim = similarity(s.doc.tags, best.doc.tags, idf, s.norm, best.norm)
            if sim < rules.near_duplicate:  # a near-duplicate of a picked item is dropped
                maxsim[s.doc.article_id] = max(maxsim[s.doc.article_id], sim)
                keep.append(s)
        remaining = keep
    return picked


def rank(query: Doc, docs: Iterable[Doc], idf: Idf, rules: Rules, limit: int, now: int,
         exclude: frozenset[str] = frozenset()) -> list[Pick]:
    """Tag-related picks: qualified candidates by base score, diversified with MMR."""
    picked = _mmr(_score(query, docs, idf, rules, now, exclude), limit, idf, rules)
    return [Pick(s.doc.article_id, s.base, shared_tags(query.tags, s.doc.tags, idf), "tags") for s in picked]


def fallback(query: Doc, docs: Iterable[Doc], chosen: list[Doc], limit: int, now: int, idf: Idf, rules: Rules,
             exclude: frozenset[str] = frozenset()) -> list[Pick]:
    """Most-read recent articles sharing the section or a tag, then most-read recent overall."""
    oldest = now - rules.fallback_days * DAY_S
    taken = {d.article_id for d in chosen}
    pool = [d for d in docs if _visible(d, query, now, exclude) and d.published_at >= oldest
            and d.article_id not in taken]
    pool.sort(key=lambda d: (not _close(query, d), -d.popularity, -d.published_at, d.article_id))
    out: list[Pick] = []
    chosen = list(chosen)
    for doc in pool:
        if len(out) >= limit:
            break
        if _near_duplicate(doc, [query, *chosen], idf, rules):
            continue
        out.append(Pick(doc.article_id, 0.0, shared_tags(query.tags, doc.tags, idf), "fallback"))
        chosen.append(doc)
    return out


def _close(query: Doc, doc: Doc) -> bool:
    return bool(query.tags & doc.tags) or (query.section != "" and query.section == doc.section)


def _near_duplicate(doc: Doc, others: list[Doc], idf: Idf, rules: Rules) -> bool:
    return any(similarity(doc.tags, o.tags, idf) >= rules.near_duplicate for o in others)
