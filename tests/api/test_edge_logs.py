"""The log handler's filters: aiohttp's own lines redacted, repeated warnings rate-limited."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from service.logs import JsonFormatter, RateLimit, RedactServerLog, setup_logging


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def captured() -> Iterator[tuple[io.StringIO, Clock]]:
    """The service's log handler (setup_logging) writing to a buffer, with a hand-driven rate-limit clock."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    setup_logging("json", "DEBUG")
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    out = io.StringIO()
    handler.setStream(out)
    clock = Clock()
    for f in handler.filters:
        if isinstance(f, RateLimit):
            f.clock = clock
    try:
        yield out, clock
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_aiohttp_lines_lose_address_and_header_bytes(captured: tuple[io.StringIO, Clock]) -> None:
    out, _clock = captured
    try:
        raise BadHttpMessage("Invalid header value char: b'User-Agent: Probe/1.0\\x01'")
    except BadHttpMessage as exc:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s", "203.0.113.9", exc_info=exc)
    logging.getLogger("aiohttp.web_protocol").error("peer %(peer)s sent %r", {"peer": "203.0.113.9"})
    text = out.getvalue()
    assert "203.0.113.9" not in text and "Probe/1.0" not in text and "Traceback" not in text
    first, second = _lines(out)
    assert first["message"] == "Error handling request from … (BadHttpMessage)"
    assert first["level"] == "info" and first["error"] == "BadHttpMessage"
    assert second["level"] == "error"


def test_service_lines_keep_their_arguments(captured: tuple[io.StringIO, Clock]) -> None:
    out, _clock = captured
    logging.getLogger("service.x").info("flushed %d rows", 12)
    assert _lines(out)[0]["message"] == "flushed 12 rows"


def test_a_repeated_warning_is_let_through_once_per_interval(captured: tuple[io.StringIO, Clock]) -> None:
    out, clock = captured
    log = logging.getLogger("asyncio")
    for _ in range(1000):
        log.error("socket.accept() out of system resource")
        clock.now += 0.001
    logging.getLogger("service.y").warning("another warning")
    for _ in range(5):
        logging.getLogger("service.access").info("GET / 200")  # below WARNING: never held back
    clock.now += RateLimit().interval_s
    log.error("socket.accept() out of system resource")
    lines = _lines(out)
    assert [line["message"] for line in lines[:2]] == ["socket.accept() out of system resource", "another warning"]
    assert len(lines) == 2 + 5 + 1
    assert lines[-1]["suppressed"] == 999
    assert "999 like it suppressed" in str(lines[-1]["message"])


def test_the_rate_limit_keeps_a_bounded_memory() -> None:
    limit = RateLimit(keys=10)
    for i in range(100):
        record = logging.LogRecord("service", logging.WARNING, __file__, 1, f"message {i}", None, None)
        assert limit.filter(record)
    assert len(limit._seen) <= 10


def test_the_json_formatter_shows_redacted_records(captured: tuple[io.StringIO, Clock]) -> None:
    record = logging.LogRecord("aiohttp.server", logging.ERROR, __file__, 1, "from %s", ("203.0.113.9",), None)
    assert RedactServerLog().filter(record)
    assert "203.0.113.9" not in JsonFormatter().format(record)
