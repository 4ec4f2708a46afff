"""The Shariff-compatible count backend and the URL normalisation behind it."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from service.api.shariff import SHARIFF_NAMES
from service.appkeys import DB
from service.domain.networks import NETWORKS
from service.domain.urls import canonical_url
from service.storage import keys
from tests.conftest import AUTH, put_article

URL = "https://t4k3.news/world/story-1"


async def _shares(client: Any, article_id: str, network: str, n: int) -> None:
    for _ in range(n):
        resp = await client.post(f"/v1/articles/{article_id}/shares", json={"network": network})
        assert resp.status == 201


async def _shariff(client: Any, url: str, **headers: str) -> Any:
    resp = await client.get("/shariff", params={"url": url}, headers=headers)
    assert resp.status == 200, await resp.text()
    return resp


@pytest.mark.parametrize(("given", "expected"), [
    ("https://t4k3.news/a/b", "t4k3.news/a/b"),
    ("http://T4K3.NEWS/a/b/", "t4k3.news/a/b"),
    ("https://t4k3.news:443/a/b?utm_source=x&utm_medium=social#top", "t4k3.news/a/b"),
    ("https://t4k3.news/a/b?fbclid=1&page=2&gclid=3&a=1", "t4k3.news/a/b?a=1&page=2"),
    ("https://t4k3.news/", "t4k3.news"),
    ("https://t4k3.news:8443/a", "t4k3.news:8443/a"),
    ("https://t4k3.news./a/B", "t4k3.news/a/B"),
    ("ftp://t4k3.news/a", None),
    ("javascript:alert(1)", None),
    ("not a url", None),
    ("https://t4k3.news:99999/a", None),
])
def test_canonical_url(given: str, expected: str | None) -> None:
    assert canonical_url(given) == expected


async def test_counts_by_shariff_names(client: Any) -> None:
    await put_article(client, "s1", url=URL)
    await _shares(client, "s1", "facebook", 3)
    await _shares(client, "s1", "x", 2)
    await _shares(client, "s1", "email", 1)
    await _shares(client, "s1", "native", 4)  # Shariff has no such service
    resp = await _shariff(client, URL)
    assert await resp.json() == {"facebook": 3, "twitter": 2, "mail": 1}
    assert resp.headers["Cache-Control"] == "public, max-age=30"


@pytest.mark.parametrize("variant", [
    "http://t4k3.news/world/story-1",
    "https://t4k3.news/world/story-1/",
    "https://T4K3.news/world/story-1?utm_source=newsletter&utm_campaign=x",
    "https://t4k3.news/world/story-1?fbclid=abc#comments",
])
async def test_normalised_urls_match(client: Any, variant: str) -> None:
    await put_article(client, "s1", url=URL + "/?utm_source=cms")
    await _shares(client, "s1", "linkedin", 2)
    assert await (await _shariff(client, variant)).json() == {"linkedin": 2}


async def test_unknown_urls_and_unshared_articles_give_empty_objects(client: Any) -> None:
    await put_article(client, "s1", url=URL)
    for url in ("https://t4k3.news/world/other", "https://elsewhere.example/world/story-1", "mailto:x@y.z", URL):
        assert await (await _shariff(client, url)).json() == {}


async def test_moved_article_answers_only_its_new_url(client: Any) -> None:
    await put_article(client, "s1", url=URL)
    await _shares(client, "s1", "reddit", 1)
    await put_article(client, "s1", url="https://t4k3.news/world/story-1-updated")
    assert await (await _shariff(client, URL)).json() == {}
    assert await (await _shariff(client, "https://t4k3.news/world/story-1-updated")).json() == {"reddit": 1}


async def test_lookup_needs_only_redis(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "s1", url=URL)
    assert redis_sync.get(keys.article_by_url("t4k3.news/world/story-1")) == b"s1"
    await _shares(client, "s1", "telegram", 1)
    db = client.app[DB]
    await db.execute("DELETE FROM articles")  # a lookup through SQLite would now find nothing
    await db.commit()
    assert await (await _shariff(client, URL)).json() == {"telegram": 1}


async def test_unpublished_article_still_reports_counts(client: Any) -> None:
    await put_article(client, "s1", url=URL)
    await _shares(client, "s1", "whatsapp", 1)
    assert (await client.delete("/v1/articles/s1", headers=AUTH)).status == 200
    assert await (await _shariff(client, URL)).json() == {"whatsapp": 1}


@pytest.mark.parametrize("query", ["", "?url=", "?url=" + "a" * 2100])
async def test_missing_or_huge_url_is_4xx(client: Any, query: str) -> None:
    resp = await client.get("/shariff" + query)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "validation_error"


async def test_cors_for_any_site(client: Any) -> None:
    resp = await _shariff(client, URL, Origin="https://blog.example")
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Origin" in resp.headers["Vary"]


def test_every_network_but_native_has_a_shariff_name() -> None:
    assert set(SHARIFF_NAMES) == set(NETWORKS) - {"native"}
