"""OutageLog: one warning when an outage begins, one line when it ends, nothing in between."""

from __future__ import annotations

import logging

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from service.tasks import OutageLog

log = logging.getLogger("tests.outage")


def test_one_line_per_outage_and_one_on_recovery(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    outage = OutageLog(log, "the loop", clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="tests.outage")
    outage.ok()
    for _ in range(50):
        outage.failed(RedisConnectionError("refused"))
        now[0] += 1
    assert outage.down and outage.failures == 50
    outage.ok()
    outage.ok()
    outage.failed(RedisConnectionError("refused again"))
    lines = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records]
    assert lines == [
        ("WARNING", "the loop failing, retrying quietly until it works: ConnectionError: refused", None),
        ("INFO", "the loop works again after 50.0 s (50 failed attempts)", None),
        ("WARNING", "the loop failing, retrying quietly until it works: ConnectionError: refused again", None),
    ]
    assert outage.outages == 2


def test_a_bug_keeps_its_traceback_once(caplog: pytest.LogCaptureFixture) -> None:
    outage = OutageLog(log, "the loop")
    for _ in range(3):
        try:
            raise KeyError("article")
        except KeyError as exc:
            outage.failed(exc)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and warnings[0].exc_info is not None
