"""Opaque share-link codes."""

from __future__ import annotations

import re
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
CODE = re.compile(r"^[A-Za-z0-9]{6,16}$")


def new_code(length: int = 9) -> str:
    """A random base62 code (62^9: collisions are negligible and caught by SQLite's UNIQUE)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def valid_code(code: str) -> bool:
    return bool(CODE.match(code))
