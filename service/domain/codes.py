"""Opaque share-link codes."""

from __future__ import annotations

import re
import secrets
import string

ALPHABET = string.ascii_letters + string.digits
UNBIASED = 248  # 4 x 62: bytes below it map to the alphabet uniformly
CODE = re.compile(r"^[A-Za-z0-9]{6,16}$")


def new_code(length: int = 9) -> str:
    """A random base62 code (62^9: collisions are negligible and caught by SQLite's UNIQUE)."""
    chars: list[str] = []
    while len(chars) < length:  # one read of the OS's randomness per code, not one per character
        chars += [ALPHABET[b % 62] for b in secrets.token_bytes(2 * length) if b < UNBIASED]
    return "".join(chars[:length])


def valid_code(code: str) -> bool:
    return bool(CODE.match(code))
