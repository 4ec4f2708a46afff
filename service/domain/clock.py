"""Time as the service counts it: UTC epoch hours and days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
HOUR_S = 3600
DAY_S = 86_400


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch_hour(moment: datetime) -> int:
    return int(moment.timestamp()) // HOUR_S


def epoch_day(moment: datetime) -> int:
    return int(moment.timestamp()) // DAY_S
