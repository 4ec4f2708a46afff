"""GET /v1/trending on the real app: hand-built hourly activity in Redis (and SQLite), a fixed clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from service import appkeys as K
from service.app import create_app
from service.appkeys import TRENDING_CLOCK
from service.config import Settings
from service.storage import keys
from tests.conftest import AUTH, BROWSER_UA, put_article

NOW = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
HOUR = int(NOW.timestamp()) // 3600


def activity(r: redis.Redis, article_id: str, hours_ago: int, n: int, metric: str = "view") -> None:
    """n events of an article in the hour `hours_ago` before the current one, as the ingest script writes them."""
    r.zincrby(keys.hot(keys.shard_of(article_id), metric, HOUR - hours_ago), n, article_id)


async def fixed_clock_client(settings: Settings, aiohttp_client: Callable[..., Any], ttl: float = 0.0) -> Any:
    app = create_app(settings.model_copy(update={"trending_cache_s": ttl}), flusher=False)
    app[TRENDING_CLOCK] = lambda: NOW
    return await aiohttp_client(app)


async def trending(client: Any, **query: Any) -> dict[str, Any]:
    resp = await client.get("/v1/trending", params={k: str(v) for k, v in query.items()})
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


def ids(body: dict[str, Any]) -> list[str]:
    return [a["article_id"] for a in body["articles"]]


@pytest.fixture
async def app_client(settings: Settings, aiohttp_client: Callable[..., Any]) -> Any:
    client = await fixed_clock_client(settings, aiohttp_client)
    for article_id in ("a1", "a2", "a3", "a4"):
        await put_article(client, article_id, title=f"Story {article_id}", url=f"https://t4k3.news/{article_id}")
    return client


async def test_recent_activity_ranks_first_with_exact_counts(app_client: Any, redis_sync: redis.Redis) -> None:
    activity(redis_sync, "a1", 5, 10)  # more views, but five hours ago
    activity(redis_sync, "a2", 0, 6)  # fewer, this hour
    activity(redis_sync, "a3", 1, 3)
    activity(redis_sync, "a3", 0, 1)
    body = await trending(app_client, metric="views", window="6h")
    assert ids(body) == ["a2", "a3", "a1"]
    assert [a["count"] for a in body["articles"]] == [6, 4, 10]
    first = body["articles"][0]
    assert first == {"article_id": "a2", "title": "Story a2", "url": "https://t4k3.news/a2", "count": 6, "score": 6.0}
    assert body["from"] == "2026-11-20T06:00:00Z"
    assert body["to"] == "2026-11-20T12:30:00Z"
    assert body["metric"] == "views" and body["window"] == "6h"


async def test_windows_are_respected(app_client: Any, redis_sync: redis.Redis) -> None:
    activity(redis_sync, "a1", 1, 2)  # previous hour: in every window
    activity(redis_sync, "a2", 2, 50)  # two hours ago: not in 1h
    activity(redis_sync, "a3", 30, 70)  # 30 hours ago: only 7d
    activity(redis_sync, "a4", 169, 90)  # just outside 7d
    assert ids(await trending(app_client, window="1h")) == ["a1"]
    assert ids(await trending(app_client, window="6h")) == ["a2", "a1"]
    assert ids(await trending(app_client, window="24h")) == ["a2", "a1"]
    week = await trending(app_client, window="7d")
    assert sorted(ids(week)) == ["a1", "a2", "a3"]
    assert {a["article_id"]: a["count"] for a in week["articles"]} == {"a1": 2, "a2": 50, "a3": 70}


async def test_metrics_are_separate_and_limit_applies(app_client: Any, redis_sync: redis.Redis) -> None:
    activity(redis_sync, "a1", 0, 5, "share")
    activity(redis_sync, "a2", 0, 9, "click")
    activity(redis_sync, "a3", 0, 4, "click")
    activity(redis_sync, "a4", 0, 1, "view")
    assert ids(await trending(app_client, metric="shares", window="1h")) == ["a1"]
    assert ids(await trending(app_client, metric="clicks", window="1h")) == ["a2", "a3"]
    assert ids(await trending(app_client, metric="clicks", window="1h", limit=1)) == ["a2"]
    assert ids(await trending(app_client, metric="views", window="1h")) == ["a4"]


async def test_unpublished_articles_are_excluded_at_once(
    settings: Settings, aiohttp_client: Callable[..., Any], redis_sync: redis.Redis
) -> None:
    client = await fixed_clock_client(settings, aiohttp_client, ttl=3600.0)  # only invalidation can drop it
    for article_id in ("a1", "a2"):
        await put_article(client, article_id)
    activity(redis_sync, "a1", 0, 5)
    activity(redis_sync, "a2", 0, 9)
    assert ids(await trending(client, window="1h")) == ["a2", "a1"]
    resp = await client.delete("/v1/articles/a2", headers=AUTH)
    assert resp.status == 200
    assert ids(await trending(client, window="1h")) == ["a1"]


async def test_hours_redis_lost_are_read_from_sqlite(app_client: Any, redis_sync: redis.Redis) -> None:
    shard = keys.shard_of("a3")
    redis_sync.hincrby(keys.delta(shard), f"a3\tview\t\t{HOUR - 4}", 7)  # counted, never in a hot zset
    await app_client.app[K.FLUSHER].flush_once()
    activity(redis_sync, "a1", 0, 2)
    body = await trending(app_client, window="6h")
    assert {a["article_id"]: a["count"] for a in body["articles"]} == {"a3": 7, "a1": 2}


async def test_real_views_trend_this_hour(client: Any) -> None:
    await put_article(client, "live1", title="Live one")
    for i in range(3):
        resp = await client.post("/v1/articles/live1/views", json={"event_id": f"evt-live-{i:04d}"},
                                 headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202
    body = await trending(client, metric="views", window="1h", limit=5)
    assert body["articles"][0]["article_id"] == "live1"
    assert body["articles"][0]["count"] == 3


async def test_response_is_public_and_cacheable(app_client: Any) -> None:
    resp = await app_client.get("/v1/trending")
    assert resp.status == 200
    assert resp.headers["Cache-Control"].startswith("public, max-age=")
    body = await resp.json()
    assert body["window"] == "24h" and body["metric"] == "views" and body["articles"] == []


@pytest.mark.parametrize(
    "query",
    [{"metric": "likes"}, {"window": "2h"}, {"limit": "0"}, {"limit": "51"}, {"limit": "ten"}],
)
async def test_bad_parameters_are_422(app_client: Any, query: dict[str, str]) -> None:
    resp = await app_client.get("/v1/trending", params=query)
    assert resp.status == 422
    assert (await resp.json())["error"]["code"] == "validation_error"
