"""A sealed batch as rows to apply: parsed once, the same for every durable store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class ParsedBatch:
    """A batch's deltas: hourly rows and the (article, day) pairs with new visitors."""

    hourly: list[tuple[str, str, str, int, int]]  # article, metric, network, hour, n
    visitors: list[tuple[str, int]]
    events: int


@dataclass
class ApplyItem:
    """One sealed batch, parsed, with its unique-visitor snapshots (article, day, n)."""

    batch_id: str
    batch: ParsedBatch
    uniques: Sequence[tuple[str, int, int]]


def parse_batch(fields: dict[str, int]) -> ParsedBatch:
    """Delta fields `article\tmetric\tnetwork\thour` and visitor marks `u\tarticle\tday`.

    Hourly rows come out in primary-key order (the field text sorts the same way while epoch hours
    have six digits, until 2084; sorting strings is cheap), so SQLite's upserts walk its B-tree
    instead of jumping around it. Order only speeds the upsert up; any order gives the same sums.
    """
    hourly: list[tuple[str, str, str, int, int]] = []
    visitors: list[tuple[str, int]] = []
    events = 0
    for field in sorted(fields):
        n = fields[field]
        parts = field.split("\t")
        if len(parts) == 4 and n:
            hourly.append((parts[0], parts[1], parts[2], int(parts[3]), n))
            events += n
        elif parts[0] == "u" and len(parts) == 3:
            visitors.append((parts[1], int(parts[2])))
    return ParsedBatch(hourly, visitors, events)


def running_totals(hourly: Sequence[tuple[str, str, str, int, int]]) -> list[tuple[str, str, str, int]]:
    """Sum of n per (article, metric, network) over rows sorted by that key (one pass, no dict)."""
    totals: list[tuple[str, str, str, int]] = []
    key: tuple[str, str, str] | None = None
    acc = 0
    for article_id, metric, network, _hour, n in hourly:
        if key is None or key[0] != article_id or key[1] != metric or key[2] != network:
            if key is not None:
                totals.append((*key, acc))
            key, acc = (article_id, metric, network), 0
        acc += n
    if key is not None:
        totals.append((*key, acc))
    return totals
