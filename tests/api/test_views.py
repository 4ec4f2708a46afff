"""The view beacon: bodies, de-duplication, bots, unique visitors and the privacy rule."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestClient

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from service.storage.redis_counters import Event, IngestResult
from tests.conftest import BROWSER_UA, REDIS_MODES, put_article, redis_url_of


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)

PERSON = {"User-Agent": BROWSER_UA}
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


async def _stats(client: Any, article_id: str = "v1") -> dict[str, Any]:
    data: dict[str, Any] = await (await client.get(f"/v1/articles/{article_id}/stats")).json()
    return data


async def _view(client: Any, body: str | bytes | None = None, ctype: str | None = None, **headers: str) -> Any:
    sent = {**PERSON, **headers}
    if ctype:
        sent["Content-Type"] = ctype
    resp = await client.post("/v1/articles/v1/views", data=body, headers=sent)
    assert resp.status == 202, await resp.text()
    return await resp.json()


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        ('{"event_id":"evt-plain-001","referrer":"https://google.com/"}', "text/plain;charset=UTF-8"),
        ('{"event_id":"evt-json-0001"}', "application/json"),
        ('{"referrer":"https://t4k3.news/"}', "application/json; charset=utf-8"),
        ("", "text/plain"),
        (None, None),
        ("   \n", "text/plain"),
        ("{}", "application/json"),
        ('{"event_id":"evt-extra-001","unknown":[1,2]}', "text/plain"),
    ],
)
async def test_beacon_bodies_are_accepted(client: Any, body: str | None, ctype: str | None) -> None:
    await put_article(client, "v1")
    assert (await _view(client, body, ctype))["status"] == "accepted"
    stats = await _stats(client)
    assert (stats["views"], stats["unique_visitors"], stats["bot_views"]) == (1, 1, 0)


async def test_event_id_counts_once(client: Any) -> None:
    await put_article(client, "v1")
    answers = [(await _view(client, '{"event_id":"evt-dup-0001"}', "text/plain"))["status"] for _ in range(4)]
    assert answers == ["accepted", "duplicate", "duplicate", "duplicate"]
    await _view(client, '{"event_id":"evt-dup-0002"}', "application/json")
    assert (await _stats(client))["views"] == 2


async def test_event_id_is_per_article(client: Any) -> None:
    await put_article(client, "v1")
    await put_article(client, "v2")
    await _view(client, '{"event_id":"evt-shared-01"}')
    resp = await client.post("/v1/articles/v2/views", json={"event_id": "evt-shared-01"}, headers=PERSON)
    assert (await resp.json())["status"] == "accepted"
    assert ((await _stats(client, "v1"))["views"], (await _stats(client, "v2"))["views"]) == (1, 1)


async def test_views_without_event_id_all_count(client: Any) -> None:
    await put_article(client, "v1")
    for _ in range(5):
        await _view(client)
    stats = await _stats(client)
    assert (stats["views"], stats["unique_visitors"]) == (5, 1)


@pytest.mark.parametrize(
    "ua",
    [
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "curl/8.5.0",
        "Python/3.11 aiohttp/3.10",
        "",
    ],
)
async def test_bots_counted_apart(client: Any, ua: str) -> None:
    await put_article(client, "v1")
    assert (await _view(client, '{"event_id":"evt-bot-0001"}', **{"User-Agent": ua}))["status"] == "bot"
    stats = await _stats(client)
    assert (stats["views"], stats["bot_views"], stats["unique_visitors"]) == (0, 1, 0)


async def test_default_client_user_agent_is_a_bot(client: Any) -> None:
    await put_article(client, "v1")
    url = client.make_url("/v1/articles/v1/views")
    async with aiohttp.ClientSession() as bare, bare.post(url, data="") as resp:  # the test client sends a browser's UA
        assert resp.status == 202
    assert (await _stats(client))["bot_views"] == 1


async def test_unique_visitors_same_and_different(client: Any) -> None:
    await put_article(client, "v1")
    for i in range(3):
        await _view(client, f'{{"event_id":"evt-uv-{i:05d}"}}')
    await _view(client, '{"event_id":"evt-uv-ff-01"}', **{"User-Agent": FIREFOX})
    await _view(client, '{"event_id":"evt-uv-ff-02"}', **{"User-Agent": FIREFOX})
    stats = await _stats(client)
    assert (stats["views"], stats["unique_visitors"]) == (5, 2)


async def test_forwarded_for_ignored_from_untrusted_peer(client: Any) -> None:
    """The test client's peer is 127.0.0.1, outside TRUSTED_PROXIES (10.0.0.0/8): XFF is not believed."""
    await put_article(client, "v1")
    for i, xff in enumerate(["203.0.113.1", "203.0.113.2", "198.51.100.7, 10.0.0.1"]):
        await _view(client, f'{{"event_id":"evt-xff-{i:05d}"}}', **{"X-Forwarded-For": xff})
    assert (await _stats(client))["unique_visitors"] == 1


@pytest.fixture
def trusting_client(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> Callable[[], Any]:
    """A client whose app trusts the loopback peer as a proxy."""
    trusted = settings.model_copy(update={"trusted_proxies": [ipaddress.ip_network("127.0.0.0/8")]})

    async def make() -> TestClient[Any, Any]:
        return await aiohttp_client(create_app(trusted, flusher=False))

    return make


async def test_forwarded_for_believed_from_trusted_proxy(trusting_client: Callable[[], Any]) -> None:
    client = await trusting_client()
    await put_article(client, "v1")
    hops = ["203.0.113.1", "203.0.113.2", "203.0.113.1, 127.0.0.9", "spoofed, 203.0.113.3", "203.0.113.2"]
    for i, xff in enumerate(hops):
        await _view(client, f'{{"event_id":"evt-proxy-{i:04d}"}}', **{"X-Forwarded-For": xff})
    stats = await _stats(client)
    assert (stats["views"], stats["unique_visitors"]) == (5, 3)


PROBE_IP = "203.0.113.77"
PROBE_UA = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/9.8.7 Chrome/126.0 Safari/537.36"


def _redis_dump(client: redis.Redis) -> list[bytes]:
    """Every key and every value of every type, as bytes."""
    out: list[bytes] = []
    for key in client.scan_iter(count=1000):
        out.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                out += [field, value]
        elif kind == "set":
            out += list(client.smembers(key))
        elif kind == "zset":
            out += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "list":
            out += list(client.lrange(key, 0, -1))
        else:
            raise AssertionError(f"unexpected redis type {kind} for {key!r}")
        dump = client.dump(key)
        assert dump is not None
        out.append(dump)
    return out


async def _sqlite_dump(client: TestClient[Any, Any]) -> list[bytes]:
    db = client.app[K.DB]
    async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        tables = [row[0] async for row in cur]
    assert {"articles", "share_codes", "counter_hourly", "counter_totals", "unique_daily"} <= set(tables)
    out: list[bytes] = []
    for table in tables:
        async with db.execute(f'SELECT * FROM "{table}"') as cur:
            out += [repr(row).encode() async for row in cur]
    return out


def _files(directory: Path) -> list[tuple[str, bytes]]:
    """Raw bytes of every file under `directory` (SQLite, its WAL, anything else)."""
    return [(str(p), p.read_bytes()) for p in directory.rglob("*") if p.is_file()]


def _forms(secret: str) -> list[bytes]:
    return [secret.encode(), secret.lower().encode(), secret.encode("utf-16-le"), secret.replace(".", "").encode()]


async def test_no_raw_ip_or_user_agent_stored_anywhere(
    trusting_client: Callable[[], Any], redis_sync: redis.Redis, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await trusting_client()
    await put_article(client, "v1")
    headers = {"User-Agent": PROBE_UA, "X-Forwarded-For": PROBE_IP}
    for i in range(3):
        await _view(client, f'{{"event_id":"evt-priv-{i:04d}","referrer":"https://news.example.com/"}}', **headers)
    await _view(client, None, **headers)
    await _view(client, '{"event_id":"evt-priv-bot1"}', **{"User-Agent": "Twitterbot/1.0 PrivacyProbe"})
    code = (await (await client.post("/v1/articles/v1/shares", json={"network": "x"})).json())["code"]
    assert (await client.get(f"/s/{code}", allow_redirects=False, headers=headers)).status == 302
    stats = await _stats(client)
    assert (stats["views"], stats["unique_visitors"], stats["bot_views"], stats["clicks"]["total"]) == (4, 1, 1, 1)
    report = await client.app[K.FLUSHER].flush_once()
    assert report.events == 7
    found = _redis_dump(redis_sync) + await _sqlite_dump(client)
    assert len(found) > 20
    secrets = [PROBE_IP, PROBE_UA, "PrivacyProbe"]
    for blob in found:
        for secret in secrets:
            for form in _forms(secret):
                assert form not in blob, f"{secret!r} found in {blob[:200]!r}"
    for name, raw in await asyncio.to_thread(_files, Path(settings.data_dir)):
        for secret in secrets:
            assert secret.encode() not in raw, f"{secret!r} found in {name}"
    service_logs = [r for r in caplog.records if r.name != "aiohttp.access"]  # `serve` runs without access log
    assert service_logs
    for record in service_logs:
        text = f"{record.getMessage()} {record.__dict__}"
        assert all(secret not in text for secret in secrets), text


async def test_a_batch_of_many_views_sets_every_ttl_and_counts_each_visitor(
    client: Any, redis_sync: redis.Redis
) -> None:
    """Concurrent beacons share one script call: keys touched twice in it still get their TTL once."""
    for article in ("v1", "v2"):
        await put_article(client, article)
    agents = [BROWSER_UA, FIREFOX, FIREFOX + " Edg/128.0"]

    async def beacon(i: int) -> None:
        article = ("v1", "v2")[i % 2]
        headers = {"User-Agent": agents[i % 3]}
        body = f'{{"event_id":"ev-batch-{i}"}}'
        resp = await client.post(f"/v1/articles/{article}/views", data=body, headers=headers)
        assert resp.status == 202, await resp.text()

    await asyncio.gather(*(beacon(i) for i in range(60)))
    hours, days = set(), set()
    for article in ("v1", "v2"):
        stats = await _stats(client, article)
        assert (stats["views"], stats["unique_visitors"]) == (30, 3)
        for key in redis_sync.scan_iter(match=f"*:uv:{article}:*"):
            assert 0 < redis_sync.ttl(key) <= 3 * 86400
            days.add(key)
    for key in redis_sync.scan_iter(match="*:hot:view:*"):
        assert 0 < redis_sync.ttl(key) <= keys.HOT_TTL_S
        hours.add(key)
    assert days and hours


async def test_ingest_answers_a_view_with_its_status_only_and_a_click_with_its_url(client: Any) -> None:
    """Views make up most script calls: their replies carry no URL or title to send and decode."""
    await put_article(client, "st1")
    counters = client.app[K.ENGAGEMENT].counters
    view = Event("st1", "view", "", 500_000, "c:view:evt-status-only", 60, "ab" * 16, 20_000)
    click = Event("st1", "click", "x", 500_000, "s:evt-with-url", 60)
    seen, clicked = await asyncio.gather(counters.submit(view, ""), counters.submit(click, "url"))
    assert seen == IngestResult("ok", None, None, None)
    assert (clicked.status, clicked.url, clicked.title) == ("ok", "https://t4k3.news/story", "A story")
