"""Shares, share links and their redirects."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import pytest

from service.domain.networks import NETWORKS
from tests.conftest import AUTH, BROWSER_UA, REDIS_MODES, put_article, redis_url_of


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)

PERSON = {"User-Agent": BROWSER_UA}
TITLE = 'Trump & Putin: "peace" talks? 50% #Alaska + more — Ünïcode 🕊 / end'
INTENT_PARAMS: dict[str, tuple[str, str, str | None]] = {
    # network: (scheme://host/path, the parameter carrying the share link, the parameter carrying the title)
    "facebook": ("https://www.facebook.com/sharer/sharer.php", "u", None),
    "x": ("https://x.com/intent/tweet", "url", "text"),
    "linkedin": ("https://www.linkedin.com/sharing/share-offsite/", "url", None),
    "whatsapp": ("https://wa.me/", "text", "text"),
    "telegram": ("https://t.me/share/url", "url", "text"),
    "reddit": ("https://www.reddit.com/submit", "url", "title"),
    "bluesky": ("https://bsky.app/intent/compose", "text", "text"),
    "email": ("mailto:", "body", "subject"),
}


async def _share(client: Any, article_id: str, network: str) -> dict[str, Any]:
    resp = await client.post(f"/v1/articles/{article_id}/shares", json={"network": network})
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def _stats(client: Any, article_id: str) -> dict[str, Any]:
    data: dict[str, Any] = await (await client.get(f"/v1/articles/{article_id}/stats")).json()
    return data


async def _click(client: Any, code: str, method: str = "GET", **headers: str) -> Any:
    return await client.request(method, f"/s/{code}", allow_redirects=False, headers=headers or PERSON)


@pytest.mark.parametrize("network", sorted(INTENT_PARAMS))
async def test_intent_url_round_trips(client: Any, network: str) -> None:
    await put_article(client, "i1", title=TITLE)
    share = await _share(client, "i1", network)
    assert share["network"] == network
    assert share["share_url"] == f"https://eng.test/s/{share['code']}"
    intent = share["intent_url"]
    assert all(ch not in intent for ch in ' "#<>\n') and intent.isascii()
    parts = urlsplit(intent)
    base, link_param, title_param = INTENT_PARAMS[network]
    assert f"{parts.scheme}:{'//' + parts.netloc if parts.netloc else ''}{parts.path}" == base
    params = parse_qs(parts.query, strict_parsing=True)
    assert all(len(values) == 1 for values in params.values())
    if link_param == title_param:
        assert params[link_param] == [f"{TITLE} {share['share_url']}"]
    else:
        assert params[link_param] == [share["share_url"]]
        if title_param:
            assert params[title_param] == [TITLE]
    assert not parts.fragment


@pytest.mark.parametrize("network", ["copy", "native"])
async def test_copy_and_native_have_no_intent(client: Any, network: str) -> None:
    await put_article(client, "c1")
    share = await _share(client, "c1", network)
    assert share["intent_url"] is None
    assert share["share_url"] == f"https://eng.test/s/{share['code']}"


async def test_every_network_is_counted_with_one_stable_code(client: Any) -> None:
    await put_article(client, "s1")
    await put_article(client, "s2")
    first = {n: (await _share(client, "s1", n))["code"] for n in NETWORKS}
    again = {n: (await _share(client, "s1", n))["code"] for n in NETWORKS}
    other = {n: (await _share(client, "s2", n))["code"] for n in NETWORKS}
    assert first == again
    assert len(set(first.values()) | set(other.values())) == 2 * len(NETWORKS)
    stats = await _stats(client, "s1")
    assert stats["shares"]["by_network"] == {n: 2 for n in NETWORKS}
    assert stats["shares"]["total"] == 2 * len(NETWORKS)
    assert (await _stats(client, "s2"))["shares"]["total"] == len(NETWORKS)


async def test_codes_survive_a_restart_of_the_app(settings: Any, aiohttp_client: Any, client: Any) -> None:
    from service.app import create_app

    await put_article(client, "s3")
    code = (await _share(client, "s3", "linkedin"))["code"]
    await client.close()
    second = await aiohttp_client(create_app(settings, flusher=False))
    assert (await _share(second, "s3", "linkedin"))["code"] == code


@pytest.mark.parametrize(
    "body", [{"network": "myspace"}, {"network": "Facebook"}, {"network": ""}, {"network": None}, {}]
)
async def test_unknown_network_is_422(client: Any, body: dict[str, Any]) -> None:
    await put_article(client, "n1")
    resp = await client.post("/v1/articles/n1/shares", json=body)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "validation_error"
    assert (await _stats(client, "n1"))["shares"]["total"] == 0


async def test_redirect_is_302_private_with_utm(client: Any) -> None:
    await put_article(client, "r1", url="https://t4k3.news/story")
    share = await _share(client, "r1", "telegram")
    resp = await _click(client, share["code"])
    assert resp.status == 302
    assert resp.headers["Location"] == "https://t4k3.news/story?utm_source=telegram&utm_medium=social&utm_campaign=share"
    cache = [d.strip() for d in resp.headers["Cache-Control"].split(",")]
    assert "private" in cache and "max-age=0" in cache
    assert "public" not in cache
    stats = await _stats(client, "r1")
    assert stats["clicks"] == {"total": 1, "by_network": {n: int(n == "telegram") for n in NETWORKS}}
    assert stats["bot_clicks"] == 0


async def test_utm_merged_into_existing_query_and_fragment(client: Any) -> None:
    url = "https://t4k3.news/a/b?id=7&q=a%20b%26c&utm_source=old&UTM_keep=1&utm_medium=x&empty=#part-2"
    await put_article(client, "r2", url=url)
    share = await _share(client, "r2", "facebook")
    location = (await _click(client, share["code"])).headers["Location"]
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == ("https", "t4k3.news", "/a/b", "part-2")
    query = parse_qsl(parts.query, keep_blank_values=True)
    assert [k for k, _ in query if k.startswith("utm_")] == ["utm_source", "utm_medium", "utm_campaign"]
    merged = dict(query)
    assert merged["utm_source"] == "facebook"
    assert merged["utm_medium"] == "social"
    assert merged["utm_campaign"] == "share"
    assert (merged["id"], merged["q"], merged["UTM_keep"], merged["empty"]) == ("7", "a b&c", "1", "")


async def test_nothing_in_the_request_changes_the_target(client: Any) -> None:
    await put_article(client, "r3", url="https://t4k3.news/fixed")
    code = (await _share(client, "r3", "x"))["code"]
    expected = "https://t4k3.news/fixed?utm_source=x&utm_medium=social&utm_campaign=share"
    tricks = [
        f"/s/{code}?url=https://evil.test/&next=//evil.test&utm_source=evil&redirect=https://evil.test",
        f"/s/{code}/",
        f"/s/{code}#https://evil.test",
    ]
    headers = {
        **PERSON,
        "Host": "evil.test",
        "X-Forwarded-Host": "evil.test",
        "X-Forwarded-Proto": "http",
        "Referer": "https://evil.test/",
        "X-Original-URL": "https://evil.test/",
        "Forwarded": "host=evil.test;proto=http",
    }
    for path in tricks:
        resp = await client.get(path, allow_redirects=False, headers=headers)
        if resp.status == 302:
            assert resp.headers["Location"] == expected
        else:
            assert resp.status == 404
    assert (await _click(client, code)).headers["Location"] == expected


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("GET", {"User-Agent": "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"}),
        ("GET", {"User-Agent": "Twitterbot/1.0"}),
        ("GET", {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}),
        ("GET", {"User-Agent": "WhatsApp/2.23.20.0"}),
        ("GET", {"User-Agent": "TelegramBot (like TwitterBot)"}),
        ("GET", {"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"}),
        ("GET", {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari"}),
        ("GET", {"User-Agent": "curl/8.5.0"}),
        ("GET", {"User-Agent": "python-requests/2.32"}),
        ("GET", {"User-Agent": ""}),
        ("GET", {"User-Agent": "   "}),
        ("HEAD", {"User-Agent": BROWSER_UA}),
    ],
)
async def test_bots_are_redirected_but_counted_apart(client: Any, method: str, headers: dict[str, str]) -> None:
    await put_article(client, "b1")
    code = (await _share(client, "b1", "whatsapp"))["code"]
    resp = await client.request(method, f"/s/{code}", allow_redirects=False, headers=headers)
    assert resp.status == 302
    assert resp.headers["Location"].startswith("https://t4k3.news/story?utm_source=whatsapp")
    stats = await _stats(client, "b1")
    assert stats["bot_clicks"] == 1
    assert stats["clicks"]["total"] == 0


async def test_no_user_agent_header_is_a_bot(client: Any) -> None:
    await put_article(client, "b2")
    code = (await _share(client, "b2", "email"))["code"]
    async with aiohttp.ClientSession() as bare:  # not the test client: it sends a browser's UA
        url = client.make_url(f"/s/{code}")
        async with bare.get(url, allow_redirects=False, skip_auto_headers=["User-Agent"]) as resp:
            assert resp.status == 302
    stats = await _stats(client, "b2")
    assert (stats["bot_clicks"], stats["clicks"]["total"]) == (1, 0)


@pytest.mark.parametrize("code", ["AAAAAAAAA", "zzzzzzzzz", "short", "x" * 40, "bad-chars", "%00%00%00%00%00%00"])
async def test_unknown_code_is_404(client: Any, code: str) -> None:
    await put_article(client, "u1")
    resp = await client.get(f"/s/{code}", allow_redirects=False, headers=PERSON)
    assert resp.status == 404
    assert (await resp.json())["error"]["code"] == "not_found"
    stats = await _stats(client, "u1")
    assert (stats["clicks"]["total"], stats["bot_clicks"]) == (0, 0)


async def test_share_unknown_article_is_404(client: Any) -> None:
    resp = await client.post("/v1/articles/ghost/shares", json={"network": "x"})
    assert resp.status == 404
    assert (await client.get("/v1/articles/ghost", headers=AUTH)).status == 404


async def test_share_event_id_counts_once(client: Any) -> None:
    await put_article(client, "e1")
    for _ in range(3):
        resp = await client.post("/v1/articles/e1/shares", json={"network": "x", "event_id": "share-evt-0001"})
        assert resp.status == 201
    assert (await _stats(client, "e1"))["shares"]["total"] == 1
