"""The bounded time type, clamping of stored times, and RFC 3339 output."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from service.moments import EARLIEST_S, LATEST_S, Moment, clamp_epoch, from_epoch, rfc3339


class At(BaseModel):
    at: Moment


@pytest.mark.parametrize(
    "raw",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z", "2100-01-01T00:00:01Z",
     "2026-01-01T00:00:00", -1, "nan", float("inf")],
)
def test_out_of_range_or_naive_is_refused(raw: Any) -> None:
    with pytest.raises(ValidationError):
        At.model_validate({"at": raw})


def test_in_range_is_normalised_to_utc() -> None:
    at = At.model_validate({"at": "2026-11-20T12:30:00+05:30"}).at
    assert at == datetime(2026, 11, 20, 7, 0, tzinfo=UTC) and at.utcoffset() == timedelta(0)
    assert At.model_validate({"at": "1970-01-01T00:00:00Z"}).at.timestamp() == EARLIEST_S
    assert At.model_validate({"at": "2100-01-01T00:00:00+00:00"}).at.timestamp() == LATEST_S


@pytest.mark.parametrize(
    ("stored", "epoch"),
    [(-62135647200, EARLIEST_S), (253402351199, LATEST_S), (float("nan"), EARLIEST_S), (float("inf"), LATEST_S),
     ("garbage", EARLIEST_S), (None, EARLIEST_S), (1_700_000_000, 1_700_000_000), ("1700000000", 1_700_000_000)],
)
def test_stored_times_are_clamped(stored: object, epoch: int) -> None:
    assert clamp_epoch(stored) == epoch
    assert from_epoch(stored) == datetime.fromtimestamp(epoch, UTC)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), "0001-01-01T00:00:00Z"),
        (datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))), "9999-12-31T23:59:59Z"),
        (datetime(5, 3, 1, 4, 5, 6, 789, tzinfo=UTC), "0005-03-01T04:05:06Z"),
        (datetime(2026, 11, 20, 12, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))), "2026-11-20T07:00:00Z"),
        (datetime(2026, 11, 20, 7, 0), "2026-11-20T07:00:00Z"),
    ],
)
def test_rfc3339_never_fails_and_has_four_digit_years(moment: datetime, text: str) -> None:
    assert rfc3339(moment) == text


@given(st.datetimes(timezones=st.timezones()))
def test_rfc3339_of_any_datetime(moment: datetime) -> None:
    text = rfc3339(moment)
    assert len(text) == 20 and text[4] == "-" and text.endswith("Z")
    datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
