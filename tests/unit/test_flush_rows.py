"""Pure parts of the flush: a sealed batch's fields to hourly rows in key order, and running totals."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from service.storage.sqlite_counters import parse_batch, running_totals


def test_parse_batch_sorts_rows_by_primary_key_and_keeps_visitor_marks() -> None:
    fields = {
        "b\tview\t\t490010": 2,
        "a\tshare\tx\t490011": 1,
        "a\tshare\tfacebook\t490011": 4,
        "a\tshare\tx\t490009": 3,
        "u\ta\t20000": 1,
        "a\tview\t\t490010": 0,  # a zero delta moves nothing
    }
    batch = parse_batch(fields)
    assert batch.hourly == [
        ("a", "share", "facebook", 490011, 4),
        ("a", "share", "x", 490009, 3),
        ("a", "share", "x", 490011, 1),
        ("b", "view", "", 490010, 2),
    ]
    assert batch.visitors == [("a", 20000)]
    assert batch.events == 10


def test_running_totals_by_hand() -> None:
    rows = [("a", "share", "x", 9, 3), ("a", "share", "x", 11, 1), ("a", "view", "", 9, 5), ("b", "view", "", 9, 2)]
    assert running_totals(rows) == [("a", "share", "x", 4), ("a", "view", "", 5), ("b", "view", "", 2)]
    assert running_totals([]) == []


keys = st.tuples(st.sampled_from(["a", "a-b", "ab", "b"]), st.sampled_from(["view", "share", "click"]),
                 st.sampled_from(["", "x", "facebook"]), st.integers(490_000, 490_100))


@given(st.dictionaries(keys, st.integers(1, 50), max_size=60), st.randoms())
def test_rows_in_key_order_and_totals_match_a_dict_sum(deltas: dict[tuple[str, str, str, int], int],
                                                       rnd: random.Random) -> None:
    items = list(deltas.items())
    rnd.shuffle(items)  # Redis hands fields back in hash order
    batch = parse_batch({"\t".join((a, m, n, str(h))): v for (a, m, n, h), v in items})
    assert [r[:4] for r in batch.hourly] == sorted(deltas)
    expected: dict[tuple[str, str, str], int] = {}
    for (a, m, n, _h), v in deltas.items():
        expected[(a, m, n)] = expected.get((a, m, n), 0) + v
    assert running_totals(batch.hourly) == [(*k, v) for k, v in sorted(expected.items())]
