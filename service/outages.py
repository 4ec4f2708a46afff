"""What a storage outage looks like to every layer: storage raises it, the edge answers it with a 503."""

from __future__ import annotations

import sqlite3
from typing import Any

# OperationalError messages of a database that cannot take a write now: another writer holds the lock past
# the busy timeout, the file or its directory is read-only, the disk is full. None is the client's fault.
_SQLITE_OUTAGES = (
    "database is locked", "database table is locked", "readonly database", "disk is full", "disk i/o error",
)


class StorageUnavailable(Exception):
    """The durable store cannot take the call now; nothing was changed."""

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


def sqlite_outage(exc: BaseException) -> StorageUnavailable | None:
    """The outage a SQLite error means (locked, read-only, full); None for any other error."""
    if not isinstance(exc, sqlite3.OperationalError):
        return None
    message = str(exc)
    if not any(outage in message.lower() for outage in _SQLITE_OUTAGES):
        return None
    return StorageUnavailable("the database cannot take writes right now; nothing was changed, retry later", message)
