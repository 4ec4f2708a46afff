"""Redis replies as text: one place that turns bytes (or whatever a client gave back) into str."""

from __future__ import annotations


def text(value: object) -> str:
    """UTF-8 bytes decoded; anything else as str."""
    return value.decode() if isinstance(value, bytes) else str(value)


def text_or_none(value: bytes | None) -> str | None:
    """`text`, keeping a missing value (None) missing."""
    return None if value is None else text(value)
