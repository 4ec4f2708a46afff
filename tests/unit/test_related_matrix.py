"""Bulk scoring equals the scalar formula it stands for, candidate by candidate."""

from __future__ import annotations

import random

import numpy as np
import pytest

from service.domain.related import DAY_S, Doc, Idf, Query, Rules, best
from service.domain.related_matrix import Features, best_rows

NOW = 1_800_000_000
VOCAB = [f"w{i}" for i in range(60)]
TAGS = [f"t{i}" for i in range(12)]


def random_doc(rng: random.Random, n: int) -> Doc:
    terms = tuple(sorted((w, rng.randint(1, 4)) for w in rng.sample(VOCAB, rng.randint(0, 8))))
    return Doc(f"a{n}", frozenset(rng.sample(TAGS, rng.randint(0, 4))), NOW - rng.randint(0, 400) * DAY_S,
               terms=terms)


@pytest.mark.parametrize("seed", range(8))
def test_bulk_keys_equal_query_key(seed: int) -> None:
    rng = random.Random(seed)
    docs = [random_doc(rng, n) for n in range(300)]
    docs.append(Doc("bare", frozenset(), NOW))  # shares nothing with anyone
    tag_idf = Idf({t: rng.randint(1, 80) for t in TAGS}, 300)
    term_idf = Idf({w: rng.randint(1, 120) for w in VOCAB}, 300)
    term_weight = [0.0, 1.0, 2.5][seed % 3]
    rules = Rules(term_weight=term_weight, tag_weight=rng.choice([0.2, 1.0] if term_weight == 0 else [0.0, 0.2, 1.0]),
                  recency_weight=rng.choice([0.0, 1.0]), half_life_days=rng.choice([14.0, 60.0]))
    features = Features(tag_idf)
    rows = [features.add(d, term_idf) for d in docs]
    assert rows == list(range(301))
    assert features.add(docs[5], term_idf) == 5  # an article is one row
    seen: set[bool] = set()
    for q in docs[:20]:
        query = Query(q, tag_idf, term_idf, rules)
        picked = rng.sample(rows, 120)
        bulk = features.keys(query, picked).tolist()
        assert bulk == [query.key(docs[r]) for r in picked]
        seen.update(k > 0 for k in bulk)
    assert seen == {True, False}  # the cases score some candidates and not others


def test_no_rows_and_no_shared_features_score_zero() -> None:
    features = Features(Idf({}, 10))
    lonely = Doc("q", frozenset({"x"}), NOW, terms=(("word", 1),))
    query = Query(lonely, Idf({}, 10), Idf({}, 10), Rules())
    assert features.keys(query, []).tolist() == []
    features.add(Doc("a", frozenset({"y"}), NOW, terms=(("other", 2),)), Idf({}, 10))
    features.add(Doc("b", frozenset(), NOW), Idf({}, 10))
    assert features.keys(query, [0, 1]).tolist() == [0, 0]


def test_best_rows_keep_every_tie_at_the_edge() -> None:
    keys = np.array([5, 0, 9, 5, 7, 5, -1, 3], dtype=np.int64)
    assert sorted(best_rows(keys, 3).tolist()) == [0, 2, 3, 4, 5]  # 9, 7 and all three 5s
    assert sorted(best_rows(keys, 10).tolist()) == [0, 2, 3, 4, 5, 7]  # positive keys only
    ids = [f"a{i}" for i in range(len(keys))]
    top = best_rows(keys, 3).tolist()
    assert best([ids[i] for i in top], [int(keys[i]) for i in top], 3, ()) == best(ids, keys.tolist(), 3, ())
