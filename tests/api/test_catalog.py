"""Admin catalog: create/replace, read, unpublish, bulk, auth, tag and URL rules."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from service.storage import keys
from tests.conftest import ADMIN, AUTH, BROWSER_UA, article_body, put_article

PERSON = {"User-Agent": BROWSER_UA}


async def _stats(client: Any, article_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def _put(client: Any, article_id: str, **over: Any) -> Any:
    return await client.put(f"/v1/articles/{article_id}", json=article_body(**over), headers=AUTH)


async def _error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    error: dict[str, Any] = (await resp.json())["error"]
    assert error["code"] and error["message"]
    return error


async def test_put_creates_201_then_replaces_200(client: Any) -> None:
    resp = await _put(client, "story-1", section="World", image_url="https://cdn.example.com/a.jpg")
    assert resp.status == 201
    created = await resp.json()
    assert created["id"] == "story-1"
    assert created["url"] == "https://t4k3.news/story"
    assert created["section"] == "World"
    assert created["published_at"] == "2026-11-20T10:00:00Z"
    assert created["status"] == "published"
    resp = await _put(client, "story-1", title="A new title", published_at="2026-11-20T12:00:00+02:00")
    assert resp.status == 200
    replaced = await resp.json()
    assert replaced["title"] == "A new title"
    assert replaced["published_at"] == "2026-11-20T10:00:00Z"
    assert replaced["section"] is None


async def test_get_returns_stored_article(client: Any) -> None:
    await put_article(client, "g1", tags=["Russia"])
    resp = await client.get("/v1/articles/g1", headers=AUTH)
    assert resp.status == 200
    body = await resp.json()
    assert (body["id"], body["title"], body["tags"]) == ("g1", "A story", ["Russia"])
    await _error(await client.get("/v1/articles/nope", headers=AUTH), 404)


async def test_replace_keeps_share_codes(client: Any) -> None:
    await put_article(client, "r1")
    first = await (await client.post("/v1/articles/r1/shares", json={"network": "x"})).json()
    await put_article(client, "r1", title="Changed")
    second = await (await client.post("/v1/articles/r1/shares", json={"network": "x"})).json()
    assert first["share_url"] == second["share_url"]
    assert (await _stats(client, "r1"))["shares"]["by_network"]["x"] == 2


async def test_delete_unpublishes_links_gone_counts_kept(client: Any) -> None:
    await put_article(client, "d1")
    share = await (await client.post("/v1/articles/d1/shares", json={"network": "reddit"})).json()
    resp = await client.get(f"/s/{share['code']}", allow_redirects=False, headers=PERSON)
    assert resp.status == 302
    await client.post("/v1/articles/d1/views", json={"event_id": "evt-delete-01"}, headers=PERSON)
    before = await _stats(client, "d1")
    resp = await client.delete("/v1/articles/d1", headers=AUTH)
    assert resp.status == 200
    assert (await resp.json())["status"] == "unpublished"
    await _error(await client.get(f"/s/{share['code']}", allow_redirects=False, headers=PERSON), 410)
    await _error(await client.post("/v1/articles/d1/shares", json={"network": "x"}), 410)
    await _error(await client.post("/v1/articles/d1/views", json={"event_id": "evt-delete-02"}, headers=PERSON), 410)
    assert (await (await client.get("/v1/articles/d1", headers=AUTH)).json())["status"] == "unpublished"
    after = await _stats(client, "d1")
    assert after == before
    assert (after["views"], after["shares"]["total"], after["clicks"]["total"]) == (1, 1, 1)


async def test_delete_unknown_is_404(client: Any) -> None:
    await _error(await client.delete("/v1/articles/never", headers=AUTH), 404)


async def test_put_again_republishes(client: Any) -> None:
    await put_article(client, "p1")
    await client.delete("/v1/articles/p1", headers=AUTH)
    assert (await put_article(client, "p1"))["status"] == "published"
    assert (await client.post("/v1/articles/p1/shares", json={"network": "x"})).status == 201


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {ADMIN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {ADMIN}x"},
    ],
)
async def test_admin_endpoints_need_the_token(client: Any, headers: dict[str, str]) -> None:
    await put_article(client, "auth1")
    calls = [
        client.put("/v1/articles/auth2", json=article_body(), headers=headers),
        client.get("/v1/articles/auth1", headers=headers),
        client.delete("/v1/articles/auth1", headers=headers),
        client.post("/v1/articles/bulk", json={"articles": [dict(article_body(), id="auth3")]}, headers=headers),
    ]
    for call in calls:
        error = await _error(await call, 401)
        assert error["code"] == "unauthorized"
    assert (await client.get("/v1/articles/auth1", headers=AUTH)).status == 200
    assert (await (await client.get("/v1/articles/auth1", headers=AUTH)).json())["status"] == "published"
    for missing in ("auth2", "auth3"):
        assert (await client.get(f"/v1/articles/{missing}", headers=AUTH)).status == 404


async def test_bulk_mixes_good_and_bad_items(client: Any) -> None:
    await put_article(client, "b0")
    items: list[Any] = [
        dict(article_body(), id="b0"),
        dict(article_body(), id="b1"),
        dict(article_body(url="javascript:alert(1)"), id="b2"),
        {"url": "https://t4k3.news/x", "title": "no id", "published_at": "2026-11-20T10:00:00Z"},
        dict(article_body(), id="bad id!"),
        "not an object",
        dict(article_body(published_at="yesterday"), id="b3"),
        dict(article_body(tags=["ok"] * 2 + [f"t{i}" for i in range(40)]), id="b4"),
        dict(article_body(title="Fifth"), id="b5"),
    ]
    resp = await client.post("/v1/articles/bulk", json={"articles": items}, headers=AUTH)
    assert resp.status == 207, await resp.text()  # Multi-Status: some written, some not
    body = await resp.json()
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [200, 201, 422, 422, 422, 422, 422, 422, 201]
    assert [r["outcome"] for r in body["results"]][:3] == ["replaced", "created", "rejected"]
    assert (body["accepted"], body["rejected"]) == (3, 6)
    assert [r["index"] for r in body["results"]] == list(range(len(items)))
    for result in body["results"]:
        if result["status"] == 422:
            assert result["error"]["code"] and result["error"]["message"]
    assert (await client.get("/v1/articles/b5", headers=AUTH)).status == 200
    for rejected in ("b2", "b3", "b4"):
        assert (await client.get(f"/v1/articles/{rejected}", headers=AUTH)).status == 404


async def test_bulk_of_a_thousand_articles(client: Any) -> None:
    """A realistic bulk body (hundreds of KiB) arrives in many chunks and must be read whole."""
    items = [
        dict(article_body(title=f"Story {i} " + "x" * 200, tags=[f"tag {i % 50}"]), id=f"k{i}") for i in range(1000)
    ]
    resp = await client.post("/v1/articles/bulk", json={"articles": items}, headers=AUTH)
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["accepted"] == 1000
    assert (await (await client.get("/v1/articles/k999", headers=AUTH)).json())["tags"] == ["tag 49"]


async def test_bulk_repeating_an_id_creates_once_and_keeps_the_last(client: Any) -> None:
    items = [dict(article_body(title="First"), id="rep"), dict(article_body(title="Second"), id="rep")]
    resp = await client.post("/v1/articles/bulk", json={"articles": items}, headers=AUTH)
    assert [r["status"] for r in (await resp.json())["results"]] == [201, 200]
    assert (await (await client.get("/v1/articles/rep", headers=AUTH)).json())["title"] == "Second"
    share = await (await client.post("/v1/articles/rep/shares", json={"network": "x"})).json()
    again = await client.post("/v1/articles/bulk", json={"articles": items[:1]}, headers=AUTH)
    assert [r["status"] for r in (await again.json())["results"]] == [200]
    resp = await client.get(f"/s/{share['code']}", headers=PERSON, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    assert (await client.post("/v1/articles/rep/shares", json={"network": "x"})).status == 201
    assert (await (await client.post("/v1/articles/rep/shares", json={"network": "x"})).json())["code"] == share["code"]


async def test_bulk_status_says_what_happened(client: Any) -> None:
    """201 all written (some new), 200 all replaced, 207 some, 422 none; items take `id` or `article_id`."""
    first = await client.post("/v1/articles/bulk", json={"articles": [
        dict(article_body(), id="s1"), dict(article_body(), article_id="s2")]}, headers=AUTH)
    assert first.status == 201, await first.text()
    assert [r["id"] for r in (await first.json())["results"]] == ["s1", "s2"]
    assert (await client.get("/v1/articles/s2", headers=AUTH)).status == 200
    again = await client.post("/v1/articles/bulk", json={"articles": [dict(article_body(), article_id="s1")]},
                              headers=AUTH)
    assert again.status == 200 and (await again.json())["results"][0]["outcome"] == "replaced"
    none = await client.post("/v1/articles/bulk", json={"articles": [
        dict(article_body(), id="s3", article_id="s3"), dict(article_body(url="ftp://x"), id="s4"), {"id": 7}]},
        headers=AUTH)
    assert none.status == 422, await none.text()
    body = await none.json()
    assert (body["accepted"], body["rejected"]) == (0, 3)
    assert [r["id"] for r in body["results"]] == ["s3", "s4", None]
    assert all(r["error"]["code"] == "validation_error" for r in body["results"])
    assert (await client.get("/v1/articles/s3", headers=AUTH)).status == 404
    mixed = await client.post("/v1/articles/bulk", json={"articles": [dict(article_body(), id="s5"), {}]},
                              headers=AUTH)
    assert mixed.status == 207


async def test_bulk_over_limit_is_422(client: Any) -> None:
    items = [dict(article_body(), id=f"o{i}") for i in range(1001)]
    await _error(await client.post("/v1/articles/bulk", json={"articles": items}, headers=AUTH), 422)
    assert (await client.get("/v1/articles/o0", headers=AUTH)).status == 404


async def test_tags_trimmed_deduplicated_display_form_kept(client: Any) -> None:
    raw = ["  North Korea ", "north korea", "NORTH  KOREA", "Russia", "\tUkraine war\n", "RUSSIA", "ß-tag", "SS-TAG"]
    stored = await put_article(client, "t1", tags=raw)
    assert stored["tags"] == ["North Korea", "Russia", "Ukraine war", "ß-tag"]
    fetched = await (await client.get("/v1/articles/t1", headers=AUTH)).json()
    assert fetched["tags"] == stored["tags"]


async def test_tags_in_redis_index_are_display_forms(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "t2", tags=["  Forced Labor", "forced labor", "IT workers"])
    raw = redis_sync.hget(keys.article("t2"), "tags")
    assert raw is not None
    assert raw.decode() == '["Forced Labor","IT workers"]'  # compact JSON: the hash stays a listpack


async def test_tag_limits(client: Any) -> None:
    assert len((await put_article(client, "t3", tags=[f"tag {i}" for i in range(32)]))["tags"]) == 32
    assert len((await put_article(client, "t4", tags=["x" * 64]))["tags"][0]) == 64
    dupes = [f"Tag {i}" for i in range(32)] + [f"TAG {i}" for i in range(32)]
    assert len((await put_article(client, "t5", tags=dupes))["tags"]) == 32
    await _error(await _put(client, "t6", tags=[f"tag {i}" for i in range(33)]), 422)
    await _error(await _put(client, "t7", tags=["x" * 65]), 422)
    await _error(await _put(client, "t8", tags=["   "]), 422)
    await _error(await _put(client, "t9", tags="Russia"), 422)
    await _error(await _put(client, "t10", tags=[1, 2]), 422)
    for rejected in ("t6", "t7", "t8", "t9", "t10"):
        assert (await client.get(f"/v1/articles/{rejected}", headers=AUTH)).status == 404


@pytest.mark.parametrize("article_id", ["a", "A-z_09", "x" * 64])
async def test_valid_ids(client: Any, article_id: str) -> None:
    assert (await _put(client, article_id)).status == 201


@pytest.mark.parametrize("article_id", ["x" * 65, "has%20space", "dot.ted", "sl%2Fash", "%C3%A9", "semi;colon", "a+b"])
async def test_invalid_ids(client: Any, article_id: str) -> None:
    error = await _error(await _put(client, article_id), 422)
    assert "article_id" in error["message"]
    await _error(await client.get(f"/v1/articles/{article_id}", headers=AUTH), 422)


@pytest.mark.parametrize(
    "url",
    [
        "https://t4k3.news/story?x=1#frag",
        "http://t4k3.news/plain",
        "HTTPS://T4K3.NEWS/Upper",
        "https://www.example.com/sub",
        "https://example.com/apex",
        "https://deep.a.example.com/",
    ],
)
async def test_allowed_urls(client: Any, url: str) -> None:
    assert (await put_article(client, "u1", url=url))["url"] == url


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)//https://t4k3.news/",
        "data:text/html,<script>alert(1)</script>",
        "//t4k3.news/protocol-relative",
        "/relative/path",
        "ftp://t4k3.news/file",
        "mailto:someone@t4k3.news",
        "https://evil.test/story",
        "https://t4k3.news.evil.test/story",
        "https://evilt4k3.news/story",
        "https://notexample.com/x",
        "https://user:pass@t4k3.news/x",
        "https://evil.test\\@t4k3.news/x",
        "https:///t4k3.news",
        "https://t4k3.news/with space",
        "https://[::1/bad",
        "",
        "t4k3.news/no-scheme",
    ],
)
async def test_rejected_urls(client: Any, url: str) -> None:
    error = await _error(await _put(client, "u2", url=url), 422)
    assert error["details"][0]["loc"] == ["url"]
    assert (await client.get("/v1/articles/u2", headers=AUTH)).status == 404


async def test_image_url_must_be_http(client: Any) -> None:
    await _error(await _put(client, "i1", image_url="javascript:alert(1)"), 422)
    assert (await put_article(client, "i2", image_url="https://cdn.elsewhere.test/p.jpg"))["image_url"]


@pytest.mark.parametrize(
    "over",
    [
        {"title": ""},
        {"title": 5},
        {"published_at": "2026-11-20T10:00:00"},
        {"published_at": "not a date"},
        {"unknown_field": 1},
        {"url": None},
    ],
)
async def test_bad_article_bodies(client: Any, over: dict[str, Any]) -> None:
    await _error(await _put(client, "bad1", **over), 422)
    assert (await client.get("/v1/articles/bad1", headers=AUTH)).status == 404


DEMO = {
    "nk-workers-russia": ("North Koreans Put to Work in Russia",
                          ["North Korea", "Russia", "forced labor", "human rights", "Ukraine war"]),
    "sanctions-russia-congress": ("Congressional conservatives push for stricter sanctions on Russia",
                                  ["Russia", "sanctions", "US Congress", "US politics"]),
    "nk-it-worker-scheme": ("Former North Korean IT worker exposes regime's funding scheme",
                            ["North Korea", "IT workers", "sanctions", "forced labor"]),
    "nk-military-russia": ("North Korea enhances military through Russian collaboration",
                           ["North Korea", "Russia", "military", "Ukraine war"]),
    "arizona-nk-fraud": ("Arizona woman sentenced for North Korean fraud scheme",
                         ["North Korea", "IT workers", "fraud", "courts"]),
    "us-woman-nk-employment-fraud": ("US woman sentenced for North Korea employment fraud",
                                     ["North Korea", "IT workers", "fraud", "courts"]),
    "russia-nk-flights": ("Russia resumes flights to North Korea for first time in decades",
                          ["Russia", "North Korea", "aviation", "diplomacy"]),
    "weiner-trump-security": ("Tim Weiner critiques Trump's impact on national security",
                              ["Trump", "national security", "US politics"]),
    "trump-alaska-summit": ("Trump signals peace talks with Russia ahead of Alaska summit",
                            ["Trump", "Russia", "Ukraine war", "diplomacy"]),
}


async def test_demo_catalog(settings: Any, aiohttp_client: Any) -> None:
    from service.app import create_app

    client = await aiohttp_client(create_app(settings, demo=True, flusher=False))
    published = []
    for article_id, (title, tags) in DEMO.items():
        body = await (await client.get(f"/v1/articles/{article_id}", headers=AUTH)).json()
        assert (body["title"], body["tags"], body["status"]) == (title, tags, "published")
        assert body["url"].startswith("https://t4k3.news/")
        published.append(body["published_at"])
    assert len(set(published)) == len(DEMO)
    stats = await (await client.get("/v1/stats?ids=" + ",".join(DEMO))).json()
    assert sorted(stats["articles"]) == sorted(DEMO)
