"""CORS: public endpoints answer the configured site origins; admin endpoints never do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from service.app import create_app
from service.config import Settings
from tests.conftest import AUTH, BROWSER_UA, article_body, put_article

SITE = "https://t4k3.news"
OTHER = "https://evil.example"


@pytest.fixture
async def site_client(settings: Settings, aiohttp_client: Callable[..., Any]) -> Any:
    """The app configured for one site origin (plus a second one, written with a trailing slash)."""
    only = settings.model_copy(update={"cors_origins": [SITE, "https://Partner.example/"]})
    return await aiohttp_client(create_app(only, flusher=False))


def _preflight(method: str, headers: str = "", origin: str = SITE) -> dict[str, str]:
    out = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        out["Access-Control-Request-Headers"] = headers
    return out


def test_origins_setting_is_comma_separated() -> None:
    assert Settings(cors_origins=" https://a.example, https://b.example ").cors_origins == [
        "https://a.example", "https://b.example",
    ]


async def test_default_allows_any_origin(client: Any) -> None:
    await put_article(client, "c1")
    resp = await client.get("/v1/articles/c1/stats", headers={"Origin": OTHER})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in resp.headers


async def test_configured_origins_are_echoed_others_are_not(site_client: Any) -> None:
    await put_article(site_client, "c1")
    ok = await site_client.get("/v1/articles/c1/stats", headers={"Origin": SITE})
    assert ok.headers["Access-Control-Allow-Origin"] == SITE
    partner = await site_client.get("/v1/articles/c1/stats", headers={"Origin": "https://partner.example"})
    assert partner.headers["Access-Control-Allow-Origin"] == "https://partner.example"
    denied = await site_client.get("/v1/articles/c1/stats", headers={"Origin": OTHER})
    assert denied.status == 200  # the browser, not the server, withholds the answer
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert denied.headers["Vary"] == "Origin"
    plain = await site_client.get("/v1/articles/c1/stats")
    assert "Access-Control-Allow-Origin" not in plain.headers and plain.headers["Vary"] == "Origin"


async def test_preflight_for_json_posts(site_client: Any) -> None:
    resp = await site_client.options("/v1/articles/c1/shares", headers=_preflight("POST", "Content-Type"))
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    assert resp.headers["Access-Control-Allow-Methods"] == "POST"
    assert "content-type" in resp.headers["Access-Control-Allow-Headers"]
    assert int(resp.headers["Access-Control-Max-Age"]) > 0
    assert resp.headers["Vary"] == "Origin"


@pytest.mark.parametrize(("path", "headers"), [
    ("/v1/articles/c1/shares", _preflight("POST", origin=OTHER)),
    ("/v1/articles/c1/shares", _preflight("DELETE")),
    ("/v1/articles/c1/stats", _preflight("POST")),
    ("/shariff", _preflight("GET", "Content-Type, Authorization")),
])
async def test_refused_preflights(site_client: Any, path: str, headers: dict[str, str]) -> None:
    resp = await site_client.options(path, headers=headers)
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"
    assert "Access-Control-Allow-Methods" not in resp.headers


async def test_text_plain_beacon_is_a_simple_request(site_client: Any) -> None:
    await put_article(site_client, "c1")
    headers = {"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8", "User-Agent": BROWSER_UA}
    resp = await site_client.post("/v1/articles/c1/views", data='{"event_id":"0123456789abcdef"}', headers=headers)
    assert resp.status == 202
    assert resp.headers["Access-Control-Allow-Origin"] == SITE
    stats = await (await site_client.get("/v1/articles/c1/stats")).json()
    assert stats["views"] == 1


async def test_errors_of_public_endpoints_carry_cors(client: Any) -> None:
    resp = await client.post("/v1/articles/missing/shares", json={"network": "x"}, headers={"Origin": SITE})
    assert resp.status == 404
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    bad = await client.post("/v1/articles/c1/shares", data="{", headers={"Origin": SITE})
    assert bad.status == 400
    assert bad.headers["Access-Control-Allow-Origin"] == "*"


async def test_widget_script_vary_keeps_accept_encoding(client: Any) -> None:
    resp = await client.get("/widget.js", headers={"Origin": SITE})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Vary"] == "Accept-Encoding, Origin"


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/articles/c1"),
    ("PUT", "/v1/articles/c1"),
    ("DELETE", "/v1/articles/c1"),
    ("POST", "/v1/articles/bulk"),
    ("GET", "/healthz"),
])
async def test_admin_and_other_endpoints_get_no_cors(client: Any, method: str, path: str) -> None:
    await client.put("/v1/articles/c1", json=article_body(), headers=AUTH)
    body = {"articles": []} if path.endswith("bulk") else article_body()
    resp = await client.request(method, path, json=body, headers={**AUTH, "Origin": OTHER})
    assert resp.status < 300
    assert "Access-Control-Allow-Origin" not in resp.headers
    preflight = await client.options(path, headers=_preflight(method, "Authorization", OTHER))
    assert preflight.status == 405
    assert "Access-Control-Allow-Origin" not in preflight.headers
