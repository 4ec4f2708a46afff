"""One form for text from outside: NFKC, no invisible characters, and tag keys of that form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.articles import normalise_tags, tag_key
from service.domain.text import clean_field, clean_text, text_key


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Rus\u200bsia", "Russia"), ("e\u0301", "\u00e9"), ("\ufb01nance", "finance"), ("\ufeffWorld\u2060", "World"),
        ("a\tb\n\r c\u00a0\u2003d", "a b c d"), ("x\x00y\x7f", "xy"), ("\u202eevil\u202c", "evil"),
        ("soft\u00adhyphen", "softhyphen"), ("  plain  ", "plain"), ("\u200b\u200c\u200d", ""),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(("a", "b"), [("Russia", "Rus\u200bsia"), ("\u00e9", "e\u0301"), ("finance", "\ufb01nance"),
                                      ("STRASSE", "stra\u00dfe"), ("North  Korea", "north\u00a0korea")])
def test_equal_tags_have_one_key(a: str, b: str) -> None:
    assert tag_key(a) == tag_key(b)
    assert normalise_tags([a, b]) == [clean_text(a)]


@pytest.mark.parametrize("raw", ["", " ", "\u200b", "\x00", "\u2060\ufeff"])
def test_invisible_text_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="visible"):
        clean_field(raw, "title", 100)
    with pytest.raises(ValueError, match="visible"):
        normalise_tags(["ok", raw])


def test_length_is_checked_after_normalising() -> None:
    with pytest.raises(ValueError, match="longer"):
        clean_field("\ufdfa" * 10, "title", 100)  # NFKC expands each to 18 characters


@given(st.text())
def test_normal_form_is_stable(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once
    assert text_key(text_key(raw)) == text_key(raw)
    assert all(ch == " " or not ch.isspace() for ch in once)
