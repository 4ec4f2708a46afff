"""Hostile input of issue 12 (items 2, 5, 10, 14, 17): a 4xx JSON answer, never a 500, nothing poisoned."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import sqlite3
import time
import zlib
from typing import Any

import pytest
import redis

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from tests.conftest import AUTH, BROWSER_UA, article_body, put_article

PERSON = {"User-Agent": BROWSER_UA}
CLOSE = {"Connection": "close"}  # a request whose body cannot be decoded ends its connection
YEAR_1 = "0001-01-01T00:00:00+14:00"
YEAR_9999 = "9999-12-31T23:59:59-14:00"
YEAR_1_EPOCH = -62135647200  # what an older version stored for YEAR_1
YEAR_9999_EPOCH = 253402351199


async def _error(resp: Any, status: int) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    error: dict[str, Any] = (await resp.json())["error"]
    assert error["code"] and error["message"] and "details" in error
    return error


async def _views(client: Any, article_id: str = "a1") -> int:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200
    views: int = (await resp.json())["views"]
    return views


# ---- item 2: every time from outside is bounded; nothing stored can break a read ----------------------


@pytest.mark.parametrize("moment", [YEAR_1, YEAR_9999, "1969-12-31T23:59:59Z", "2100-01-01T00:00:01Z", -1, 4102444801])
async def test_article_date_out_of_range_is_422(client: Any, moment: Any) -> None:
    resp = await client.put("/v1/articles/poison", json=article_body(published_at=moment), headers=AUTH)
    error = await _error(resp, 422)
    assert error["details"][0]["loc"] == ["published_at"]
    await _error(await client.get("/v1/articles/poison", headers=AUTH), 404)
    item = {"id": "p2", **article_body(published_at=moment)}
    bulk = await client.post("/v1/articles/bulk", json={"articles": [item]}, headers=AUTH)
    assert bulk.status == 422  # no item was written
    assert (await bulk.json())["results"][0]["status"] == 422


async def test_article_date_is_normalised_to_utc(client: Any) -> None:
    body = await put_article(client, "tz", published_at="2026-11-20T12:30:00+05:30")
    assert body["published_at"] == "2026-11-20T07:00:00Z"
    edge = await put_article(client, "edge", published_at="1970-01-01T01:00:00+01:00")
    assert edge["published_at"] == "1970-01-01T00:00:00Z"


@pytest.mark.parametrize(
    "query",
    [f"to={YEAR_1}", f"from={YEAR_9999}", "to=0001-01-01T00:00:00Z", "from=2100-01-02T00:00:00Z&granularity=day"],
)
async def test_absurd_report_ranges_are_422(client: Any, query: str) -> None:
    await put_article(client, "a1")
    for path in ["/v1/articles/a1/timeseries", "/v1/export/articles.csv"]:
        await _error(await client.get(f"{path}?{query.replace('+', '%2B')}", headers=AUTH), 422)


async def test_day_points_have_four_digit_years(client: Any) -> None:
    await put_article(client, "a1")
    resp = await client.get("/v1/articles/a1/timeseries?granularity=day&to=1970-01-05T00:00:00Z")
    assert resp.status == 200, await resp.text()
    points = [p["t"] for p in (await resp.json())["points"]]
    assert points[-1] == "1970-01-05T00:00:00Z"
    assert all(len(t) == 20 and t.endswith("T00:00:00Z") for t in points), points


async def _rebuilt(client: Any) -> None:
    service = client.app[K.RELATED]
    deadline = time.monotonic() + 30
    while not (await service.index.ready() and await service.index.pending_count() == 0):
        assert time.monotonic() < deadline, "the related index was not rebuilt"
        await asyncio.sleep(0.05)  # polling the background rebuild


async def test_a_stored_bad_date_breaks_no_read(settings: Settings, aiohttp_client: Any,
                                                redis_sync: redis.Redis) -> None:
    first = await aiohttp_client(create_app(settings, flusher=False))
    await put_article(first, "poison", tags=["Floods", "Aid"])
    await put_article(first, "other", tags=["Floods"], url="https://t4k3.news/other")
    await first.close()
    with sqlite3.connect(settings.sqlite_path) as db:  # as an older version stored year 1 at +14:00
        db.execute("UPDATE articles SET published_at = ?, updated_at = ? WHERE id = 'poison'",
                   (YEAR_1_EPOCH, YEAR_9999_EPOCH))
    redis_sync.flushall()  # Redis lost its data: the next start rebuilds from SQLite
    client = await aiohttp_client(create_app(settings, flusher=False, demo=True))  # /demo/<id> too
    await _rebuilt(client)
    assert redis_sync.hget(keys.article("poison"), "published_at") == b"0"

    article = await client.get("/v1/articles/poison", headers=AUTH)
    assert article.status == 200, await article.text()
    assert (await article.json())["published_at"] == "1970-01-01T00:00:00Z"
    assert (await article.json())["updated_at"] == "2100-01-01T00:00:00Z"
    for resp in [
        await client.get("/v1/articles/other/related"),
        await client.get("/v1/articles/poison/related"),
        await client.post("/v1/related", json={"tags": ["Floods"]}),
        await client.get("/demo/poison"),
        await client.get("/v1/articles/poison/timeseries?granularity=day"),
    ]:
        assert resp.status == 200, (resp.url, await resp.text())
    page = await (await client.get("/demo/poison")).text()
    assert "1970-01-01T00:00:00Z" in page
    export = await client.get("/v1/export/articles.csv?from=2026-01-01T00:00:00Z", headers=AUTH)
    assert export.status == 200
    rows = {r["article_id"]: r for r in csv.DictReader(io.StringIO(await export.text()))}
    assert {"poison", "other"} <= rows.keys()  # beside the demo catalog
    assert rows["poison"]["published_at"] == "1970-01-01T00:00:00Z"


# ---- item 5: 500s from client input -----------------------------------------------------------------


@pytest.fixture
async def a1(client: Any) -> Any:
    await put_article(client, "a1")
    return client


async def _raw_post(client: Any, path: str, headers: bytes, body: bytes) -> bytes:
    """One request written byte for byte on a socket (a client library would encode the headers)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n" + headers
                     + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def test_user_agent_that_is_not_utf8_is_counted(a1: Any) -> None:
    agents = [b"Mozilla/5.0 \xff\xfe (X11)", b"Mozilla/5.0 \xc3\x28 Chrome/126", b"Mozilla \xed\xa0\x80"]
    for n, ua in enumerate(agents):
        body = b'{"event_id":"evt-ua-%04d"}' % n
        answer = await _raw_post(a1, "/v1/articles/a1/views", b"User-Agent: " + ua + b"\r\n", body)
        assert answer.startswith(b"HTTP/1.1 202"), answer[:200]
    assert await _views(a1) == 3


GARBAGE = [("gzip", b"this is not gzip at all"), ("deflate", b"neither is this deflate"),
           ("gzip", gzip.compress(b'{"event_id":"evt-gz-0001"}')[:-12])]


@pytest.mark.parametrize(("encoding", "body"), GARBAGE)
async def test_bad_compressed_admin_body_is_400(a1: Any, encoding: str, body: bytes) -> None:
    headers = {**AUTH, **CLOSE, "Content-Encoding": encoding}
    for resp in [
        await a1.put("/v1/articles/a2", data=body, headers=headers),
        await a1.post("/v1/articles/bulk", data=body, headers=headers),
    ]:
        await _error(resp, 400)
    await _error(await a1.get("/v1/articles/a2", headers=AUTH), 404)


@pytest.mark.parametrize(("encoding", "body"), [*GARBAGE, ("gzip", gzip.compress(b'{"event_id":"evt-gz-0002"}')),
                                                ("compress", b"{}"), ("identity, gzip", b"{}")])
async def test_public_endpoints_refuse_compressed_bodies_415(a1: Any, encoding: str, body: bytes) -> None:
    headers = {**PERSON, **CLOSE, "Content-Encoding": encoding}
    for path in ["/v1/articles/a1/views", "/v1/articles/a1/shares", "/v1/related"]:
        error = await _error(await a1.post(path, data=body, headers=headers), 415)
        assert "Content-Encoding" in error["message"]
    assert await _views(a1) == 0


async def test_gzip_bomb_is_413_by_its_decompressed_size(a1: Any) -> None:
    bomb = gzip.compress(b" " * 15_000_000)
    assert len(bomb) < 100_000
    for path, method in [("/v1/articles/a2", "PUT"), ("/v1/articles/bulk", "POST")]:
        resp = await a1.request(method, path, data=bomb, headers={**AUTH, **CLOSE, "Content-Encoding": "gzip"})
        await _error(resp, 413)
    await _error(await a1.post("/v1/articles/a1/views", data=bomb,
                               headers={**PERSON, **CLOSE, "Content-Encoding": "gzip"}), 415)
    assert await _views(a1) == 0


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "GZIP", "identity"])
async def test_admin_takes_compressed_bodies(a1: Any, encoding: str) -> None:
    import json

    raw = json.dumps(article_body(title="Compressed")).encode()
    body = {"gzip": gzip.compress, "deflate": zlib.compress}.get(encoding.lower(), lambda b: b)(raw)
    resp = await a1.put("/v1/articles/gz", data=body, headers={**AUTH, "Content-Encoding": encoding})
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["title"] == "Compressed"


async def test_unknown_admin_encoding_is_415(a1: Any) -> None:
    await _error(await a1.put("/v1/articles/gz", data=b"{}", headers={**AUTH, **CLOSE, "Content-Encoding": "zz"}), 415)


@pytest.mark.parametrize("path", ["/v1/articles/a%00b/stats", "/v1/articles/a%01/related", "/s/abc%00defg",
                                  "/demo/a%0Ab", "/v1/articles/a%7F/timeseries"])
async def test_control_characters_in_path_parameters_are_4xx(a1: Any, path: str) -> None:
    resp = await a1.get(path)
    assert 400 <= resp.status < 500, (path, resp.status)
    await _error(resp, resp.status)


# ---- item 10: URLs validated fully; a stored bad URL still gets an answer ----------------------------


@pytest.mark.parametrize(
    "url",
    ["https://t4k3.news:\u0000/", "https://t4k3.news:abc/", "https://t4k3.news:99999/", "https://t4k3.news/a\x0bb",
     "https://t4k3.news:0/", "https://t4k3.news/a\u200bb", "https://t4k3.news/\x7f", "https://t4k3.news:/x",
     "https://t4k3.news/a\u2028b", "https://[::1/"],
)
async def test_bad_urls_are_422(client: Any, url: str) -> None:
    for field in ["url", "image_url"]:
        resp = await client.put("/v1/articles/u1", json=article_body(**{field: url}), headers=AUTH)
        error = await _error(resp, 422)
        assert error["details"][0]["loc"] == [field]


async def test_good_urls_are_kept_byte_for_byte(client: Any) -> None:
    for url in ["https://t4k3.news:8443/a?amp&id=%ZZ;x=1", "https://t4k3.news/%E9t%E9?q=%ff#f?g", "https://t4k3.news"]:
        body = await put_article(client, "u2", url=url)
        assert body["url"] == url


async def test_stored_url_with_control_characters_is_answered(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "u3")
    share = await (await client.post("/v1/articles/u3/shares", json={"network": "x"})).json()
    redis_sync.hset(keys.article("u3"), "url", "https://t4k3.news:\x00/a\x0bb\r\nX-Evil: 1")  # an older version's
    resp = await asyncio.wait_for(client.get(f"/s/{share['code']}", allow_redirects=False, headers=PERSON), 10)
    assert resp.status == 302
    location = resp.headers["Location"]
    assert location.isascii() and location.isprintable() and " " not in location
    assert "X-Evil" not in resp.headers
    assert location.startswith("https://t4k3.news:%00/a%0Bb%0D%0AX-Evil:%201?utm_source=x&")


# ---- item 14: one form for text ----------------------------------------------------------------------


async def test_tags_match_in_their_normalised_form(client: Any) -> None:
    body = await put_article(client, "t1", tags=["Rus\u200bsia", "e\u0301te\u0301", "\ufb01nance", "Russia", "été"],
                             title="\u200bTitle\u00a0 with\tspaces\u200d", section="\ufeffWorld", summary="")
    assert body["tags"] == ["Russia", "été", "finance"]
    assert body["title"] == "Title with spaces"
    assert body["section"] == "World"
    assert body["summary"] is None
    await put_article(client, "t2", tags=["russia"], url="https://t4k3.news/t2")
    resp = await client.post("/v1/related", json={"tags": ["RUS\u200bSIA"]})
    assert resp.status == 200
    assert "t1" in [item["article_id"] for item in (await resp.json())["related"]]


@pytest.mark.parametrize(
    "over",
    [{"title": "\u200b\u200c\u200d"}, {"title": "\x00\x01"}, {"tags": ["\u2060"]}, {"tags": ["ok", "\ufeff "]},
     {"section": "\u200b"}, {"summary": "\u200e\u200f"}, {"title": "\u00ad"}],
)
async def test_invisible_text_is_422(client: Any, over: dict[str, Any]) -> None:
    await _error(await client.put("/v1/articles/t3", json=article_body(**over), headers=AUTH), 422)
    await _error(await client.get("/v1/articles/t3", headers=AUTH), 404)


# ---- item 17: share links keep the stored URL ------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "location"),
    [
        ("https://t4k3.news/a?amp", "https://t4k3.news/a?amp&utm_source=x&utm_medium=social&utm_campaign=share"),
        ("https://t4k3.news/a?id=%ZZ;b=%E9&utm_content=c&utm_source=old#f",
         "https://t4k3.news/a?id=%ZZ;b=%E9&utm_content=c&utm_source=x&utm_medium=social&utm_campaign=share#f"),
    ],
)
async def test_redirect_keeps_the_stored_query(client: Any, url: str, location: str) -> None:
    await put_article(client, "q1", url=url)
    share = await (await client.post("/v1/articles/q1/shares", json={"network": "x"})).json()
    resp = await client.get(f"/s/{share['code']}", allow_redirects=False, headers=PERSON)
    assert resp.status == 302
    assert resp.headers["Location"] == location
