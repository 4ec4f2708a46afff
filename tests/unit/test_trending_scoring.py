"""The pure trending arithmetic: windows, decay, and merging closed with live hours."""

from __future__ import annotations

import math

from service.domain.trending import WINDOWS, combine, ranked

NOW = 500_000  # an epoch hour


def test_windows_cover_n_full_hours_plus_the_current_one() -> None:
    assert WINDOWS["1h"].span(NOW) == range(NOW - 1, NOW + 1)
    assert list(WINDOWS["1h"].closed(NOW)) == []
    assert list(WINDOWS["1h"].live(NOW)) == [NOW - 1, NOW]
    six = WINDOWS["6h"]
    assert list(six.closed(NOW)) == [NOW - 6, NOW - 5, NOW - 4, NOW - 3, NOW - 2]
    assert list(six.live(NOW)) == [NOW - 1, NOW]
    assert len(WINDOWS["7d"].span(NOW)) == 169


def test_weights_halve_every_half_life() -> None:
    day = WINDOWS["24h"]
    assert day.weight(NOW, NOW) == 1.0
    assert math.isclose(day.weight(NOW - 8, NOW), 0.5)
    assert math.isclose(day.weight(NOW - 16, NOW), 0.25)


def test_recent_activity_outranks_more_but_older_activity() -> None:
    six = WINDOWS["6h"]
    closed = {"old": 10 * six.weight(NOW - 5, NOW)}  # 10 events five hours ago
    live = {NOW - 1: {}, NOW: {"new": 6}}
    scores, counts = combine(live, six.weights(six.live(NOW), NOW), closed, {"old": 10})
    order = list(ranked([[("old", closed["old"])]], {"old": 10}, scores, counts))
    assert [s.article_id for s in order] == ["new", "old"]
    assert [s.count for s in order] == [6, 10]


def test_live_and_closed_parts_of_one_article_are_added_once() -> None:
    day = WINDOWS["24h"]
    w_closed = day.weight(NOW - 3, NOW)
    closed_scores = {"a": 4 * w_closed, "b": 100 * w_closed}
    closed_counts = {"a": 4, "b": 100}
    live = {NOW - 1: {"a": 2}, NOW: {"a": 1, "c": 3}}
    scores, counts = combine(live, day.weights(day.live(NOW), NOW), closed_scores, closed_counts)
    streams = [sorted(closed_scores.items(), key=lambda kv: -kv[1])]
    order = list(ranked(streams, closed_counts, scores, counts))
    assert [s.article_id for s in order] == ["b", "a", "c"]  # each article exactly once
    a = next(s for s in order if s.article_id == "a")
    assert a.count == 7
    assert math.isclose(a.score, 4 * w_closed + 2 * day.weight(NOW - 1, NOW) + 1)


def test_ranked_merges_disjoint_shard_streams_in_score_order() -> None:
    streams = [[("a", 9.0), ("c", 1.0)], [("b", 5.0), ("d", 0.5)]]
    counts = {"a": 9, "b": 5, "c": 1, "d": 1}
    order = list(ranked(streams, counts, {"e": 3.0}, {"e": 3}))
    assert [s.article_id for s in order] == ["a", "b", "e", "c", "d"]
