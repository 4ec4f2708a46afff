"""Moments: every time from outside bounded at the edge, every stored time made safe to print on read."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

# The range a time from outside may take: wide enough for any archive article or report window, narrow
# enough that no offset, hour bucket or 4-digit year can overflow anywhere downstream.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
EARLIEST_S = int(EARLIEST.timestamp())
LATEST_S = int(LATEST.timestamp())


def _bounded(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:  # compared before any conversion: year 1 at +14:00 cannot be converted
        raise ValueError(f"must be between {rfc3339(EARLIEST)} and {rfc3339(LATEST)}")
    return value.astimezone(UTC)


Moment = Annotated[AwareDatetime, AfterValidator(_bounded)]
"""A time from outside: with an offset, normalised to UTC, within [EARLIEST, LATEST] (else 422)."""


def clamp_epoch(seconds: object) -> int:
    """A stored epoch second (whatever an older version wrote) clamped into [EARLIEST_S, LATEST_S]."""
    try:
        value = float(seconds)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return EARLIEST_S
    if math.isnan(value):
        return EARLIEST_S
    return int(min(max(value, EARLIEST_S), LATEST_S))


def from_epoch(seconds: object) -> datetime:
    """The UTC datetime of a stored epoch second, clamped: reading a stored time never fails."""
    return datetime.fromtimestamp(clamp_epoch(seconds), UTC)


def rfc3339(moment: datetime) -> str:
    """UTC, seconds precision, `Z` suffix, always a 4-digit year; never fails (out-of-range clamps)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # a time at the very edge of datetime's range, beyond it in UTC
        utc = datetime.min if moment.year < 5000 else datetime.max
    return utc.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
