"""Redis Cluster specifics, on the private 3-master cluster: detection, readiness, scripts, memory, shard spread."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from service.storage.redis_cluster import Cluster
from tests.cluster import LocalCluster
from tests.conftest import AUTH, BROWSER_UA, put_article
from tests.flush.helpers import sqlite_totals


@pytest.fixture
def redis_url(cluster_url: str) -> str:
    return cluster_url


async def _view(client: Any, article_id: str, event_id: str) -> None:
    resp = await client.post(f"/v1/articles/{article_id}/views", json={"event_id": event_id},
                             headers={"User-Agent": BROWSER_UA})
    assert resp.status == 202, await resp.text()


async def _views(client: Any, article_id: str) -> int:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["views"])


async def test_any_node_s_url_finds_the_cluster(
    settings: Settings, local_cluster: LocalCluster, aiohttp_client: Any, redis_sync: Any
) -> None:
    app = create_app(settings.model_copy(update={"redis_url": local_cluster.urls[2]}), flusher=False)
    client = await aiohttp_client(app)
    assert isinstance(app[K.REDIS], Cluster)
    assert len(app[K.REDIS].primaries()) == 3
    assert K.REDIS_LINK not in app  # ingest goes through redis-py, which routes by slot
    for i in range(40):  # articles of every shard, so every primary counts some
        await put_article(client, f"n{i}", url=f"https://t4k3.news/n{i}")
        await _view(client, f"n{i}", f"ev-n{i}-0001")
    assert {keys.shard_of(f"n{i}") for i in range(40)} == set(range(keys.SHARDS))
    assert [await _views(client, f"n{i}") for i in range(40)] == [1] * 40
    resp = await client.get("/readyz")
    assert resp.status == 200 and (await resp.json())["checks"]["redis"] == "ok"


async def test_readiness_checks_every_primary(
    settings: Settings, local_cluster: LocalCluster, aiohttp_client: Any, redis_sync: Any
) -> None:
    app = create_app(settings.model_copy(update={"readyz_timeout_s": 0.5}), flusher=False)
    client = await aiohttp_client(app)
    assert (await client.get("/readyz")).status == 200
    last = redis.Redis(port=local_cluster.ports[2])  # not the node REDIS_URL names
    try:
        last.execute_command("CLIENT", "PAUSE", 3000)  # a primary that does not answer
        resp = await client.get("/readyz")
        assert resp.status == 503
        assert resp.headers["Retry-After"]
        assert (await resp.json())["checks"]["redis"] == "TimeoutError"
    finally:
        last.execute_command("CLIENT", "UNPAUSE")
        last.close()
    deadline = time.monotonic() + 20
    while (await client.get("/readyz")).status != 200:
        assert time.monotonic() < deadline, "readiness did not come back after the primary answered again"


async def test_nodes_that_lost_their_scripts_load_them_again(
    settings: Settings, aiohttp_client: Any, redis_sync: Any, tmp_path: Path
) -> None:
    app = create_app(settings, flusher=False)
    client = await aiohttp_client(app)
    ids = [f"s{i}" for i in range(24)]
    for a in ids:
        await put_article(client, a, url=f"https://t4k3.news/{a}", tags=["Cluster", a])
        await _view(client, a, f"ev-{a}-0001")
    redis_sync.script_flush()  # every primary, as after restarts: NOSCRIPT for every script
    for a in ids:
        await _view(client, a, f"ev-{a}-0002")
        await put_article(client, a, url=f"https://t4k3.news/{a}", tags=["Cluster", a, "again"])  # SEED, SWAP
    resp = await client.get(f"/v1/articles/{ids[0]}/related")
    assert resp.status == 200, await resp.text()
    redis_sync.script_flush()
    await client.app[K.FLUSHER].flush_once()  # SEAL and ACK on every shard
    totals = sqlite_totals(settings.sqlite_path)
    assert {a: totals[(a, "view", "")] for a in ids} == dict.fromkeys(ids, 2)
    assert [await _views(client, a) for a in ids] == [2] * 24


async def test_ops_memory_is_summed_over_primaries(client: Any, local_cluster: LocalCluster) -> None:
    resp = await client.get("/v1/ops/summary", headers=AUTH)
    assert resp.status == 200, await resp.text()
    memory = (await resp.json())["redis"]
    assert memory["primaries"] == 3
    assert memory["maxmemory_policy"] == "noeviction"
    each = []
    for port in local_cluster.ports:
        node = redis.Redis(port=port)
        each.append(int(node.info("memory")["used_memory"]))
        node.close()
    assert memory["used_memory"] > max(each)  # more than any one primary: the sum
    assert abs(memory["used_memory"] - sum(each)) < 0.2 * sum(each)


def test_shards_spread_evenly_over_the_primaries(redis_sync: Any) -> None:
    per_node = Counter(redis_sync.get_node_from_key(keys.delta(shard)).name for shard in range(keys.SHARDS))
    assert len(per_node) == 3
    assert sorted(per_node.values()) == [5, 5, 6]
