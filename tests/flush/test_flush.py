"""The flush moves every counted event into SQLite exactly once, whatever fails when."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from tests.conftest import REDIS_MODES, put_article, redis_url_of
from tests.flush.helpers import durable_rows, durable_totals, expected_key, hourly_sums, ledger_ids, send


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)


class Boom(RuntimeError):
    """Stands in for a crash at a chosen step."""


async def _traffic(client: Any, articles: list[str], n: int, start: int = 0) -> Counter[tuple[str, str, str]]:
    """Send n mixed events; returns what got a 2xx, keyed like counter_totals."""
    codes = {}
    for a in articles:
        share = await (await client.post(f"/v1/articles/{a}/shares", json={"network": "x"})).json()
        codes[a] = share["code"]
    expected: Counter[tuple[str, str, str]] = Counter({(a, "share", "x"): 1 for a in articles})
    for i in range(start, start + n):
        a = articles[i % len(articles)]
        kind = ("view", "share:facebook", "click")[i % 3]
        if await send(client, kind, a, i, codes[a]) < 400:
            expected[expected_key(kind, a, "x")] += 1
    return expected


async def test_flush_moves_everything_once(client: Any) -> None:
    await put_article(client, "a1")
    await put_article(client, "a2")
    expected = await _traffic(client, ["a1", "a2"], 30)
    flusher = client.app[K.FLUSHER]
    report = await flusher.flush_once()
    assert report.events == sum(expected.values())
    settings = client.app[K.SETTINGS]
    assert await durable_totals(settings) == expected
    assert settings.sqlite_path.exists() == (settings.database_url is None)  # the store the run is about
    assert await hourly_sums(settings) == expected
    again = await flusher.flush_once()
    assert again.events == 0 and again.batches == 0
    assert await durable_totals(settings) == expected
    stats = await (await client.get("/v1/articles/a1/stats")).json()
    assert stats["views"] == expected[("a1", "view", "")]


@pytest.mark.parametrize("step", ["after_seal", "mid_apply", "after_commit"])
async def test_crash_at_each_step_loses_nothing_and_counts_once(
    settings: Settings, aiohttp_client: Any, step: str
) -> None:
    armed = {"on": True}

    async def hook(at: str) -> None:
        if at == step and armed["on"]:
            armed["on"] = False
            raise Boom(at)

    client = await aiohttp_client(create_app(settings, flusher=False, flush_hook=hook))
    await put_article(client, "a1")
    expected = await _traffic(client, ["a1"], 12)
    with pytest.raises(Boom):
        await client.app[K.FLUSHER].flush_once()
    assert (await client.app[K.FLUSHER].batches.pending_count())[0] == 1  # sealed, not yet acked
    more = await _traffic(client, ["a1"], 6, start=100)
    report = await client.app[K.FLUSHER].flush_once()
    assert report.skipped == (1 if step == "after_commit" else 0)
    assert await durable_totals(settings) == expected + more
    assert await hourly_sums(settings) == expected + more
    assert await client.app[K.FLUSHER].batches.pending_count() == (0, 0)


async def test_two_flushers_at_once_count_once(settings: Settings, aiohttp_client: Any) -> None:
    one = await aiohttp_client(create_app(settings, flusher=False))
    two_app = create_app(settings, flusher=False)
    two = TestClient(TestServer(two_app))
    await two.start_server()
    try:
        await put_article(one, "a1")
        expected = await _traffic(one, ["a1"], 40)
        reports = await asyncio.gather(*(c.app[K.FLUSHER].flush_once() for c in (one, two, one, two)))
        assert sum(r.events for r in reports) == sum(expected.values())
        assert await durable_totals(settings) == expected
    finally:
        await two.close()


@pytest.mark.parametrize("durable", ["sqlite"], indirect=True)  # PostgreSQL's: test_pg_faults.py
async def test_sqlite_locked_longer_than_busy_timeout(settings: Settings, aiohttp_client: Any) -> None:
    fast = settings.model_copy(update={"sqlite_busy_timeout_ms": 50})
    client = await aiohttp_client(create_app(fast, flusher=False))
    await put_article(client, "a1")
    expected = await _traffic(client, ["a1"], 9)
    blocker = sqlite3.connect(fast.sqlite_path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        flusher = client.app[K.FLUSHER]
        assert await flusher.flush_logged() is None
        assert flusher.state.failures == 1 and "locked" in (flusher.state.last_error or "")
        assert (await flusher.batches.pending_count())[0] == 1
    finally:
        blocker.rollback()
        blocker.close()
    report = await client.app[K.FLUSHER].flush_once()
    assert report.events == sum(expected.values())
    assert await durable_totals(fast) == expected
    assert len(await ledger_ids(fast)) == 1


async def test_redis_loses_its_data(client: Any, redis_sync: Any) -> None:
    await put_article(client, "a1")
    before = await _traffic(client, ["a1"], 9)
    await client.app[K.FLUSHER].flush_once()
    lost = await _traffic(client, ["a1"], 6, start=50)
    redis_sync.flushall()
    stats = await (await client.get("/v1/articles/a1/stats")).json()
    assert stats["views"] == before[("a1", "view", "")]
    assert stats["shares"]["total"] == before[("a1", "share", "x")] + before[("a1", "share", "facebook")]
    report = await client.app[K.FLUSHER].flush_once()
    assert report.rebuilt == 1
    assert client.app[K.FLUSHER].state.redis_resets == 1
    after = await _traffic(client, ["a1"], 9, start=200)
    await client.app[K.FLUSHER].flush_once()
    assert await durable_totals(client.app[K.SETTINGS]) == before + after
    stats = await (await client.get("/v1/articles/a1/stats")).json()
    assert stats["views"] == (before + after)[("a1", "view", "")]
    assert sum(lost.values()) > 0  # these were never flushed: the documented loss


async def test_unique_visitor_snapshots_are_absolute(client: Any) -> None:
    await put_article(client, "a1")
    for i, ua in enumerate(["Mozilla/5.0 A", "Mozilla/5.0 B", "Mozilla/5.0 A"]):
        resp = await client.post("/v1/articles/a1/views", json={"event_id": f"uv-test-{i:04d}"},
                                 headers={"User-Agent": ua})
        assert resp.status == 202
    flusher = client.app[K.FLUSHER]
    await flusher.flush_once()
    await flusher.flush_once()
    rows = await durable_rows(client.app[K.SETTINGS], "SELECT n FROM unique_daily WHERE article_id = 'a1'")
    assert rows == [(2,)]
    stats = await (await client.get("/v1/articles/a1/stats")).json()
    assert stats["unique_visitors"] == 2 and stats["views"] == 3


async def test_seal_refuses_a_shard_not_rebuilt(client: Any, redis_sync: Any) -> None:
    await put_article(client, "a1")
    await _traffic(client, ["a1"], 3)
    shard = keys.shard_of("a1")
    redis_sync.delete(keys.seeded(shard))
    batches = client.app[K.FLUSHER].batches
    assert await batches.seal(shard, "00000000-test") == -1
    assert redis_sync.hlen(keys.delta(shard)) > 0
