"""Trending: time-decayed scores over hourly buckets (pure; no I/O).

A window of N hours covers the N full hours before the current one plus the current, partial
hour, so "1h" always holds at least the last 60 minutes. An event in hour h weighs
0.5 ** ((current - h) / half_life): exponential decay keeps the order of two articles the same
as time passes, so the weighted sums of closed hours stay valid for the whole current hour.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

METRICS: dict[str, str] = {"views": "view", "shares": "share", "clicks": "click"}
LIVE_HOURS = 2  # the current hour and the one before are re-read on every refresh (late writers)


@dataclass(frozen=True)
class Window:
    """A trending window: its length in hours and the half-life of its decay."""

    name: str
    hours: int
    half_life_h: float

    def span(self, current: int) -> range:
        """Every hour bucket of the window, oldest first."""
        return range(current - self.hours, current + 1)

    def closed(self, current: int) -> range:
        """Buckets no one writes to any more: summed once per hour."""
        return range(current - self.hours, current - LIVE_HOURS + 1)

    def live(self, current: int) -> range:
        """Buckets still being written: re-read on every refresh."""
        return range(max(current - self.hours, current - LIVE_HOURS + 1), current + 1)

    def weight(self, hour: int, current: int) -> float:
        """Decay weight of an event in `hour`, relative to the current hour (1.0)."""
        return float(0.5 ** ((current - hour) / self.half_life_h))

    def weights(self, hours: Iterable[int], current: int) -> dict[int, float]:
        return {h: self.weight(h, current) for h in hours}


WINDOWS: dict[str, Window] = {
    w.name: w
    for w in (Window("1h", 1, 1.0), Window("6h", 6, 3.0), Window("24h", 24, 8.0), Window("7d", 168, 48.0))
}


@dataclass(frozen=True)
class Scored:
    """An article's decayed score and exact event count in a window."""

    score: float
    article_id: str
    count: int


@dataclass(frozen=True)
class TrendingItem:
    """One row of a trending list."""

    article_id: str
    title: str
    url: str
    count: int
    score: float


@dataclass(frozen=True)
class Ranking:
    """The published articles of a window, best first; `start`/`end` in epoch seconds."""

    metric: str
    window: str
    start: int
    end: int
    items: tuple[TrendingItem, ...]


def add_live(
    scores: dict[str, float],
    counts: dict[str, int],
    per_article: Iterable[tuple[str, int]],
    weight: float,
    closed_scores: Mapping[str, float],
    closed_counts: Mapping[str, int],
) -> None:
    """Add one live hour's (article, n) pairs (or a slice of them) to scores and counts.

    An article seen for the first time starts from its closed-hours score and count.
    """
    for article_id, n in per_article:
        scores[article_id] = scores.get(article_id, closed_scores.get(article_id, 0.0)) + weight * n
        counts[article_id] = counts.get(article_id, closed_counts.get(article_id, 0)) + n


def combine(
    live: Mapping[int, Mapping[str, int]],
    weights: Mapping[int, float],
    closed_scores: Mapping[str, float],
    closed_counts: Mapping[str, int],
) -> tuple[dict[str, float], dict[str, int]]:
    """Scores and counts of the articles active in the live hours, their closed hours added."""
    scores: dict[str, float] = {}
    counts: dict[str, int] = {}
    for hour, per_article in live.items():
        add_live(scores, counts, per_article.items(), weights[hour], closed_scores, closed_counts)
    return scores, counts


def ranked(
    closed_desc: Sequence[Iterable[tuple[str, float]]],
    closed_counts: Mapping[str, int],
    live_scores: Mapping[str, float],
    live_counts: Mapping[str, int],
) -> Iterator[Scored]:
    """Every article of the window, best first, built lazily: only what the caller takes is made.

    `closed_desc` holds streams sorted by descending score with disjoint articles (one per shard);
    `live_*` come from `combine` and win over the closed streams for their articles.
    """
    order = sorted(live_scores, key=live_scores.__getitem__, reverse=True)
    streams: list[Iterable[Scored]] = [(Scored(live_scores[a], a, live_counts[a]) for a in order)]
    for stream in closed_desc:
        streams.append(Scored(s, a, closed_counts.get(a, 0)) for a, s in stream if a not in live_scores)
    return heapq.merge(*streams, key=_score_desc)


def _score_desc(item: Scored) -> float:
    return -item.score
