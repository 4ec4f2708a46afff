"""The pure ranking rules, each on a case small enough to compute by hand."""

from __future__ import annotations

import math
import random

import pytest

from service.domain.related import (
    DAY_S,
    KEY_SCALE,
    Doc,
    Idf,
    Listed,
    Pick,
    Query,
    Rules,
    Terms,
    best,
    collapse,
    dot,
    fallback,
    nearest,
    nearest_span,
    query_terms,
    rank,
    recency,
    select_terms,
    shortlist,
    storage_keys,
    story_key,
    tag_similarity,
    vector,
)

NOW = 1_800_000_000
RULES = Rules()
NO_MMR = Rules(mmr_lambda=1.0)
LN101, LN11, LN3 = math.log(101), math.log(11), math.log(3)  # 4.61512, 2.39790, 1.09861


def doc(article_id: str, *tags: str, at: int = NOW - DAY_S, section: str = "", popularity: float = 0.0,
        published: bool = True, terms: Terms = ()) -> Doc:
    return Doc(article_id, frozenset(tags), at, section, popularity, published, terms)


def item(d: Doc, key: int = 0, title: str | None = None, url: str | None = None) -> Listed:
    """A listed candidate; by default its own title and URL (no copy of anything)."""
    return Listed(d, key, f"Story {d.article_id}" if title is None else title,
                  f"https://example.com/news/{d.article_id}" if url is None else url)


def ids(picks: list[Pick]) -> list[str]:
    return [p.article_id for p in picks]


def flat(n: int = 100) -> Idf:
    """Every key weighs the same, w = ln(1 + 100/10) = ln 11."""
    return Idf({}, n) if n == 0 else Idf({k: 10 for k in "abcdefghxyz"}, n)


# ---- weights -------------------------------------------------------------------------------------


def test_weight_is_log_of_one_plus_n_over_df() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 50}, 100)
    assert idf.weight("a") == pytest.approx(4.61512, abs=1e-5)  # ln(1 + 100/1) = ln 101
    assert idf.weight("b") == pytest.approx(2.39790, abs=1e-5)  # ln 11
    assert idf.weight("c") == pytest.approx(1.09861, abs=1e-5)  # ln 3
    assert idf.weight("unknown") == pytest.approx(4.61512, abs=1e-5)  # df 0 counts as 1
    assert Idf({}, 0).weight("a") == 0.0
    # W = ln 101 + ln 11 = 7.01302, the same memoised
    assert idf.norm(["a", "b"]) == pytest.approx(7.01302, abs=1e-5)
    assert idf.doc_norm(frozenset("ab")) == pytest.approx(7.01302, abs=1e-5)
    assert idf.doc_norm(frozenset("ab")) == idf.doc_norm(frozenset("ba"))


def test_common_keys_are_not_scanned_in_a_big_catalog() -> None:
    df = {"russia": 500, "edge": 100, "rare": 5}
    big = Idf(df, 1000)  # gate: df > 0.10 * 1000 = 100
    assert big.common("russia", RULES)
    assert not big.common("edge", RULES)  # 100 is not more than 100
    assert big.scanned({"russia", "rare", "edge"}, RULES) == ["edge", "rare"]
    small = Idf(df, 299)  # below gate_min_catalog 300: nothing is common
    assert small.scanned({"russia", "rare"}, RULES) == ["rare", "russia"]


# ---- terms ---------------------------------------------------------------------------------------


def test_select_terms_keeps_the_most_salient_heaviest_first() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 1, "d": 50}, 100)
    counts = {"d": 2, "c": 1, "b": 3, "a": 1}
    # (1 + ln c) * w: a = 1 * ln 101 = 4.61512, c = 4.61512 (tie with a), b = (1 + ln 3) * ln 11 = 2.09861 *
    # 2.39790 = 5.03226, d = (1 + ln 2) * ln 3 = 1.69315 * 1.09861 = 1.86011 -> b, then a (wins the tie by
    # stem), c, d
    assert select_terms(counts, idf, Rules(max_terms=1)) == (("b", 3),)  # the count beats the rarer a and c
    assert select_terms(counts, idf, Rules(max_terms=2)) == (("b", 3), ("a", 1))
    assert select_terms(counts, idf, Rules(max_terms=3)) == (("b", 3), ("a", 1), ("c", 1))
    assert select_terms(counts, idf, RULES) == (("b", 3), ("a", 1), ("c", 1), ("d", 2))
    assert select_terms({}, idf, RULES) == ()


def test_vector_is_unit_length_tf_idf() -> None:
    idf = Idf({"a": 1, "b": 10}, 100)
    vec = vector((("a", 1), ("b", 3)), idf)
    assert math.fsum(x * x for x in vec.values()) == pytest.approx(1.0)
    # the ratio of the components is that of the raw weights: (1 + ln 3) ln 11 / ln 101 = 5.03226 / 4.61512
    assert vec["b"] / vec["a"] == pytest.approx(1.09039, abs=1e-5)
    # two terms of equal weight: 1/sqrt 2 each
    assert vector((("a", 2), ("c", 2)), flat()) == pytest.approx({"a": 1 / math.sqrt(2), "c": 1 / math.sqrt(2)})
    assert vector((("a", 0), ("b", 1)), idf) == {"b": pytest.approx(1.0)}  # a zero count weighs nothing
    assert vector((("a", 1),), Idf({}, 0)) == {}  # every weight 0: no direction at all
    assert vector((), idf) == {}


def test_dot_of_unit_vectors_is_their_cosine() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 50}, 100)
    vec = vector((("a", 2), ("b", 1), ("c", 4)), idf)
    assert dot(vec, vec) == pytest.approx(1.0)
    pair = vector((("a", 1), ("c", 1)), flat())
    assert dot(pair, vector((("a", 5),), flat())) == pytest.approx(1 / math.sqrt(2))  # cos 45 degrees
    assert dot(vector((("a", 5),), flat()), pair) == pytest.approx(1 / math.sqrt(2))
    assert dot(pair, vector((("b", 1),), flat())) == 0.0
    assert dot({}, pair) == 0.0


def test_query_terms_are_the_heaviest_uncommon_terms() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 1, "d": 50}, 100)
    terms = (("a", 1), ("b", 3), ("c", 1), ("d", 2))  # weights as in select_terms: b 5.03, a = c 4.62, d 1.86
    gated = Rules(query_terms=2, gate_min_catalog=100)  # d on 50% of 100 is common; b on 10% is not
    assert query_terms(terms, idf, gated) == ["a", "b"]  # b, then a before c at equal weight; by stem
    assert query_terms(terms, idf, Rules(query_terms=3, gate_min_catalog=100)) == ["a", "b", "c"]
    assert query_terms(terms, idf, Rules(query_terms=12)) == ["a", "b", "c", "d"]  # catalog too small to gate


# ---- similarity ----------------------------------------------------------------------------------


def test_tag_similarity_is_idf_weighted_overlap() -> None:
    idf = Idf({"a": 1, "b": 10, "c": 50}, 100)
    # shared b: 2.39790 / sqrt((4.61512 + 2.39790) * (2.39790 + 1.09861)) = 2.39790 / 4.95188
    assert tag_similarity(frozenset("ab"), frozenset("bc"), idf) == pytest.approx(0.48424, abs=1e-5)
    assert tag_similarity(frozenset("bc"), frozenset("ab"), idf) == pytest.approx(0.48424, abs=1e-5)
    assert tag_similarity(frozenset("ab"), frozenset("ab"), idf) == pytest.approx(1.0)
    assert tag_similarity(frozenset("a"), frozenset("c"), idf) == 0.0
    assert tag_similarity(frozenset(), frozenset("c"), idf) == 0.0
    assert tag_similarity(frozenset("a"), frozenset("a"), Idf({}, 0)) == 0.0  # weights 0: no division by 0
    # given norms are used as they are: 2.39790 / sqrt(1 * 4) = 1.19895
    assert tag_similarity(frozenset("ab"), frozenset("bc"), idf, 1.0, 4.0) == pytest.approx(1.19895, abs=1e-5)


def test_recency_halves_every_half_life_either_way() -> None:
    assert recency(NOW, NOW, 14) == 1.0
    assert recency(NOW, NOW + 14 * DAY_S, 14) == pytest.approx(0.5)  # a newer follow-up
    assert recency(NOW, NOW - 14 * DAY_S, 14) == pytest.approx(0.5)  # an older story
    assert recency(NOW, NOW - 28 * DAY_S, 14) == pytest.approx(0.25)
    assert recency(NOW, NOW - 7 * DAY_S, 14) == pytest.approx(1 / math.sqrt(2))


def test_relevance_mixes_term_cosine_and_tag_overlap() -> None:
    tag_idf, term_idf = flat(), flat()
    query = doc("q", "x", "y", at=NOW, terms=(("a", 1), ("b", 1)))
    cand = doc("c", "x", "z", at=NOW, terms=(("a", 1), ("c", 1)))
    # S_tags = w / sqrt(2w * 2w) = 0.5; the vectors are (1, 1, 0)/sqrt 2 and (1, 0, 1)/sqrt 2: cos = 0.5
    # S = 1.0 * 0.5 + 0.2 * 0.5 = 0.6
    assert Query(query, tag_idf, term_idf, RULES).relevance(cand) == pytest.approx(0.6)
    # term_weight 2, tag_weight 1: 2 * 0.5 + 0.5 = 1.5
    assert Query(query, tag_idf, term_idf, Rules(term_weight=2, tag_weight=1)).relevance(cand) == pytest.approx(1.5)
    tags_only = doc("t", "x", "z", at=NOW)  # 0.2 * 0.5
    assert Query(query, tag_idf, term_idf, RULES).relevance(tags_only) == pytest.approx(0.1)
    terms_only = doc("w", "h", at=NOW, terms=(("a", 1), ("c", 1)))  # 1.0 * 0.5
    assert Query(query, tag_idf, term_idf, RULES).relevance(terms_only) == pytest.approx(0.5)
    nothing = doc("n", "h", at=NOW, terms=(("d", 3),))
    assert Query(query, tag_idf, term_idf, RULES).relevance(nothing) == 0.0
    assert Query(query, tag_idf, term_idf, RULES).key(nothing) == 0
    termless = doc("e", "h", at=NOW)  # a query without terms matches on tags alone
    assert Query(termless, tag_idf, term_idf, RULES).relevance(terms_only) == pytest.approx(0.2)


def test_key_scales_relevance_by_recency() -> None:
    tag_idf, term_idf = flat(), flat()
    query = doc("q", "x", "y", at=NOW, terms=(("a", 1), ("b", 1)))
    prepared = Query(query, tag_idf, term_idf, RULES)
    same_time = doc("c", "x", "z", at=NOW, terms=(("a", 1), ("c", 1)))  # S = 0.6 (above), R = 1
    assert prepared.key(same_time) == 12_000  # 0.6 * (1 + 1) * 10000
    older = same_time._replace(article_id="o", published_at=NOW - 60 * DAY_S)  # R = 0.5 at the 60-day half-life
    assert prepared.key(older) == 9_000  # 0.6 * 1.5 * 10000
    newer = same_time._replace(article_id="n", published_at=NOW + 120 * DAY_S)  # R = 0.25
    assert prepared.key(newer) == 7_500  # 0.6 * 1.25 * 10000
    assert Query(query, tag_idf, term_idf, Rules(recency_weight=0)).key(older) == 6_000  # S alone
    faint = Rules(tag_weight=1e-6)  # S = 1e-6 * 0.5: round(1e-6 * 0.5 * 2 * 10000) = 0, yet it overlaps
    assert Query(query, tag_idf, term_idf, faint).key(doc("t", "x", "z", at=NOW)) == 1
    assert storage_keys(query, [same_time, older, doc("n", "h")], tag_idf, term_idf, RULES) == [12_000, 9_000, 0]


def test_relevance_and_key_are_symmetric() -> None:
    rng = random.Random(3)
    stems = [f"s{i}" for i in range(12)]
    tags = [f"t{i}" for i in range(10)]
    arts = [doc(f"a{i}", *rng.sample(tags, rng.randint(0, 4)), at=NOW - rng.randrange(90) * DAY_S,
                terms=tuple(sorted((s, rng.randint(1, 4)) for s in rng.sample(stems, rng.randint(0, 5)))))
            for i in range(40)]
    tag_idf = Idf({t: sum(t in a.tags for a in arts) for t in tags}, len(arts))
    term_idf = Idf({s: sum(s in dict(a.terms) for a in arts) for s in stems}, len(arts))
    shared: dict[str, dict[str, float]] = {}
    for a in arts:
        for b in arts:
            there = Query(a, tag_idf, term_idf, RULES, shared)
            back = Query(b, tag_idf, term_idf, RULES, shared)
            assert there.relevance(b) == pytest.approx(back.relevance(a), rel=1e-12, abs=1e-15)
            assert there.key(b) == back.key(a)
            overlaps = bool(a.tags & b.tags or set(dict(a.terms)) & set(dict(b.terms)))
            assert (there.key(b) > 0) == overlaps


# ---- shortlists ----------------------------------------------------------------------------------


def test_shortlist_holds_the_best_positive_keys() -> None:
    idf = flat()
    query = doc("q", "a", "b", at=NOW, terms=(("korea", 2), ("sanction", 1)))
    docs = [
        doc("none", "y", at=NOW),  # no overlap: key 0
        doc("t1", "a", "x", at=NOW),  # S_tags 0.5, S = 0.1: key 0.1 * 2 * 10000 = 2000
        doc("older", "a", "b", at=NOW - 60 * DAY_S),  # S = 0.2, R = 0.5: 3000
        doc("strong", "a", "b", at=NOW),  # S = 0.2, R = 1: 4000
        doc("t2", "a", "y", at=NOW),  # 2000, as t1
        doc("text", "h", at=NOW, terms=(("korea", 1), ("talk", 1))),
        query,  # never its own candidate
    ]
    # query vector: korea (1 + ln 2) = 1.69315 and sanction 1, over sqrt(1.69315^2 + 1) = 1.96640;
    # candidate: korea 1/sqrt 2. cos = 0.86104 * 0.70711 = 0.60885: key round(0.60885 * 2 * 10000)
    text_key = round((1 + math.log(2)) / math.sqrt((1 + math.log(2)) ** 2 + 1) / math.sqrt(2) * 2 * KEY_SCALE)
    assert text_key == pytest.approx(12_177, abs=1)
    listed = shortlist(query, docs, idf, idf, RULES, 10)
    assert listed == [("text", text_key), ("strong", 4000), ("older", 3000), ("t2", 2000), ("t1", 2000)]
    assert shortlist(query, docs, idf, idf, RULES, 2) == listed[:2]
    assert shortlist(query, docs, idf, idf, RULES, 0) == []


def test_best_keeps_distinct_positive_ids_not_skipped() -> None:
    found = best(["a", "b", "c", "a", "d", "e"], [5, 0, 7, 5, 7, -3], 3, {"c"})
    assert found == [("d", 7), ("a", 5)]  # b is 0, e negative, c skipped; a once
    # equal keys: the larger id first (heapq.nlargest over (key, id))
    assert best(["m1", "m3", "m2"], [3, 3, 3], 2, ()) == [("m3", 3), ("m2", 3)]
    assert best(["m1", "m2", "m3"], [4, 3, 3], 5, {"m2"}) == [("m1", 4), ("m3", 3)]
    assert best([], [], 5, ()) == []
    with pytest.raises(ValueError):
        best(["a"], [1, 2], 1, ())  # ids and keys must pair up


# ---- nearest span: bulk list builds agree with the index reads ------------------------------------


def test_nearest_span_by_hand() -> None:
    # distances to 5: 4, 3, 2, 5, 6 -> the two nearest are 3 and 2 (indices 1, 2)
    assert nearest_span([1, 2, 3, 10, 11], 5, 2) == (1, 3)
    assert nearest_span([1, 2, 3, 10, 11], 5, 3) == (0, 3)  # then 1 (4 away) before 10 (5 away)
    assert nearest_span([1, 2, 3, 10, 11], 9, 3) == (2, 5)  # 10 (1), 11 (2), 3 (6)
    assert nearest_span([3, 7], 5, 1) == (0, 1)  # equally far: the earlier wins
    assert nearest_span([3, 7], 5, 2) == (0, 2)
    assert nearest_span([], 5, 2) == (0, 0)
    assert nearest_span([1, 2, 3], 100, 2) == (1, 3)  # all before
    assert nearest_span([10, 20, 30], 0, 2) == (0, 2)  # all after


def test_nearest_span_matches_the_index_reads() -> None:
    rng = random.Random(5)
    for _ in range(400):
        times = sorted(rng.choice([rng.randrange(50), rng.randrange(5000)]) for _ in range(rng.randrange(0, 40)))
        entries = [(f"m{i:03d}".encode(), t) for i, t in enumerate(times)]  # ids ascend with time, as in Redis
        around, k = rng.randrange(-10, 5100), rng.randrange(1, 12)
        before = [e for e in reversed(entries) if e[1] <= around][:k]
        after = [e for e in entries if e[1] > around][:k]
        start, end = nearest_span(times, around, k)
        assert end - start == min(k, len(times))
        assert set(entries[start:end]) == set(nearest(before, after, around, k))


def test_nearest_span_in_stretches_read_around_several_times() -> None:
    """The index reads, per key, the k postings on either side of each query's time: far apart
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


# ---- reads: copies of one story ------------------------------------------------------------------


def test_story_key_ignores_scheme_www_query_fragment_and_final_slash() -> None:
    key = "example.com/news/korea"
    for url in ("https://example.com/news/korea", "http://www.example.com/news/korea/",
                "https://WWW.Example.com/news/korea?utm_source=x", "https://example.com:443/news/korea#top"):
        assert story_key(url) == key
    assert story_key("https://example.com/news/Korea") != key  # the path keeps its case
    assert story_key("https://other.com/news/korea") != key
    assert story_key("https://example.com/news/korea-2") != key


def test_collapse_keeps_the_earliest_copy_of_a_story() -> None:
    first = item(doc("first", "a", at=NOW - 3 * DAY_S), 100, title="Korea: talks", url="https://example.com/k")
    by_url = item(doc("by-url", "b", at=NOW - 2 * DAY_S), 900, title="Other words", url="http://www.example.com/k/")
    by_title = item(doc("by-title", "c", at=NOW - DAY_S), 900, title="KOREA -- talks!", url="https://b.org/x")
    other = item(doc("other", "a", at=NOW - 4 * DAY_S), 1, title="Korea talks resume", url="https://b.org/y")
    assert [i.doc.article_id for i in collapse([by_title, other, by_url, first])] == ["other", "first"]
    # equal times: the smaller id is "earlier"
    twin_b = item(doc("b", "a", at=NOW), 1, title="Same", url="https://x.org/1")
    twin_a = item(doc("a", "a", at=NOW), 1, title="Same", url="https://x.org/2")
    assert [i.doc.article_id for i in collapse([twin_b, twin_a])] == ["a"]
    # the query's own copies go, whichever mark they share
    query = item(doc("q", "a", at=NOW), title="Korea talks resume", url="https://example.com/k")
    assert collapse([first, other, by_title], query) == []


def test_equal_tags_are_not_duplicates() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", at=NOW))
    # both carry exactly the query's tags (S_tags 1 with it and with each other), yet are different stories
    one = item(doc("one", "a", "b", at=NOW), 4000, title="Korea talks resume")
    two = item(doc("two", "a", "b", at=NOW - DAY_S), 4000, title="Sanctions bite in Pyongyang")
    picks = rank(query, [one, two], idf, RULES, 8, NOW)
    assert sorted(ids(picks)) == ["one", "two"]
    assert {p.reason for p in picks} == {"tags"}
    assert {p.shared for p in picks} == {("a", "b")}


def test_rank_collapses_copies_and_drops_copies_of_the_query() -> None:
    idf = flat()
    query = item(doc("q", "a", at=NOW), title="Korea talks", url="https://example.com/q")
    early = item(doc("early", "a", at=NOW - 2 * DAY_S), 5000, url="https://example.com/story")
    late = item(doc("late", "a", at=NOW - DAY_S), 20000, url="http://www.example.com/story/?ref=rss")
    mirror = item(doc("mirror", "a", at=NOW - DAY_S), 30000, title="KOREA TALKS!")  # the query's title
    syndicated = item(doc("syndicated", "a", at=NOW - DAY_S), 30000, url="https://www.example.com/q")
    picks = rank(query, [late, mirror, early, syndicated], idf, RULES, 8, NOW)
    # one copy of the story, the earliest, with its own key: 5000 / 10000 (no popularity)
    assert ids(picks) == ["early"]
    assert picks[0].score == pytest.approx(0.5)


# ---- reads: order --------------------------------------------------------------------------------


def test_popularity_lifts_the_more_read_of_two_equals() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", at=NOW))
    quiet = item(doc("quiet", "a", at=NOW), 10_000)
    read = item(doc("read", "b", at=NOW, popularity=99), 10_000)
    picks = rank(query, [quiet, read], idf, RULES, 8, NOW)
    # P = ln(1 + 99) / ln(1 + 99) = 1 and 0: scores 1.0 * (1 + 0.3) and 1.0
    assert ids(picks) == ["read", "quiet"]
    assert [p.score for p in picks] == pytest.approx([1.3, 1.0])
    # P is relative to the most read: ln 10 / ln 100 = 0.5 -> 1 + 0.3 * 0.5 = 1.15
    half = item(doc("half", "x", at=NOW, popularity=9), 10_000)
    scores = {p.article_id: p.score for p in rank(query, [quiet, read, half], idf, RULES, 8, NOW)}
    assert scores == pytest.approx({"read": 1.3, "half": 1.15, "quiet": 1.0})
    # a lower key can win on reads: 0.8 * 1.3 = 1.04 > 1.0
    popular = item(doc("popular", "b", at=NOW, popularity=99), 8_000)
    assert ids(rank(query, [quiet, popular], idf, RULES, 8, NOW)) == ["popular", "quiet"]
    # ... but not by more than the weight: 0.7 * 1.3 = 0.91 < 1.0
    less = item(doc("less", "b", at=NOW, popularity=99), 7_000)
    assert ids(rank(query, [quiet, less], idf, RULES, 8, NOW)) == ["quiet", "less"]
    assert ids(rank(query, [quiet, less], idf, Rules(popularity_weight=0.5), 8, NOW)) == ["less", "quiet"]  # 1.05


def test_equal_scores_go_newest_first_then_by_id() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", "c", at=NOW))
    older = item(doc("older", "a", at=NOW - 2 * DAY_S), 5000)
    newer = item(doc("newer", "b", at=NOW - DAY_S), 5000)
    z = item(doc("z", "c", at=NOW - 2 * DAY_S), 5000)
    assert ids(rank(query, [z, older, newer], idf, NO_MMR, 8, NOW)) == ["newer", "older", "z"]


def test_mmr_moves_a_second_story_with_the_same_tags_down() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", "c", at=NOW))
    first = item(doc("c1", "a", "b", "z", at=NOW), 10_000)  # base 1.0
    same_tags = item(doc("c2", "a", "b", "y", at=NOW), 9_800)  # base 0.98
    other = item(doc("c3", "c", "x", at=NOW), 9_500)  # base 0.95
    # after c1: c2 = 0.85 * 0.98 - 0.15 * S(c2, c1) = 0.833 - 0.15 * 2w / sqrt(3w * 3w) = 0.733;
    # c3 = 0.85 * 0.95 - 0.15 * 0 = 0.8075 -> c3 moves up
    picks = rank(query, [same_tags, other, first], idf, RULES, 8, NOW)
    assert ids(picks) == ["c1", "c3", "c2"]
    assert [p.score for p in picks] == pytest.approx([1.0, 0.95, 0.98])  # scores stay the base scores
    # a clearer lead survives: c2 at 0.99 -> 0.8415 - 0.1 = 0.7415; c3 at 0.85 -> 0.7225
    near = item(same_tags.doc, 9_900)
    behind = item(other.doc, 8_500)
    assert ids(rank(query, [near, behind, first], idf, RULES, 8, NOW)) == ["c1", "c2", "c3"]
    assert ids(rank(query, [same_tags, other, first], idf, NO_MMR, 8, NOW)) == ["c1", "c2", "c3"]
    assert ids(rank(query, [same_tags, other, first], idf, RULES, 1, NOW)) == ["c1"]
    assert ids(rank(query, [same_tags, other, first], idf, RULES, 2, NOW)) == ["c1", "c3"]
    assert rank(query, [same_tags, other, first], idf, RULES, 0, NOW) == []


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.85, 1.0])
def test_mmr_only_reorders(lam: float) -> None:
    rng = random.Random(int(lam * 100))
    tags = list("abcdefgh")
    idf = Idf({t: rng.randint(1, 60) for t in tags}, 100)
    rules = Rules(mmr_lambda=lam)
    for _ in range(60):
        query = item(doc("q", *rng.sample(tags, 3), at=NOW))
        cands = [item(doc(f"c{i:02d}", *rng.sample(tags, rng.randint(1, 4)), at=NOW - rng.randrange(30) * DAY_S,
                          popularity=rng.choice([0, 3, 50])), rng.choice([0, 1, 500, 5000, 5000]))
                 for i in range(rng.randint(0, 14))]
        visible = {c.doc.article_id for c in cands if c.key > 0}
        picks = rank(query, cands, idf, rules, len(cands) + rng.randint(0, 3), NOW)
        assert sorted(ids(picks)) == sorted(visible)  # every one, exactly once
        # each score is key / 10000 * (1 + 0.3 * ln(1 + pop) / ln(1 + top pop)), whatever the order
        top = max((math.log1p(c.doc.popularity) for c in cands if c.key > 0), default=0.0)
        expected = {c.doc.article_id: c.key / KEY_SCALE * (1 + 0.3 * (math.log1p(c.doc.popularity) / top if top
                                                                      else 0.0)) for c in cands if c.key > 0}
        assert {p.article_id: p.score for p in picks} == pytest.approx(expected)
        if lam == 1.0:  # no diversity: exactly by base score (ties newest first, then id)
            by_id = {c.doc.article_id: c for c in cands}
            order = sorted(picks, key=lambda p: (-p.score, -by_id[p.article_id].doc.published_at, p.article_id))
            assert ids(picks) == ids(order)
        short = rank(query, cands, idf, rules, 3, NOW)
        assert len(short) == min(3, len(visible)) and len(set(ids(short))) == len(short)


def test_reason_and_shared_tags_heaviest_first() -> None:
    idf = Idf({"rare": 1, "mid": 10, "wide": 50}, 100)
    query = item(doc("q", "wide", "rare", "mid", at=NOW))
    tagged = item(doc("tagged", "wide", "mid", "rare", "own", at=NOW), 5000)
    text = item(doc("text", "other", at=NOW), 4000)  # a positive key without a shared tag: the terms matched
    picks = rank(query, [tagged, text], idf, RULES, 8, NOW)
    assert [(p.article_id, p.reason, p.shared) for p in picks] == [
        ("tagged", "tags", ("rare", "mid", "wide")), ("text", "text", ())]


def test_never_itself_unpublished_future_or_excluded() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", at=NOW))
    docs = [
        item(doc("q", "a", "x", at=NOW), 5000, url="https://example.com/other-q"),
        item(doc("gone", "a", "x", published=False), 5000),
        item(doc("scheduled", "a", "x", at=NOW + 60), 5000),
        item(doc("zero", "a", "x"), 0),  # no overlap (key 0): never ranked
        item(doc("ok", "a", "x"), 5000),
    ]
    assert ids(rank(query, docs, idf, RULES, 8, NOW)) == ["ok"]
    assert ids(rank(query, docs, idf, RULES, 8, NOW + 60)) == ["scheduled", "ok"]  # published by then
    assert ids(rank(query, docs, idf, RULES, 8, NOW, exclude=frozenset({"ok"}))) == []
    assert ids(fallback(query, docs, [], 8, NOW, idf)) == ["ok", "zero"]  # equal reads and times: by id
    assert ids(fallback(query, docs, [], 8, NOW, idf, exclude=frozenset({"ok"}))) == ["zero"]


# ---- reads: fallback -----------------------------------------------------------------------------


def test_fallback_order_section_first_then_reads_then_newest() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", at=NOW - 400 * DAY_S, section="world"))
    pool = [
        item(doc("everything-else", "y", popularity=100)),
        item(doc("same-tag", "a", "y", popularity=5)),
        item(doc("same-section", "x", section="world", popularity=10)),
        item(doc("same-section-quiet", "x", section="world", at=NOW - 30 * DAY_S)),
        item(doc("same-tag-new", "b", "y", at=NOW - 60, popularity=5)),
        item(doc("old", "a", at=NOW - 800 * DAY_S, popularity=5)),  # any age: the window is the caller's
    ]
    picks = fallback(query, pool, [], 8, NOW, idf)
    assert ids(picks) == ["same-section", "same-section-quiet", "everything-else", "same-tag-new", "same-tag",
                          "old"]
    assert {p.reason for p in picks} == {"fallback"}
    assert {p.score for p in picks} == {0.0}
    assert picks[3].shared == ("b",)
    assert ids(fallback(query, pool, [], 2, NOW, idf)) == ["same-section", "same-section-quiet"]
    assert fallback(query, pool, [], 0, NOW, idf) == []
    # no section on the query: nothing is "close", even articles without a section
    plain = item(doc("q", "a", "b", at=NOW))
    bare = [item(doc("bare", "y", popularity=1)), item(doc("read", "y", section="world", popularity=2))]
    assert ids(fallback(plain, bare, [], 8, NOW, idf)) == ["read", "bare"]


def test_fallback_skips_chosen_stories_and_their_copies() -> None:
    idf = flat()
    query = item(doc("q", "x", at=NOW), title="Query story", url="https://example.com/q")
    chosen = item(doc("picked", "a", "b"), 5000, title="Korea talks", url="https://example.com/picked")
    pool = [
        item(doc("picked", "a", "b", popularity=90), title="Korea talks", url="https://example.com/picked"),
        item(doc("url-copy", "a", popularity=80), url="http://www.example.com/picked/?utm=x"),
        item(doc("title-copy", "b", popularity=70), title="KOREA: talks."),
        item(doc("query-copy", "y", popularity=60), url="https://example.com/q#comments"),
        item(doc("loud", "y", popularity=50), title="One story"),
        item(doc("echo", "y", popularity=40), title="One story!"),  # a copy of "loud", a pool item
        item(doc("other", "b", popularity=1)),
    ]
    picks = fallback(query, pool, [chosen], 8, NOW, idf)
    assert ids(picks) == ["loud", "other"]


def test_fallbacks_only_fill_after_the_overlapping_candidates() -> None:
    idf = flat()
    query = item(doc("q", "a", "b", at=NOW, section="world"))
    found = [
        item(doc("weak", "a", at=NOW - 300 * DAY_S), 1),  # the weakest possible overlap: key 1
        item(doc("strong", "a", "b", at=NOW), 4000),
    ]
    pool = [
        *found,  # the fallback read may return the ranked ones again
        item(doc("viral", "y", section="world", popularity=1e6, at=NOW)),  # no overlap, hugely read
        item(doc("fresh", "z", at=NOW)),
    ]
    picks = rank(query, found, idf, RULES, 8, NOW)
    chosen = [next(f for f in found if f.doc.article_id == p.article_id) for p in picks]
    picks += fallback(query, pool, chosen, 8 - len(picks), NOW, idf)
    assert ids(picks) == ["strong", "weak", "viral", "fresh"]
    assert [p.reason for p in picks] == ["tags", "tags", "fallback", "fallback"]
    assert min(p.score for p in picks[:2]) > max(p.score for p in picks[2:]) == 0.0
    # the zero-key candidates are the fallback's: rank never lists them, however read
    assert ids(rank(query, pool, idf, RULES, 8, NOW)) == ["strong", "weak"]
