"""Bad client input: always a 4xx JSON error saying what was wrong, and nothing counted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AUTH, BROWSER_UA, article_body, put_article

PERSON = {"User-Agent": BROWSER_UA}
NOTHING = {"views": 0, "unique_visitors": 0, "shares": 0, "clicks": 0, "bot_clicks": 0, "bot_views": 0}
BIG = 16 * 1024


async def _counts(client: Any, article_id: str = "a1") -> dict[str, int]:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200
    s = await resp.json()
    return {
        "views": s["views"], "unique_visitors": s["unique_visitors"], "shares": s["shares"]["total"],
        "clicks": s["clicks"]["total"], "bot_clicks": s["bot_clicks"], "bot_views": s["bot_views"],
    }


async def _expect_error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    error: dict[str, Any] = (await resp.json())["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert "details" in error
    return error


@pytest.fixture
async def a1(client: Any) -> Any:
    await put_article(client, "a1")
    return client


MALFORMED = [
    b"{",
    b'{"network": "x",}',
    b"{'network': 'x'}",
    b"not json at all",
    b'{"network": "x"} trailing',
    b"\x00\x01",
]
NOT_UTF8 = [b'{"network": "\xff\xfe"}', b"\xc3\x28", b'{"event_id": "evt-\xe9t\xe9-0001"}']
WRONG_TYPES = [
    b"[]",
    b"null",
    b"42",
    b'"network"',
    b'{"network": 1}',
    b'{"network": ["x"]}',
    b'{"network": {"x": 1}}',
    b'{"network": "x", "event_id": 12345678}',
    b'{"network": "x", "event_id": "short"}',
    b'{"network": "x", "event_id": "has spaces in it"}',
    b'{"network": "x", "surprise": true}',
    b"NaN",
    b'{"network": NaN}',
    b'{"network": Infinity}',
]


@pytest.mark.parametrize("body", MALFORMED)
async def test_malformed_json(a1: Any, body: bytes) -> None:
    error = await _expect_error(await a1.post("/v1/articles/a1/shares", data=body), 400)
    assert error["code"] == "bad_request"
    await _expect_error(await a1.post("/v1/articles/a1/views", data=body, headers=PERSON), 400)
    await _expect_error(await a1.put("/v1/articles/a2", data=body, headers=AUTH), 400)
    assert await _counts(a1) == NOTHING


@pytest.mark.parametrize("body", NOT_UTF8)
async def test_non_utf8(a1: Any, body: bytes) -> None:
    error = await _expect_error(await a1.post("/v1/articles/a1/shares", data=body), 400)
    assert "UTF-8" in error["message"]
    await _expect_error(await a1.post("/v1/articles/a1/views", data=body, headers=PERSON), 400)
    await _expect_error(await a1.put("/v1/articles/a2", data=body, headers=AUTH), 400)
    assert await _counts(a1) == NOTHING


@pytest.mark.parametrize("body", WRONG_TYPES)
async def test_wrong_types(a1: Any, body: bytes) -> None:
    await _expect_error(await a1.post("/v1/articles/a1/shares", data=body), 422)
    assert await _counts(a1) == NOTHING


@pytest.mark.parametrize(
    "body",
    [
        b"[]", b"null", b"7", b'{"event_id": 5}', b'{"event_id": "tiny"}', b'{"referrer": 3}',
        b'{"referrer": "' + b"r" * 3000 + b'"}',
    ],
)
async def test_view_wrong_types(a1: Any, body: bytes) -> None:
    await _expect_error(await a1.post("/v1/articles/a1/views", data=body, headers=PERSON), 422)
    assert await _counts(a1) == NOTHING


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 15_000,
        b'{"a":' * 2_500 + b"1" + b"}" * 2_500,
        b'{"event_id": ' + b"9" * 5_000 + b"}",
    ],
    ids=["deep-array", "deep-object", "huge-int"],
)
async def test_pathological_json_is_4xx(a1: Any, body: bytes) -> None:
    assert len(body) <= BIG
    for resp in [
        await a1.post("/v1/articles/a1/views", data=body, headers=PERSON),
        await a1.post("/v1/articles/a1/shares", data=body),
    ]:
        await _expect_error(resp, resp.status if 400 <= resp.status < 500 else 400)
    assert await _counts(a1) == NOTHING


@pytest.mark.parametrize("path", ["/v1/articles/a1/shares", "/v1/articles/a1/views"])
async def test_oversized_public_bodies_413(a1: Any, path: str) -> None:
    padding = "p" * (BIG + 1 - len('{"network":"x","event_id":"evt-big-0001","pad":""}'))
    body = f'{{"network":"x","event_id":"evt-big-0001","pad":"{padding}"}}'.encode()
    assert len(body) == BIG + 1
    error = await _expect_error(await a1.post(path, data=body, headers=PERSON), 413)
    assert error["code"] == "payload_too_large"

    async def chunks() -> Any:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    await _expect_error(await a1.post(path, data=chunks(), headers=PERSON), 413)
    await _expect_error(await a1.post(path, data=b"x" * (1024 * 1024), headers=PERSON), 413)
    assert await _counts(a1) == NOTHING


async def test_body_at_the_limit_is_read(a1: Any) -> None:
    prefix = '{"event_id":"evt-limit-001","referrer":"https://t4k3.news/","pad":"'
    body = (prefix + "p" * (BIG - len(prefix) - 2) + '"}').encode()
    assert len(body) == BIG
    resp = await a1.post("/v1/articles/a1/views", data=body, headers=PERSON)
    assert resp.status == 202, await resp.text()
    assert (await _counts(a1))["views"] == 1


async def test_oversized_admin_body_413(a1: Any) -> None:
    body = b'{"articles": [' + b" " * (8 * 1024 * 1024) + b"]}"
    await _expect_error(await a1.post("/v1/articles/bulk", data=body, headers=AUTH), 413)


@pytest.mark.parametrize("article_id", ["x" * 65, "bad.id", "%C3%A9t%C3%A9", "a%20b", "a%00b"])
async def test_bad_ids_on_public_endpoints(a1: Any, article_id: str) -> None:
    for resp in [
        await a1.post(f"/v1/articles/{article_id}/shares", json={"network": "x"}),
        await a1.post(f"/v1/articles/{article_id}/views", json={"event_id": "evt-badid-01"}, headers=PERSON),
        await a1.get(f"/v1/articles/{article_id}/stats"),
        await a1.get(f"/v1/stats?ids=a1,{article_id}"),
    ]:
        await _expect_error(resp, 422)
    assert await _counts(a1) == NOTHING


async def test_unknown_article_404_and_nothing_stored(a1: Any, redis_sync: Any) -> None:
    before = {k for k in redis_sync.scan_iter(count=1000) if b":ev:" in k or b":uv:" in k or b":tot:" in k}
    for resp in [
        await a1.post("/v1/articles/ghost/shares", json={"network": "x"}),
        await a1.post("/v1/articles/ghost/views", json={"event_id": "evt-ghost-01"}, headers=PERSON),
        await a1.post("/v1/articles/ghost/views", data=b"", headers={"User-Agent": "curl/8"}),
        await a1.get("/v1/articles/ghost/stats"),
    ]:
        await _expect_error(resp, 404)
    after = {k for k in redis_sync.scan_iter(count=1000) if b":ev:" in k or b":uv:" in k or b":tot:" in k}
    assert after == before
    assert not [k for k in after if b"ghost" in k]
    assert await _counts(a1) == NOTHING


async def test_stats_many(a1: Any) -> None:
    await put_article(a1, "a2")
    await a1.post("/v1/articles/a2/shares", json={"network": "x"})
    body = await (await a1.get("/v1/stats?ids=a1,a2,ghost,a1")).json()
    assert sorted(body["articles"]) == ["a1", "a2"]
    assert body["articles"]["a2"]["shares"]["total"] == 1
    ids = ",".join(f"id{i}" for i in range(100))
    assert (await a1.get(f"/v1/stats?ids={ids}")).status == 200


@pytest.mark.parametrize("query", ["", "?ids=", "?ids=,,,", "?ids=" + ",".join(f"id{i}" for i in range(101))])
async def test_stats_many_bad_queries_422(a1: Any, query: str) -> None:
    await _expect_error(await a1.get(f"/v1/stats{query}"), 422)


async def test_wrong_methods_are_json_405(a1: Any) -> None:
    wrong = await a1.get("/v1/articles/a1/views")
    await _expect_error(wrong, 405)
    assert wrong.headers["Allow"] == "POST"  # RFC 9110: a 405 names the allowed methods
    await _expect_error(await a1.put("/v1/articles/a1/shares", json={"network": "x"}), 405)
    redirect = await a1.post("/s/abcdefghi")
    await _expect_error(redirect, 405)
    assert set(redirect.headers["Allow"].split(",")) == {"GET", "HEAD"}
    await _expect_error(await a1.get("/v1/nothing-here"), 404)
    assert await _counts(a1) == NOTHING


@pytest.mark.parametrize(
    "body",
    [
        {"tags": ["\ud800"]},
        {"title": "\udcff"},
        {"url": "https://t4k3.news/\ud800"},
        {"published_at": "2026-13-45T99:00:00Z"},
        {"published_at": 1e400},
        {"tags": {"a": 1}},
        {"section": ["x"]},
    ],
)
async def test_bad_article_fields_422(a1: Any, body: dict[str, Any]) -> None:
    import json

    raw = json.dumps(article_body(**body)).encode()
    await _expect_error(await a1.put("/v1/articles/a3", data=raw, headers=AUTH), 422)
    await _expect_error(await a1.get("/v1/articles/a3", headers=AUTH), 404)


async def test_empty_body_on_share_and_put(a1: Any) -> None:
    await _expect_error(await a1.post("/v1/articles/a1/shares", data=b""), 400)
    await _expect_error(await a1.put("/v1/articles/a4", data=b"", headers=AUTH), 400)
    await _expect_error(await a1.post("/v1/articles/bulk", data=b"", headers=AUTH), 400)
    assert await _counts(a1) == NOTHING
