"""Structured JSON logs to stdout (or readable text for a terminal)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `extra` fields."""

    _skip = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in record.__dict__.items() if k not in self._skip})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


_PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]")


class RedactServerLog(logging.Filter):
    """aiohttp's own lines without their arguments or traceback: those carry the client's IP and header bytes.

    What is kept: the message template (placeholders shown as `…`) and the exception's type. A request
    its parser rejected is the client's fault: logged at INFO, not ERROR.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("aiohttp"):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        record.msg = _PLACEHOLDER.sub("…", str(record.msg))
        record.args = None
        record.exc_info = record.exc_text = record.stack_info = None
        if exc is not None:
            record.msg += f" ({type(exc).__name__})"
            record.error = type(exc).__name__
            if type(exc).__module__ == "aiohttp.http_exceptions" and record.levelno > logging.INFO:
                record.levelno, record.levelname = logging.INFO, "INFO"
        return True


class RateLimit(logging.Filter):
    """The same warning or error (logger, level, template, exception type) at most once per `interval_s`.

    The next one let through after a quiet spell says how many were held back (`suppressed`). Lines
    below WARNING (one per request) are never held back.
    """

    def __init__(self, interval_s: float = 5.0, clock: Callable[[], float] = time.monotonic, keys: int = 1024) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self.keys = keys
        self._seen: dict[tuple[object, ...], list[float]] = {}  # key -> [last let through, held back since]

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        exc = record.exc_info[1] if record.exc_info else None
        key = (record.name, record.levelno, str(record.msg), type(exc))
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.interval_s:
            seen[1] += 1
            return False
        if seen is not None and seen[1]:
            record.suppressed = int(seen[1])
            record.msg = f"{record.msg} [{int(seen[1])} like it suppressed in the last {now - seen[0]:.0f} s]"
        if len(self._seen) >= self.keys:
            self._seen.clear()
        self._seen[key] = [now, 0]
        return True


def setup_logging(fmt: str = "json", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RedactServerLog())
    handler.addFilter(RateLimit())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
