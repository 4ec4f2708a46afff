"""GET /v1/ops/summary, the dashboard pages and the access log, on the real app."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from service import appkeys as K
from service.api.ops import ASSETS
from service.app import create_app
from service.appkeys import TRENDING_CLOCK
from service.config import Settings
from service.storage import keys
from tests.conftest import AUTH, BROWSER_UA, REDIS_MODES, put_article, redis_url_of


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)


async def summary(client: Any) -> dict[str, Any]:
    resp = await client.get("/v1/ops/summary", headers=AUTH)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = await resp.json()
    return body


async def activity(client: Any) -> None:
    """Two articles: 3 views, 2 shares and 1 click on a1; 1 view on a2; one bot view."""
    await put_article(client, "a1", title="First story", url="https://t4k3.news/first")
    await put_article(client, "a2", title="Second story", url="https://t4k3.news/second")
    for i in range(3):
        resp = await client.post("/v1/articles/a1/views", json={"event_id": f"evt-a1-{i:04d}"},
                                 headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202
    resp = await client.post("/v1/articles/a2/views", json={}, headers={"User-Agent": BROWSER_UA})
    assert resp.status == 202
    resp = await client.post("/v1/articles/a2/views", json={}, headers={"User-Agent": "curl/8.5.0"})
    assert resp.status == 202
    codes = []
    for network in ("facebook", "x"):
        resp = await client.post("/v1/articles/a1/shares", json={"network": network})
        assert resp.status == 201
        codes.append((await resp.json())["code"])
    resp = await client.get(f"/s/{codes[0]}", allow_redirects=False, headers={"User-Agent": BROWSER_UA})
    assert resp.status == 302


async def test_summary_needs_the_admin_token(client: Any) -> None:
    resp = await client.get("/v1/ops/summary")
    assert resp.status == 401
    resp = await client.get("/v1/ops/summary", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401


async def test_summary_reports_the_activity(client: Any) -> None:
    await activity(client)
    await client.app[K.FLUSHER].flush_once()
    s = await summary(client)
    hour = s["headline"]["last_hour"]
    assert (hour["views"], hour["shares"], hour["clicks"]) == (4, 2, 1)
    assert s["headline"]["last_day"]["views"] == 4
    assert hour["views_per_minute"] > 0
    hourly = s["hourly"]
    assert len(hourly["hours"]) == 48 and hourly["hours"][-1] == int(datetime.now(UTC).timestamp()) // 3600 * 3600
    assert (hourly["views"][-1], hourly["shares"][-1], hourly["clicks"][-1]) == (4, 2, 1)
    assert sum(hourly["views"]) == 4
    assert s["networks"]["shares"]["facebook"] == 1 and s["networks"]["shares"]["x"] == 1
    assert s["networks"]["clicks"]["facebook"] == 1 and sum(s["networks"]["clicks"].values()) == 1
    top = s["top"]["1h"]
    assert [(a["article_id"], a["count"]) for a in top["views"]] == [("a1", 3), ("a2", 1)]
    assert top["views"][0]["title"] == "First story" and top["views"][0]["url"] == "https://t4k3.news/first"
    assert [(a["article_id"], a["count"]) for a in top["shares"]] == [("a1", 2)]
    assert set(s["top"]) == {"1h", "6h", "24h", "7d"}
    flush = s["flush"]
    assert flush["runs"] == 1 and flush["failures"] == 0 and flush["last_error"] is None
    assert flush["pending_batches"] == 0 and flush["pending_deltas"] == 0
    assert flush["last_report"]["events"] == 8  # 4 views, 1 bot view, 2 shares, 1 click
    assert flush["lagging"] is False
    assert s["events"]["accepted"] == {"views": 4, "shares": 2, "clicks": 1}
    assert s["events"]["bots"] == 1
    assert s["events"]["dropped"] == {"duplicate": 0, "rejected": 0, "failed": 0}
    assert s["redis"]["maxmemory_policy"] == "noeviction" and s["redis"]["evicted_keys"] == 0
    assert s["health"] == {"status": "ok", "reasons": []}


async def test_flush_lag_warns_and_clears(settings: Settings, aiohttp_client: Callable[..., Any]) -> None:
    offset = [timedelta(0)]
    app = create_app(settings.model_copy(update={"flush_interval_s": 10.0}), flusher=False)
    app[TRENDING_CLOCK] = lambda: datetime.now(UTC) + offset[0]
    client = await aiohttp_client(app)
    await app[K.FLUSHER].flush_once()
    assert (await summary(client))["health"]["status"] == "ok"
    offset[0] = timedelta(seconds=31)  # three intervals and a second without a flush
    s = await summary(client)
    assert s["flush"]["lagging"] is True and s["flush"]["warn_after_s"] == 30.0
    assert s["health"]["status"] == "warning"
    assert any("flush lag" in r for r in s["health"]["reasons"])
    offset[0] = timedelta(0)
    await app[K.FLUSHER].flush_once()  # the flusher catches up
    s = await summary(client)
    assert s["flush"]["lagging"] is False and s["health"]["status"] == "ok"


async def test_dropped_events_warn(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "a1")
    redis_sync.delete(keys.totals("a1"))
    redis_sync.set(keys.totals("a1"), "not a hash")  # every ingest of a1 now fails
    resp = await client.post("/v1/articles/a1/views", json={}, headers={"User-Agent": BROWSER_UA})
    assert resp.status == 503
    s = await summary(client)
    assert s["events"]["dropped"]["failed"] == 1 and s["events"]["dropping"] is True
    assert s["health"]["status"] == "warning"
    assert any("dropped" in r for r in s["health"]["reasons"])


async def test_dashboard_pages_have_a_strict_csp(client: Any) -> None:
    for path in ("/ops", "/ops/articles/a1"):
        resp = await client.get(path)
        assert resp.status == 200
        assert resp.content_type == "text/html"
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe" not in csp
        html = await resp.text()
        assert "<script>" not in html and "style=" not in html  # nothing inline
        assert re.findall(r'(?:src|href)="(?!/ops/static/|/ops"|data:)[^"]*"', html) == []
    assert (await client.get("/ops/articles/not%20an%20id")).status == 422


async def test_assets_are_served_and_never_name_another_host(client: Any) -> None:
    for path in ("/ops/static/dashboard.js", "/ops/static/common.js", "/ops/static/ops.css",
                 "/ops/static/vendor/uPlot.iife.min.js", "/ops/static/vendor/uPlot.min.css"):
        resp = await client.get(path)
        assert resp.status == 200, path
    assert "MIT License" in (ASSETS / "vendor" / "LICENSE").read_text()
    for outside in ("/ops/static/%2e%2e/%2e%2e/app.py", "/ops/static/..%2F..%2Fapp.py", "/ops/static/vendor",
                    "/ops/static/nothing.js"):
        resp = await client.get(outside)
        assert resp.status == 404, outside
        assert (await resp.json())["error"]["code"] == "not_found"
    for asset in ASSETS.rglob("*"):
        if asset.suffix in (".js", ".css", ".html") and asset.name != "uPlot.iife.min.js":
            assert not re.search(r"https?://", asset.read_text()), asset


async def test_access_log_has_one_line_per_request_without_ip_or_agent(
    client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    await put_article(client, "a1")
    with caplog.at_level(logging.DEBUG, logger="service.access"):
        resp = await client.post("/v1/articles/a1/views", json={}, headers={
            "User-Agent": BROWSER_UA, "X-Request-ID": "req-12345678", "X-Forwarded-For": "10.1.2.3"})
        assert resp.status == 202
        assert resp.headers["X-Request-ID"] == "req-12345678"
        resp = await client.get("/v1/trending", headers={"X-Request-ID": "bad id!"})
        generated = resp.headers["X-Request-ID"]
    records = [r for r in caplog.records if r.name == "service.access"]
    assert len(records) == 2
    first, second = records
    assert first.__dict__["request_id"] == "req-12345678"
    assert first.__dict__["route"] == "/v1/articles/{article_id}/views"
    assert first.__dict__["status"] == 202 and first.__dict__["method"] == "POST"
    assert first.__dict__["duration_ms"] >= 0
    assert second.__dict__["request_id"] == generated and re.fullmatch(r"[0-9a-f]{22}", generated)
    assert (first.levelno, second.levelno) == (logging.DEBUG, logging.INFO)  # accepted beacons log quietly
    for record in records:
        dumped = repr(record.__dict__)
        assert "127.0.0.1" not in dumped and "10.1.2.3" not in dumped and "Mozilla" not in dumped
