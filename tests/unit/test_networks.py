"""Intent URLs and UTM merging, as pure functions."""

from __future__ import annotations

from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.domain.networks import NETWORKS, intent_url, with_utm
from service.domain.urls import UTM_TAGS

SHARE = "https://eng.test/s/AbC123xyz"
LINK_AND_TITLE = {
    "facebook": ("u", None),
    "x": ("url", "text"),
    "linkedin": ("url", None),
    "whatsapp": ("text", "text"),
    "telegram": ("url", "text"),
    "reddit": ("url", "title"),
    "bluesky": ("text", "text"),
    "email": ("body", "subject"),
}


def _decode(network: str, share_url: str, title: str) -> tuple[str, str | None]:
    """(share link, title) read back out of the intent URL with urllib."""
    intent = intent_url(network, share_url, title)
    assert intent is not None and intent.isascii()
    params = parse_qs(urlsplit(intent).query, keep_blank_values=True, strict_parsing=True)
    link_param, title_param = LINK_AND_TITLE[network]
    if link_param == title_param:
        text = params[link_param][0]
        assert text.endswith(" " + share_url)
        return share_url, text[: -len(share_url) - 1]
    return params[link_param][0], params[title_param][0] if title_param else None


def test_every_network_is_known() -> None:
    assert set(NETWORKS) == set(LINK_AND_TITLE) | {"copy", "native"}
    assert len(NETWORKS) == 10


@pytest.mark.parametrize("network", ["copy", "native", "myspace"])
def test_no_intent(network: str) -> None:
    assert intent_url(network, SHARE, "t") is None


@pytest.mark.parametrize("network", sorted(LINK_AND_TITLE))
@pytest.mark.parametrize(
    "title",
    ["Plain", "a&b=c", "50% + 50%", "#hash ?q", "Ünïcödé — 北朝鮮 🕊", "new\nline", "quote\"'", "slash/back\\"],
)
def test_round_trip(network: str, title: str) -> None:
    link, read_title = _decode(network, SHARE, title)
    assert link == SHARE
    if LINK_AND_TITLE[network][1]:
        assert read_title == title


@pytest.mark.parametrize("network", sorted(LINK_AND_TITLE))
def test_share_link_with_query_survives(network: str) -> None:
    tricky = "https://eng.test/s/Abc?x=1&y=2#f"
    assert _decode(network, tricky, "T")[0] == tricky


@given(title=st.text(min_size=1, max_size=80))
def test_any_title_round_trips(title: str) -> None:
    for network in LINK_AND_TITLE:
        link, read_title = _decode(network, SHARE, title)
        assert link == SHARE
        assert read_title in (title, None)


def test_intent_hosts() -> None:
    hosts = {n: urlsplit(intent_url(n, SHARE, "t") or "").netloc for n in LINK_AND_TITLE}
    assert hosts == {
        "facebook": "www.facebook.com", "x": "x.com", "linkedin": "www.linkedin.com", "whatsapp": "wa.me",
        "telegram": "t.me", "reddit": "www.reddit.com", "bluesky": "bsky.app", "email": "",
    }
    assert (intent_url("email", SHARE, "t") or "").startswith("mailto:?")


UTM = [("utm_source", "x"), ("utm_medium", "social"), ("utm_campaign", "share")]


@pytest.mark.parametrize(
    ("url", "query", "fragment"),
    [
        ("https://t4k3.news/a", [], ""),
        ("https://t4k3.news/a?", [], ""),
        ("https://t4k3.news/a?id=1&b=", [("id", "1"), ("b", "")], ""),
        ("https://t4k3.news/a?utm_source=fb&utm_medium=email&utm_term=t&id=1#top",
         [("utm_term", "t"), ("id", "1")], "top"),
        ("https://t4k3.news/a?q=a%26b%3Dc&q=2#x?y=1", [("q", "a&b=c"), ("q", "2")], "x?y=1"),
        ("https://t4k3.news/a#frag-only", [], "frag-only"),
    ],
)
def test_with_utm(url: str, query: list[tuple[str, str]], fragment: str) -> None:
    merged = urlsplit(with_utm(url, "x"))
    original = urlsplit(url)
    assert (merged.scheme, merged.netloc, merged.path) == (original.scheme, original.netloc, original.path)
    assert parse_qsl(merged.query, keep_blank_values=True) == [*query, *UTM]
    assert merged.fragment == fragment


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=5), st.sampled_from(NETWORKS))
def test_with_utm_any_query(query: list[tuple[str, str]], network: str) -> None:
    from urllib.parse import urlencode

    url = "https://t4k3.news/p?" + urlencode(query)
    out = parse_qsl(urlsplit(with_utm(url, network)).query, keep_blank_values=True)
    assert out[-3:] == [("utm_source", network), ("utm_medium", "social"), ("utm_campaign", "share")]
    kept = [(k, v) for k, v in parse_qsl(urlsplit(url).query, keep_blank_values=True) if k not in UTM_TAGS]
    assert out[:-3] == kept
