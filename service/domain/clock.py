"""Time as the service counts it: UTC epoch hours and days."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def epoch_hour(moment: datetime) -> int:
    return int(moment.timestamp()) // 3600


def epoch_day(moment: datetime) -> int:
    return int(moment.timestamp()) // 86400
