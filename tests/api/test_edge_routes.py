"""The edge, in process: X-Forwarded-For on several lines, ops and demo pages."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from multidict import CIMultiDict

from service.api.ops import CSP
from service.app import create_app
from service.config import Settings
from tests.conftest import AUTH, BROWSER_UA, put_article


async def _stats(client: Any, article_id: str) -> Any:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200
    return await resp.json()


async def test_every_forwarded_for_line_counts_right_most_untrusted_hop_wins(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    """A trusted proxy appends its own X-Forwarded-For line after the client's: 50 spoofed first lines
    from one real client are one visitor."""
    trusted = settings.model_copy(update={"trusted_proxies": [ipaddress.ip_network("127.0.0.0/8")]})
    client = await aiohttp_client(create_app(trusted, flusher=False))
    await put_article(client, "x1")
    for i in range(50):
        headers = CIMultiDict([("User-Agent", BROWSER_UA), ("X-Forwarded-For", f"198.51.100.{i}"),
                               ("X-Forwarded-For", "203.0.113.5")])
        resp = await client.post("/v1/articles/x1/views", data=f'{{"event_id":"evt-xff-lines-{i:03d}"}}',
                                 headers=headers)
        assert resp.status == 202
    stats = await _stats(client, "x1")
    assert (stats["views"], stats["unique_visitors"]) == (50, 1)


@pytest.mark.parametrize("path", ["/ops/static/index.html", "/ops/static/dashboard.js", "/ops/static/ops.css",
                                  "/ops/static/vendor/uPlot.min.css", "/ops", "/ops/articles/a1"])
async def test_every_ops_page_and_asset_has_the_dashboard_security_headers(client: Any, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.headers["Content-Security-Policy"] == CSP
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/ops/static/index.html%00.js", "/ops/static/" + "a" * 300,
                                  "/ops/static/%0A", "/ops/static/../../config.py"])
async def test_odd_ops_file_paths_are_json_404(client: Any, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 404
    assert resp.content_type == "application/json"
    assert (await resp.json())["error"]["code"] == "not_found"


async def test_demo_routes_exist_only_with_demo(client: Any) -> None:
    for path in ("/demo", "/demo/nk-workers-russia", "/demo/assets/demo.css"):
        resp = await client.get(path)
        assert resp.status == 404, path
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_demo_page_of_an_unpublished_article_is_gone(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> None:
    client = await aiohttp_client(create_app(settings, demo=True, flusher=False))
    assert (await client.get("/demo/nk-workers-russia")).status == 200
    await put_article(client, "x1")
    assert (await client.get("/demo/x1")).status == 200
    for article_id in ("x1", "nk-workers-russia"):
        assert (await client.delete(f"/v1/articles/{article_id}", headers=AUTH)).status == 200
        resp = await client.get(f"/demo/{article_id}")
        assert resp.status == 410
        assert (await resp.json())["error"]["code"] == "gone"
