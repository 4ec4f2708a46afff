"""Stored URLs: validated fully at the edge, and kept byte for byte when share links add their UTM tags."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.articles import check_url
from service.domain.urls import with_utm

UTM = "utm_source=x&utm_medium=social&utm_campaign=share"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://t4k3.news/a?amp", f"https://t4k3.news/a?amp&{UTM}"),
        ("https://t4k3.news/a?id=%ZZ", f"https://t4k3.news/a?id=%ZZ&{UTM}"),
        ("https://t4k3.news/a?a=1;b=2", f"https://t4k3.news/a?a=1;b=2&{UTM}"),
        ("https://t4k3.news/a?q=%E9%FF", f"https://t4k3.news/a?q=%E9%FF&{UTM}"),
        ("https://t4k3.news/a?utm_content=c&utm_term=t", f"https://t4k3.news/a?utm_content=c&utm_term=t&{UTM}"),
        ("https://t4k3.news/a?utm_source=fb;x=1&utm_medium=m&utm_campaign=c", f"https://t4k3.news/a?x=1&{UTM}"),
        ("https://t4k3.news/a?x=1&utm_source=fb;y=2", f"https://t4k3.news/a?x=1;y=2&{UTM}"),
        ("https://t4k3.news/a?a+b=c%20d&&e=", f"https://t4k3.news/a?a+b=c%20d&&e=&{UTM}"),
        ("https://t4k3.news/a?", f"https://t4k3.news/a?{UTM}"),
        ("https://t4k3.news", f"https://t4k3.news?{UTM}"),
        ("https://t4k3.news/a#f?g=1", f"https://t4k3.news/a?{UTM}#f?g=1"),
        ("https://t4k3.news/%C3%A9t%C3%A9?k=v#", f"https://t4k3.news/%C3%A9t%C3%A9?k=v&{UTM}#"),
        ("https://t4k3.news/\u00e9t\u00e9?k=\u00fc", f"https://t4k3.news/%C3%A9t%C3%A9?k=%C3%BC&{UTM}"),
        ("https://b\u00fccher.example.com:8443/a", f"https://xn--bcher-kva.example.com:8443/a?{UTM}"),
    ],
)
def test_with_utm_keeps_the_url_byte_for_byte(url: str, expected: str) -> None:
    assert with_utm(url, "x") == expected


_QUERY_CHARS = st.text(alphabet="abcXYZ019=&;%+-._~!$'()*,/:@?", max_size=40)


@given(_QUERY_CHARS, st.text(alphabet="abc/%-._~", max_size=10))
def test_with_utm_only_appends_to_a_query_without_utm(query: str, path: str) -> None:
    url = f"https://t4k3.news/{path}?{query}"
    out = with_utm(url, "x")
    if "utm_" not in query:
        assert out == f"{url}{'&' if query else ''}{UTM}"
    assert out.endswith(UTM)
    assert out.count("utm_source=") == 1


@given(_QUERY_CHARS)
def test_with_utm_is_idempotent(query: str) -> None:
    once = with_utm(f"https://t4k3.news/p?{query}", "x")
    assert with_utm(once, "x") == once


@pytest.mark.parametrize(
    "url",
    ["https://t4k3.news:\u0000/", "https://t4k3.news:abc/", "https://t4k3.news:99999/", "https://t4k3.news:-1/",
     "https://t4k3.news:0/", "https://t4k3.news/a\x0bb", "https://t4k3.news/a\x00", "https://t4k3.news/a b",
     "https://t4k3.news/\u200b", "https://t4k3.news/\u00a0", "https://t4k3.news/\x85", "https://t4k3.news/\ud800",
     "https://t4k3.news\\@evil.example/", "https://u:p@t4k3.news/", "https://@t4k3.news/", "https://t4k3..news/",
     "https://t4k3.news%2f/", "https://t4k3.news:/", "ftp://t4k3.news/", "//t4k3.news/", "https://", "https://[::1/"],
)
def test_check_url_refuses(url: str) -> None:
    with pytest.raises(ValueError):
        check_url(url, None)


@pytest.mark.parametrize(
    "url",
    ["https://t4k3.news/a?amp&id=%ZZ;b", "http://t4k3.news:8080/x", "https://t4k3.news:65535", "http://[::1]:80/x",
     "https://b\u00fccher.example.com/\u00e9t\u00e9", "https://t4k3.news/a#frag"],
)
def test_check_url_keeps(url: str) -> None:
    assert check_url(url, None) == url
