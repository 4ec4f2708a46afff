"""Candidate scoring in bulk (pure; no I/O): the storage key of `Query.key`, for thousands of candidates at once.

A list build scores every article of its pool, a few thousand at a million articles. Candidates are rows of
two padded sparse matrices (unit tf-idf term vectors, tag weights: column ids and values, column 0 an unused
pad), so a query costs a few array operations instead of a Python loop per candidate. The formula is
`Query.key`'s; a property test holds the two equal.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .related import DAY_S, KEY_SCALE, Doc, Idf, Query, vector

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Cols = NDArray[np.int32]


class _Padded:
    """Rows of (column id, value) pairs padded to the widest row so far with column 0, value 0."""

    def __init__(self, width: int) -> None:
        self.cols: Cols = np.zeros((16, width), dtype=np.int32)
        self.vals: Floats = np.zeros((16, width), dtype=np.float64)
        self.names: dict[str, int] = {}  # column ids from 1
        self._dense: Floats = np.zeros(1)  # a query's weights by column, zero between queries

    def put(self, row: int, entries: dict[str, float]) -> None:
        if row >= len(self.cols) or len(entries) > self.cols.shape[1]:
            self._grow(max(len(self.cols), 2 * row + 1), max(self.cols.shape[1], len(entries)))
        for n, (name, value) in enumerate(entries.items()):
            col = self.names.get(name)
            if col is None:
                col = self.names[name] = len(self.names) + 1
            self.cols[row, n] = col
            self.vals[row, n] = value

    def _grow(self, rows: int, width: int) -> None:
        cols, vals = np.zeros((rows, width), dtype=np.int32), np.zeros((rows, width), dtype=np.float64)
        used, wide = self.cols.shape
        cols[:used, :wide], vals[:used, :wide] = self.cols, self.vals
        self.cols, self.vals = cols, vals

    def dots(self, rows: Ints, query: dict[str, float]) -> Floats:
        """Per row, the sum of its values times the query's weight of their column."""
        if len(self._dense) <= len(self.names):
            self._dense = np.zeros(2 * len(self.names) + 1)
        dense = self._dense
        cols = [self.names[name] for name in query if name in self.names]
        dense[cols] = [query[name] for name in query if name in self.names]
        try:
            sums: Floats = (dense[self.cols[rows]] * self.vals[rows]).sum(axis=1)
        finally:
            dense[cols] = 0.0
        return sums


class Features:
    """Candidates' term vectors, tag weights and publish times, one row per article, added as builds find them.

    Weights are fixed when a row is added: the frequencies must not change while one `Features` lives
    (a build's cache of candidates is dropped when they do).
    """

    def __init__(self, tag_idf: Idf, terms_width: int = 25) -> None:
        self.tag_idf = tag_idf
        self.rows: dict[str, int] = {}
        self._terms = _Padded(terms_width)
        self._tags = _Padded(4)
        self._tag_norm: Floats = np.zeros(16)
        self._published: Ints = np.zeros(16, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, doc: Doc, term_idf: Idf) -> int:
        """The row of an article, added on first sight."""
        row = self.rows.get(doc.article_id)
        if row is not None:
            return row
        row = self.rows[doc.article_id] = len(self.rows)
        self._terms.put(row, vector(doc.terms, term_idf))
        self._tags.put(row, {t: self.tag_idf.weight(t) for t in doc.tags})
        if row >= len(self._published):
            self._tag_norm = np.concatenate([self._tag_norm, np.zeros(len(self._tag_norm) + 1)])
            self._published = np.concatenate([self._published, np.zeros(len(self._published) + 1, dtype=np.int64)])
        self._tag_norm[row] = self.tag_idf.doc_norm(doc.tags)
        self._published[row] = doc.published_at
        return row

    def keys(self, query: Query, rows: Ints | list[int]) -> Ints:
        """`query.key` of each row: S * (1 + r * R) as an integer, 0 when nothing is shared."""
        at = np.asarray(rows, dtype=np.int64)
        rules = query.rules
        s_terms = self._terms.dots(at, query.vector)
        shared = self._tags.dots(at, dict.fromkeys(query.doc.tags, 1.0))
        denom = np.sqrt(query.tag_norm * self._tag_norm[at])
        s_tags = np.divide(shared, denom, out=np.zeros(len(at)), where=(denom > 0) & (shared > 0))
        s = rules.term_weight * s_terms + rules.tag_weight * s_tags
        r = 0.5 ** (np.abs(self._published[at] - query.doc.published_at) / (rules.half_life_days * DAY_S))
        key = np.maximum(1, np.rint(s * (1 + rules.recency_weight * r) * KEY_SCALE)).astype(np.int64)
        out: Ints = np.where(s > 0, key, 0)
        return out


def best_rows(keys: Ints, size: int) -> Ints:
    """Indexes of the entries that can be among the `size` highest positive keys (every tie at the edge kept)."""
    positive = np.flatnonzero(keys > 0)
    if len(positive) <= size:
        return positive
    edge = np.partition(keys[positive], len(positive) - size)[len(positive) - size]
    top: Ints = positive[keys[positive] >= edge]
    return top
