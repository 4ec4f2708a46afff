"""Text from outside in one form: NFKC, no invisible format or control characters, single-spaced."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")
_DROPPED = frozenset({"Cf", "Cc"})  # format (zero-width, bidi marks, soft hyphen...) and control characters


def _visible(ch: str) -> str:
    if ch.isspace():
        return " "  # tabs, newlines and other spaces become one space (then runs collapse)
    return "" if unicodedata.category(ch) in _DROPPED else ch


def clean_text(value: str) -> str:
    """NFKC, format and control characters dropped, whitespace runs as one space, trimmed."""
    text = unicodedata.normalize("NFKC", value)
    if not text.isprintable():  # printable: no format, control or separator character but the space
        text = "".join(_visible(ch) for ch in text)
    return _SPACES.sub(" ", text).strip()


def text_key(value: str) -> str:
    """The form two texts are compared by: clean_text, case-folded, NFKC again (NFKC_Casefold)."""
    return unicodedata.normalize("NFKC", clean_text(value).casefold())


def clean_field(value: str, what: str, max_length: int) -> str:
    """clean_text, refusing text that is empty after it or longer than `max_length`."""
    text = clean_text(value)
    if not text:
        raise ValueError(f"{what} must contain visible characters")
    if len(text) > max_length:
        raise ValueError(f"{what} longer than {max_length} characters")
    return text
