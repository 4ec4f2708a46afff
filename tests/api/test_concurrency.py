"""Many concurrent shares, views and clicks: exact totals, in Redis and after a flush in SQLite."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.domain.networks import NETWORKS
from tests.conftest import BROWSER_UA, put_article

PERSON = {"User-Agent": BROWSER_UA}
BOT = {"User-Agent": "facebookexternalhit/1.1"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session without the default 100-connection cap: every request really in flight."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as s:
        yield s


async def _status(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> int:
    async with session.request(method, url, allow_redirects=False, **kw) as resp:
        await resp.read()
        return resp.status


async def _sqlite_totals(client: Any, article_id: str) -> dict[tuple[str, str], int]:
    async with client.app[K.DB].execute(
        "SELECT metric, network, n FROM counter_totals WHERE article_id = ?", (article_id,)
    ) as cur:
        return {(row[0], row[1]): row[2] async for row in cur}


Plan = list[tuple[str, str, str, dict[str, Any]]]  # (counter, method, url, request kwargs)


async def _mixed_plan(client: Any, article_id: str, rng: random.Random) -> Plan:
    """300 shares, 400 views, 300 clicks, 150 bot hits over every network, shuffled."""
    base = str(client.make_url("/"))
    codes = {}
    for network in NETWORKS:
        resp = await client.post(f"/v1/articles/{article_id}/shares", json={"network": network})
        codes[network] = (await resp.json())["code"]
    views = f"{base}v1/articles/{article_id}/views"
    shares = f"{base}v1/articles/{article_id}/shares"
    plan: Plan = []
    for i in range(300):
        network = rng.choice(NETWORKS)
        plan.append((f"share:{network}", "POST", shares, {"json": {"network": network}, "headers": PERSON}))
        plan.append(("view", "POST", views, {"data": f'{{"event_id":"evt-conc-{i:06d}"}}', "headers": PERSON}))
        network = rng.choice(NETWORKS)
        plan.append((f"click:{network}", "GET", f"{base}s/{codes[network]}", {"headers": PERSON}))
    for i in range(100):
        plan.append(("view", "POST", views, {"data": "", "headers": {"User-Agent": f"{BROWSER_UA} r{i}"}}))
    for _ in range(50):
        plan.append(("bot_click", "GET", f"{base}s/{codes['x']}", {"headers": BOT}))
        plan.append(("bot_click", "HEAD", f"{base}s/{codes['reddit']}", {"headers": PERSON}))
        plan.append(("bot_view", "POST", views, {"data": "", "headers": BOT}))
    rng.shuffle(plan)
    return plan


async def _run_plan(session: aiohttp.ClientSession, plan: Plan) -> Counter[str]:
    """Counts of 2xx/3xx answers per counter; anything else must be a 503 (nothing recorded)."""
    statuses = await asyncio.gather(*(_status(session, m, u, **kw) for _, m, u, kw in plan))
    assert set(statuses) <= {201, 202, 302, 503}
    return Counter(name for (name, *_), status in zip(plan, statuses, strict=True) if status != 503)


async def _assert_counts(client: Any, article_id: str, ok: Counter[str]) -> None:
    stats = await (await client.get(f"/v1/articles/{article_id}/stats")).json()
    assert stats["shares"]["by_network"] == {n: ok[f"share:{n}"] + 1 for n in NETWORKS}
    assert stats["clicks"]["by_network"] == {n: ok[f"click:{n}"] for n in NETWORKS}
    assert stats["shares"]["total"] == sum(stats["shares"]["by_network"].values())
    assert (stats["views"], stats["bot_views"], stats["bot_clicks"]) == (ok["view"], ok["bot_view"], ok["bot_click"])
    await client.app[K.FLUSHER].flush_once()
    durable = await _sqlite_totals(client, article_id)
    assert durable.get(("view", ""), 0) == ok["view"]
    assert durable.get(("bot_view", ""), 0) == ok["bot_view"]
    assert {net: n for (m, net), n in durable.items() if m == "click"} == {
        n: ok[f"click:{n}"] for n in NETWORKS if ok[f"click:{n}"]
    }
    assert {net: n for (m, net), n in durable.items() if m == "share"} == {n: ok[f"share:{n}"] + 1 for n in NETWORKS}
    assert await (await client.get(f"/v1/articles/{article_id}/stats")).json() == stats


async def test_concurrent_mixed_traffic_exact_totals(client: Any) -> None:
    """1150 requests, 200 in flight at any time: every one answered and counted exactly."""
    await put_article(client, "c1")
    plan = await _mixed_plan(client, "c1", random.Random(7))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as limited:
        ok = await _run_plan(limited, plan)
    assert sum(ok.values()) == len(plan) == 1150
    await _assert_counts(client, "c1", ok)
    stats = await (await client.get("/v1/articles/c1/stats")).json()
    assert stats["unique_visitors"] == pytest.approx(101, rel=0.05)


async def test_burst_every_answer_matches_the_count(client: Any, session: aiohttp.ClientSession) -> None:
    """All 1150 at once: whatever was answered 2xx is counted, and nothing answered 503 is."""
    await put_article(client, "c5")
    ok = await _run_plan(session, await _mixed_plan(client, "c5", random.Random(11)))
    assert sum(ok.values()) > 0
    await _assert_counts(client, "c5", ok)


async def test_concurrent_duplicates_count_once(client: Any, session: aiohttp.ClientSession) -> None:
    await put_article(client, "c2")
    url = str(client.make_url("/v1/articles/c2/views"))
    bodies = [f'{{"event_id":"evt-same-{i % 20:04d}"}}' for i in range(400)]
    answers = await asyncio.gather(*(_json(session, url, body) for body in bodies))
    assert Counter(a["status"] for a in answers) == {"accepted": 20, "duplicate": 380}
    assert (await (await client.get("/v1/articles/c2/stats")).json())["views"] == 20


async def _json(session: aiohttp.ClientSession, url: str, body: str) -> Any:
    async with session.post(url, data=body, headers=PERSON) as resp:
        assert resp.status == 202
        return await resp.json()


async def test_concurrent_flushes_and_traffic(client: Any, session: aiohttp.ClientSession) -> None:
    """Flushing while events arrive loses and doubles nothing."""
    await put_article(client, "c3")
    url = str(client.make_url("/v1/articles/c3/views"))
    flusher = client.app[K.FLUSHER]
    sends = [_status(session, "POST", url, data=f'{{"event_id":"evt-fl-{i:06d}"}}', headers=PERSON) for i in range(400)]
    flushes = [flusher.flush_once() for _ in range(8)]
    results = await asyncio.gather(*sends, *flushes)
    assert results[:400] == [202] * 400
    await flusher.flush_once()
    assert (await _sqlite_totals(client, "c3"))[("view", "")] == 400
    assert (await (await client.get("/v1/articles/c3/stats")).json())["views"] == 400


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _arrivals(counter: list[int]) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
        counter[0] += 1
        return await handler(request)

    return count


async def test_redis_stall_with_many_requests_in_flight(
    settings: Settings, aiohttp_client: Callable[..., Any], session: aiohttp.ClientSession, redis_sync: redis.Redis
) -> None:
    arrived = [0]
    app = create_app(settings.model_copy(update={"redis_socket_timeout_s": 30.0}), flusher=False)
    app.middlewares.append(_arrivals(arrived))
    client = await aiohttp_client(app)
    await put_article(client, "c4")
    url = str(client.make_url("/v1/articles/c4/views"))
    total = 400
    redis_sync.execute_command("CLIENT", "PAUSE", "20000", "WRITE")  # scripts wait, as in a fork or fsync stall
    try:
        sends = [
            asyncio.create_task(_status(session, "POST", url, data=f'{{"event_id":"evt-st-{i:05d}"}}', headers=PERSON))
            for i in range(total)
        ]
        deadline = asyncio.get_running_loop().time() + 20
        while arrived[0] - 1 < total and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # polling until every request reached a handler
    finally:
        redis_sync.execute_command("CLIENT", "UNPAUSE")
    statuses = await asyncio.gather(*sends)
    assert arrived[0] - 1 == total
    views = (await (await client.get("/v1/articles/c4/stats")).json())["views"]
    assert views == statuses.count(202)
    assert Counter(statuses) == {202: total}
