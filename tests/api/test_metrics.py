"""GET /metrics: exact values after a known sequence of requests; the exposition parses."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import redis
from prometheus_client.parser import text_string_to_metric_families

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from tests.conftest import AUTH, BROWSER_UA, put_article

CURL = "curl/8.5.0"


async def scrape(client: Any) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = await client.get("/metrics", headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def view(client: Any, article_id: str, event_id: str, ua: str = BROWSER_UA) -> int:
    resp = await client.post(f"/v1/articles/{article_id}/views", json={"event_id": event_id},
                             headers={"User-Agent": ua})
    status: int = resp.status
    return status


async def test_scraped_values_after_a_known_sequence(client: Any) -> None:
    await put_article(client, "a1")
    for _ in range(2):
        resp = await client.post("/v1/articles/a1/shares", json={"network": "x", "event_id": "evt-share-0001"})
        assert resp.status == 201
    assert await view(client, "a1", "evt-view-0001") == 202
    assert await view(client, "a1", "evt-view-0001") == 202  # duplicate
    assert await view(client, "a1", "evt-view-0002", CURL) == 202  # bot
    assert await view(client, "nope", "evt-view-0003") == 404  # rejected
    assert (await client.get("/no/such/path")).status == 404
    assert (await client.get("/metrics")).status == 401
    await client.app[K.FLUSHER].flush_once()

    s = await scrape(client)
    req = "engagement_http_requests_total"
    assert value(s, req, route="/v1/articles/{article_id}", method="PUT", status="201") == 1
    assert value(s, req, route="/v1/articles/{article_id}/shares", method="POST", status="201") == 2
    assert value(s, req, route="/v1/articles/{article_id}/views", method="POST", status="202") == 3
    assert value(s, req, route="/v1/articles/{article_id}/views", method="POST", status="404") == 1
    assert value(s, req, route="unmatched", method="GET", status="404") == 1
    assert value(s, req, route="/metrics", method="GET", status="401") == 1
    assert value(s, req, route="/metrics", method="GET", status="200") == 0  # a scrape is counted after it
    assert sum(v for (name, _), v in s.items() if name == req) == 9
    hist = "engagement_http_request_duration_seconds"
    views = {"route": "/v1/articles/{article_id}/views", "method": "POST"}
    assert value(s, f"{hist}_count", **views) == 4
    assert value(s, f"{hist}_bucket", le="+Inf", **views) == 4
    assert value(s, f"{hist}_sum", **views) > 0

    ev = "engagement_events_total"
    assert value(s, ev, kind="view", result="accepted") == 1
    assert value(s, ev, kind="view", result="duplicate") == 1
    assert value(s, ev, kind="view", result="bot") == 1
    assert value(s, ev, kind="view", result="rejected") == 1
    assert value(s, ev, kind="share", result="accepted") == 1
    assert value(s, ev, kind="share", result="duplicate") == 1
    assert value(s, ev, kind="click", result="accepted") == 0
    assert ("engagement_events_total", frozenset({("kind", "click"), ("result", "failed")})) in s  # pre-declared

    assert value(s, "engagement_flush_runs_total", result="success") == 1
    assert value(s, "engagement_flush_runs_total", result="failure") == 0
    assert value(s, "engagement_flush_last_rows") == 3  # share/x, view, bot_view in this hour
    assert value(s, "engagement_flush_last_events") == 3
    assert value(s, "engagement_flush_last_batches") == 1
    assert value(s, "engagement_flush_pending_batches") == 0
    assert value(s, "engagement_flush_pending_delta_fields") == 0
    assert 0 <= value(s, "engagement_flush_lag_seconds") < 30
    assert abs(value(s, "engagement_flush_last_success_timestamp_seconds") - time.time()) < 30
    assert value(s, "engagement_flush_last_duration_seconds") > 0
    assert value(s, "engagement_redis_errors_total") == 0
    assert value(s, "engagement_redis_data_loss_total") == 0
    assert ("engagement_build_info", frozenset({("version", "0.1.0")})) in s

    again = await scrape(client)
    assert value(again, req, route="/metrics", method="GET", status="200") == 1


async def test_pending_work_and_lag_before_any_flush(client: Any) -> None:
    await put_article(client, "a1")
    assert await view(client, "a1", "evt-view-0001") == 202
    s = await scrape(client)
    assert value(s, "engagement_flush_runs_total", result="success") == 0
    assert value(s, "engagement_flush_pending_delta_fields") == 2  # the hourly view row and a visitor mark
    assert value(s, "engagement_flush_pending_batches") == 0
    assert value(s, "engagement_flush_lag_seconds") > 0  # counted from start-up until a first success
    assert ("engagement_flush_last_success_timestamp_seconds", frozenset()) not in s


async def test_labels_are_bounded(client: Any) -> None:
    for article_id in ("x1", "x2", "x3"):
        await client.get(f"/v1/articles/{article_id}/stats")
    await client.request("PROPFIND", "/v1/trending")
    s = await scrape(client)
    labels = {v for (_, pairs) in s for _, v in pairs}
    assert not {"x1", "x2", "x3"} & labels
    assert not any("/x1" in v for v in labels)
    req = "engagement_http_requests_total"
    assert value(s, req, route="/v1/articles/{article_id}/stats", method="GET", status="404") == 3
    assert value(s, req, route="unmatched", method="other", status="405") == 1


async def test_redis_errors_and_failed_events_are_counted(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "a1")
    redis_sync.delete(keys.totals("a1"))
    redis_sync.set(keys.totals("a1"), "not a hash")  # the ingest script now fails with WRONGTYPE
    assert await view(client, "a1", "evt-view-0009") == 503
    s = await scrape(client)
    assert value(s, "engagement_redis_errors_total") == 1
    assert value(s, "engagement_events_total", kind="view", result="failed") == 1
    assert value(s, "engagement_http_requests_total", route="/v1/articles/{article_id}/views", method="POST",
                 status="503") == 1


async def test_metrics_need_the_admin_token_unless_public(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    closed = await aiohttp_client(create_app(settings, flusher=False))
    resp = await closed.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"
    public = await aiohttp_client(create_app(settings.model_copy(update={"metrics_public": True}), flusher=False))
    resp = await public.get("/metrics")
    assert resp.status == 200
    assert "engagement_build_info" in await resp.text()
