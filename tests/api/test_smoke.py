from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AUTH, BROWSER_UA, REDIS_MODES, put_article, redis_url_of


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)


async def test_end_to_end(client: Any) -> None:
    created = await put_article(client, "a1")
    assert created["id"] == "a1"
    resp = await client.post("/v1/articles/a1/shares", json={"network": "facebook"})
    assert resp.status == 201
    share = await resp.json()
    assert share["share_url"].startswith("https://eng.test/s/")
    resp = await client.get(f"/s/{share['code']}", allow_redirects=False, headers={"User-Agent": BROWSER_UA})
    assert resp.status == 302
    assert resp.headers["Location"].startswith("https://t4k3.news/story?utm_source=facebook")
    resp = await client.post("/v1/articles/a1/views", data='{"event_id":"evt-00000001"}',
                             headers={"User-Agent": BROWSER_UA, "Content-Type": "text/plain"})
    assert resp.status == 202, await resp.text()
    resp = await client.get("/v1/articles/a1/stats")
    stats = await resp.json()
    assert stats["views"] == 1
    assert stats["unique_visitors"] == 1
    assert stats["shares"]["by_network"]["facebook"] == 1
    assert stats["clicks"]["total"] == 1
    resp = await client.get("/v1/articles/a1", headers=AUTH)
    assert resp.status == 200
