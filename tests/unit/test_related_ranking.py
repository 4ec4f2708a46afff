"""The pure ranking rules, each on a case small enough to compute by hand."""

from __future__ import annotations

import math
import random

import pytest

from service.domain.related import (
    DAY_S,
    KEY_SCALE,
    QUALIFIED_BONUS,
    Doc,
    Idf,
    Pick,
    Postings,
    Rules,
    best,
    fallback,
    nearest_span,
    pool_keys,
    qualifies,
    rank,
    recency,
    shortlist,
    similarity,
    storage_key,
    storage_keys,
    top,
)
from service.storage.related_index import _nearest

NOW = 1_800_000_000
RULES = Rules()


def doc(article_id: str, *tags: str, at: int = NOW - DAY_S, section: str = "", popularity: float = 0.0,
        published: bool = True) -> Doc:
    return Doc(article_id, frozenset(tags), at, section, popularity, published)


def ids(picks: list[Pick]) -> list[str]:
    return [p.article_id for p in picks]


def test_weight_is_log_of_one_plus_n_over_df() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 50}, 100)
    assert idf.weight("a") == pytest.approx(4.61512, abs=1e-5)  # ln(1 + 100/1) = ln 101
    assert idf.weight("b") == pytest.approx(2.39790, abs=1e-5)  # ln 11
    assert idf.weight("c") == pytest.approx(1.09861, abs=1e-5)  # ln 3
    assert idf.weight("unknown") == pytest.approx(4.61512, abs=1e-5)  # df 0 counts as 1
    assert Idf({}, 0).weight("a") == 0.0


def test_similarity_is_idf_weighted_cosine() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 50}, 100)
    # shared b: 2.39790 / sqrt((4.61512 + 2.39790) * (2.39790 + 1.09861)) = 2.39790 / 4.95188
    assert similarity(frozenset("ab"), frozenset("bc"), idf) == pytest.approx(0.48424, abs=1e-5)
    assert similarity(frozenset("ab"), frozenset("ab"), idf) == pytest.approx(1.0)
    assert similarity(frozenset("a"), frozenset("c"), idf) == 0.0
    assert similarity(frozenset(), frozenset("c"), idf) == 0.0


def test_minimum_score() -> None:
    idf = Idf({"a": 1, "b": 1}, 100)
    assert qualifies(frozenset("a"), frozenset("a"), 0.15, idf, RULES)
    assert not qualifies(frozenset("a"), frozenset("a"), 0.1499, idf, RULES)
    # q {a, b, c, d, e, f, g}, c {a, x}: S = w / sqrt(7w * 2w) = 1 / sqrt(14) = 0.267 -> listed;
    # with eight more query tags S = 1 / sqrt(30) = 0.183; with 40: 1 / sqrt(82) = 0.110 -> not listed
    query_tags = [f"t{i}" for i in range(41)]
    weights = Idf(dict.fromkeys([*query_tags, "x"], 1), 100)
    wide = doc("q", *query_tags, at=NOW)
    assert rank(wide, [doc("c", "t0", "x")], weights, RULES, 8, NOW) == []
    narrow = doc("q", *query_tags[:7], at=NOW)
    assert ids(rank(narrow, [doc("c", "t0", "x")], weights, RULES, 8, NOW)) == ["c"]


def test_rarity_gate_needs_a_shared_rare_tag_in_a_big_catalog() -> None:
    df = {"russia": 500, "k1": 200, "k2": 200, "rare": 5}
    query, other = frozenset({"russia", "k1"}), frozenset({"russia", "k2"})
    big = Idf(df, 1000)
    # S = ln 3 / (ln 3 + ln 6) = 1.09861 / 2.89037 = 0.38009: high enough, but russia is on 50% and k on 20%
    assert similarity(query, other, big) == pytest.approx(0.38009, abs=1e-5)
    assert not qualifies(query, other, 0.38, big, RULES)
    assert qualifies(query | {"rare"}, other | {"rare"}, 0.38, big, RULES)
    small = Idf(df, 299)  # below related_gate_min_catalog: no gate
    # S = ln(1 + 299/500) / (ln(1 + 299/500) + ln(1 + 299/200)) = 0.46875 / 1.38304 = 0.33893
    assert similarity(query, other, small) == pytest.approx(0.33893, abs=1e-5)
    assert qualifies(query, other, 0.33893, small, RULES)
    ranked = rank(doc("q", *query, at=NOW), [doc("c", *other)], big, RULES, 8, NOW)
    assert ranked == []


def test_recency_halves_every_half_life_either_way() -> None:
    assert recency(NOW, NOW, 14) == 1.0
    assert recency(NOW, NOW + 14 * DAY_S, 14) == pytest.approx(0.5)  # a newer follow-up
    assert recency(NOW, NOW - 14 * DAY_S, 14) == pytest.approx(0.5)  # an older story
    assert recency(NOW, NOW - 28 * DAY_S, 14) == pytest.approx(0.25)


def test_base_score_scales_relevance_by_recency_and_popularity() -> None:
    idf = Idf({"a": 10, "b": 10, "x1": 10, "x2": 10}, 100)
    query = doc("q", "a", "b", at=NOW)
    # both: S = w / sqrt(2w * 2w) = 0.5, R = 1 (same time). P: ln(1+99) / ln(1+99) = 1 and 0.
    quiet, read = doc("c1", "a", "x1", at=NOW), doc("c2", "a", "x2", at=NOW, popularity=99)
    picks = rank(query, [quiet, read], idf, RULES, 8, NOW)
    assert ids(picks) == ["c2", "c1"]
    assert picks[0].score == pytest.approx(0.5 * 2 * 1.3)  # S * (1 + R) * (1 + 0.3 * P)
    assert picks[1].score == pytest.approx(0.5 * 2 * 1.0)
    older = doc("c1", "a", "x1", at=NOW - 14 * DAY_S)
    assert rank(query, [older], idf, RULES, 8, NOW)[0].score == pytest.approx(0.5 * 1.5)


def test_mmr_prefers_a_different_story_over_a_second_version() -> None:
    idf = Idf({"a": 10, "b": 10, "c": 10, "z1": 60, "z2": 60, "z3": 60}, 100)
    query = doc("q", "a", "b", "c", at=NOW)
    first = doc("c1", "a", "b", "z1", at=NOW)  # S 0.74396, base 1.48791
    version = doc("c2", "a", "b", "z2", at=NOW - DAY_S)  # S 0.74396, R 0.95170, base 1.45198
    other = doc("c3", "c", "z3", at=NOW)  # S 0.48638, base 0.97277
    # after c1: c2 = 0.7 * 1.45198/1.48791 - 0.3 * S(c1, c2) 0.83021 = 0.43403; c3 = 0.7 * 0.65378 = 0.45764
    assert ids(rank(query, [version, other, first], idf, RULES, 8, NOW)) == ["c1", "c3", "c2"]
    no_mmr = Rules(mmr_lambda=1.0)
    assert ids(rank(query, [version, other, first], idf, no_mmr, 8, NOW)) == ["c1", "c2", "c3"]
    assert ids(rank(query, [version, other, first], idf, RULES, 1, NOW)) == ["c1"]


def test_near_duplicates_are_dropped() -> None:
    idf = Idf({"a": 10, "b": 10, "c": 10, "faint": 90}, 100)
    query = doc("q", "a", "b", at=NOW)
    same_tags = doc("dup", "a", "b")  # S = 1.0 with the query
    # S(q, c) = sqrt(2w / (2w + ln(1 + 100/90))) = sqrt(4.79579 / 5.54300) = 0.93016 >= 0.9
    faint = doc("faint", "a", "b", "faint")
    assert similarity(query.tags, faint.tags, idf) == pytest.approx(0.93016, abs=1e-5)
    assert rank(query, [same_tags, faint], idf, RULES, 8, NOW) == []
    # two candidates that are near-duplicates of each other: only the better one stays
    wide = doc("q", "a", "b", "c", at=NOW)
    twin_a, twin_b = doc("ta", "a", "c", at=NOW), doc("tb", "a", "c", at=NOW - DAY_S)
    assert ids(rank(wide, [twin_b, twin_a], idf, RULES, 8, NOW)) == ["ta"]


def test_never_itself_unpublished_or_future() -> None:
    idf = Idf({"a": 10, "b": 10, "x": 10}, 100)
    query = doc("q", "a", "b", at=NOW)
    docs = [
        doc("q", "a", "x", at=NOW),
        doc("gone", "a", "x", published=False),
        doc("scheduled", "a", "x", at=NOW + 60),
        doc("ok", "a", "x"),
    ]
    assert ids(rank(query, docs, idf, RULES, 8, NOW)) == ["ok"]
    assert ids(rank(query, docs, idf, RULES, 8, NOW, exclude=frozenset({"ok"}))) == []
    assert ids(fallback(query, docs, [], 8, NOW, idf, RULES)) == ["ok"]


def test_fallback_order_and_window() -> None:
    idf = Idf({"a": 10, "b": 10, "x": 10, "y": 10}, 100)
    query = doc("q", "a", "b", at=NOW - 400 * DAY_S, section="world")
    docs = [
        doc("everything-else", "y", popularity=100),
        doc("same-tag", "a", "y", popularity=5),
        doc("same-section", "x", section="world", popularity=10),
        doc("same-tag-new", "b", "y", at=NOW - 60, popularity=5),
        doc("too-old", "a", at=NOW - 8 * DAY_S, popularity=1000),
    ]
    picks = fallback(query, docs, [], 8, NOW, idf, RULES)
    # sharing a tag or the section first, by reads then newest; then the rest; 7 days at most
    assert ids(picks) == ["same-section", "same-tag-new", "same-tag", "everything-else"]
    assert {p.reason for p in picks} == {"fallback"}
    assert picks[1].shared == ("b",)
    assert ids(fallback(query, docs, [], 2, NOW, idf, RULES)) == ["same-section", "same-tag-new"]


def test_fallback_skips_near_duplicates_of_chosen_items() -> None:
    idf = Idf({"a": 10, "b": 10, "x": 10}, 100)
    query = doc("q", "x", at=NOW)
    chosen = doc("picked", "a", "b")
    docs = [doc("copy", "a", "b", popularity=50), doc("other", "b", popularity=1)]
    assert ids(fallback(query, docs, [chosen], 8, NOW, idf, RULES)) == ["other"]


def test_storage_keys_put_qualified_candidates_first() -> None:
    idf = Idf({"a": 10, "b": 10, "x": 10, "y": 10, "z": 10, "w": 10}, 100)
    query = doc("q", "a", "b", at=NOW)
    strong = doc("strong", "a", "x", at=NOW)  # S 0.5, R 1: key (0.5 * 2 + 4) * 10000
    weak = doc("weak", "a", "x", "y", "z", "w", at=NOW)  # S = 1 / sqrt(2 * 5) = 0.31623
    faint = doc("faint", "b", *[f"n{i}" for i in range(20)], at=NOW)  # S < 0.15: unqualified
    assert storage_key(query, strong, idf, RULES) == round((0.5 * 2 + QUALIFIED_BONUS) * KEY_SCALE)
    assert storage_key(query, weak, idf, RULES) == round((2 / math.sqrt(10) + QUALIFIED_BONUS) * KEY_SCALE)
    assert storage_key(query, faint, idf, RULES) < QUALIFIED_BONUS * KEY_SCALE
    older = doc("older", "a", "x", at=NOW - 14 * DAY_S)  # R = 0.5
    assert storage_key(query, older, idf, RULES) == round((0.5 * 1.5 + QUALIFIED_BONUS) * KEY_SCALE)
    listed = shortlist(query, [faint, weak, strong, query], idf, RULES, 2)
    assert [a for a, _k in listed] == ["strong", "weak"]


# ---- bulk list builds agree with the reference ---------------------------------------------------


def test_nearest_span_matches_the_index_reads() -> None:
    rng = random.Random(5)
    for _ in range(400):
        times = sorted(rng.choice([rng.randrange(50), rng.randrange(5000)]) for _ in range(rng.randrange(0, 40)))
        entries = [(f"m{i:03d}".encode(), t) for i, t in enumerate(times)]  # ids ascend with time, as in Redis
        around, k = rng.randrange(-10, 5100), rng.randrange(1, 12)
        before = [e for e in reversed(entries) if e[1] <= around][:k]
        after = [e for e in entries if e[1] > around][:k]
        start, end = nearest_span(times, around, k)
        assert set(entries[start:end]) == set(_nearest(before, after, around, k))


def test_nearest_span_in_stretches_read_around_several_times() -> None:
    """The index reads, per tag, the k postings on either side of each query's time: far apart
    queries give stretches with gaps between them, and each query's window lies in its stretch."""
    rng = random.Random(6)
    for _ in range(300):
        times = sorted(rng.randrange(3000) for _ in range(rng.randrange(1, 120)))
        k = rng.randrange(1, 10)
        queries = sorted(rng.randrange(-5, 3005) for _ in range(rng.randrange(1, 5)))
        ranks: set[int] = set()
        for at in queries:
            pos = sum(t <= at for t in times)
            ranks.update(range(max(pos - k, 0), min(pos + k, len(times))))
        read = [i for i in range(len(times)) if i in ranks]  # positions in the full list
        for at in queries:
            start, end = nearest_span([times[i] for i in read], at, k)
            assert [read[i] for i in range(start, end)] == list(range(*nearest_span(times, at, k)))


@pytest.mark.parametrize("gated", [False, True])
def test_pool_keys_and_best_equal_storage_keys_and_top(gated: bool) -> None:
    rng = random.Random(11 + gated)
    vocabulary = [f"t{i}" for i in range(30)]
    arts = [doc(f"a{i:03d}", *rng.sample(vocabulary, rng.randint(1, 5)), at=NOW - rng.randrange(0, 60) * DAY_S)
            for i in range(300)]
    arts.append(doc("bare", at=NOW))  # tagless (retagged since the postings were read)
    df = {t: sum(t in a.tags for a in arts) for t in vocabulary}
    idf = Idf(df, 3000 if gated else 300)
    rules = Rules(gate_max_df=0.01, gate_min_catalog=1000)
    assert idf.gated(rules) == gated
    by_id = {a.article_id: a for a in arts}
    for query in rng.sample(arts[:-1], 40):
        windows = []
        for n, tag in enumerate(sorted(query.tags)):
            posted = sorted((a for a in arts if tag in a.tags or (n == 0 and a.article_id == "bare")),
                            key=lambda a: (a.published_at, a.article_id))
            p = Postings(tag, [a.article_id for a in posted], [a.published_at for a in posted],
                         [tuple(a.tags) for a in posted], [idf.norm(a.tags) or 1.0 for a in posted],
                         all(tag in a.tags for a in posted))
            start = rng.randrange(len(posted))
            windows.append((p, start, rng.randint(start, len(posted))))
        ids, keys = pool_keys(query, windows, idf, rules)
        pool = [by_id[a] for a in dict.fromkeys(ids)]
        assert dict(zip(ids, keys, strict=True)) == dict(zip([d.article_id for d in pool],
                                                              storage_keys(query, pool, idf, rules), strict=True))
        others = [d for d in pool if d.article_id not in (query.article_id, "a007")]
        for size in (1, 5, 50):
            assert best(ids, keys, size, {query.article_id, "a007"}) == top(others, storage_keys(
                query, others, idf, rules), size)
