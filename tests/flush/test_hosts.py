"""Two hosts: own data dirs, one Redis, one DATABASE_URL. Both flush, nothing is counted twice.

With a SQLite file per host, a flusher that applied the other's sealed-but-unacked batch counted it in
its own file too (17,065 views for 15,000 sent, issue 14); the shared ledger makes that a no-op.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from tests.conftest import AUTH, BROWSER_UA, put_article
from tests.flush.helpers import durable_totals, expected_key, send

ARTICLES = [f"h{i:02d}" for i in range(6)]


async def _traffic(client: Any, host: int, codes: dict[str, str], n: int) -> Counter[tuple[str, str, str]]:
    sent: Counter[tuple[str, str, str]] = Counter()
    for i in range(n):
        a = ARTICLES[i % len(ARTICLES)]
        kind = ("view", "share:email", "click", "view")[i % 4]
        if await send(client, kind, a, host * 1_000_000 + i, codes[a]) < 400:
            sent[expected_key(kind, a, "x")] += 1
    return sent


async def _flush_while(clients: list[Any], busy: asyncio.Task[Any]) -> list[Any]:
    reports = []
    while not busy.done():
        reports += await asyncio.gather(*(c.app[K.FLUSHER].flush_once() for c in clients))
    return reports


async def _export(client: Any) -> dict[str, dict[str, str]]:
    start = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    resp = await client.get(f"/v1/export/articles.csv?from={start}", headers=AUTH)
    assert resp.status == 200
    return {row["article_id"]: row for row in csv.DictReader(io.StringIO(await resp.text()))}


@pytest.mark.parametrize("durable", ["postgres"], indirect=True)
async def test_two_hosts_with_own_data_dirs_count_once(settings: Settings, aiohttp_client: Any) -> None:
    hosts = [settings.model_copy(update={"data_dir": settings.data_dir / f"host{i}"}) for i in range(2)]
    other: list[Any] = []

    async def race_on_commit(step: str) -> None:  # host 0 committed, not yet acked: host 1 flushes now
        if step == "after_commit":
            races.append(await other[0].app[K.FLUSHER].flush_once())

    races: list[Any] = []
    one = await aiohttp_client(create_app(hosts[0], flusher=False, flush_hook=race_on_commit))
    two = TestClient(TestServer(create_app(hosts[1], flusher=False)), headers={"User-Agent": BROWSER_UA})
    await two.start_server()
    other.append(two)
    try:
        codes = {}
        sent: Counter[tuple[str, str, str]] = Counter()
        for a in ARTICLES:
            await put_article(one, a)
            share = await (await two.post(f"/v1/articles/{a}/shares", json={"network": "x"})).json()
            codes[a] = share["code"]
            sent[(a, "share", "x")] += 1
        ingest = asyncio.gather(*(_traffic(c, h, codes, 300) for h, c in enumerate((one, two))))
        busy = asyncio.ensure_future(ingest)
        reports = await _flush_while([one, two], busy)
        for part in busy.result():
            sent += part
        reports += [await one.app[K.FLUSHER].flush_once(), await two.app[K.FLUSHER].flush_once()]
        assert sum(r.events for r in reports + races) == sum(sent.values())
        assert sum(r.skipped for r in races) >= 1  # host 1 met host 0's applied, unacked batch: a no-op
        assert await durable_totals(settings) == sent
        for client in (one, two):
            stats = await (await client.get(f"/v1/articles/{ARTICLES[0]}/stats")).json()
            assert stats["views"] == sent[(ARTICLES[0], "view", "")]
        exports = [await _export(c) for c in (one, two)]
        assert exports[0] == exports[1]
        assert sum(int(r["views"]) for r in exports[0].values()) == sum(
            n for (_a, metric, _net), n in sent.items() if metric == "view"
        )
        assert not any((h.data_dir / "engagement.sqlite3").exists() for h in hosts)
    finally:
        await two.close()


@pytest.mark.parametrize("durable", ["postgres"], indirect=True)
async def test_after_redis_loss_a_host_with_an_empty_data_dir_rebuilds_the_totals(
    settings: Settings, aiohttp_client: Any, redis_sync: Any
) -> None:
    one = await aiohttp_client(create_app(settings.model_copy(update={"data_dir": settings.data_dir / "a"}),
                                          flusher=False))
    await put_article(one, "r1")
    for i in range(30):
        assert await send(one, "view", "r1", i) == 202
    assert (await one.app[K.FLUSHER].flush_once()).events == 30
    redis_sync.flushall()
    fresh = settings.model_copy(update={"data_dir": settings.data_dir / "b"})  # another host, nothing local
    two = await aiohttp_client(create_app(fresh, flusher=False))
    stats = await (await two.get("/v1/articles/r1/stats")).json()
    assert stats["views"] == 30
    assert (await two.app[K.FLUSHER].flush_once()).rebuilt == 0  # its start-up rebuilt the catalog already
    assert (await (await one.get("/v1/articles/r1/stats")).json())["views"] == 30
