"""Group commit of the ingest script: on one Redis one call carries events of every shard; on a cluster one
call per shard (a script's keys share a slot). Either way each shard's delta gets its own events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from service.config import Settings
from service.storage import keys
from service.storage.redis_client import connect
from service.storage.redis_cluster import Cluster
from service.storage.redis_counters import Event, RedisCounters
from tests.conftest import REDIS_MODES, redis_url_of

HOUR, DAY = 493_000, 20_541


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    return redis_url_of(request, redis_url)


def script_calls(client: Any) -> int:
    """EVALSHA calls so far, summed over a cluster's primaries."""
    if isinstance(client, redis.RedisCluster):
        nodes = list(client.info("commandstats", target_nodes=redis.RedisCluster.PRIMARIES).values())
    else:
        nodes = [client.info("commandstats")]
    return sum(int(node.get("cmdstat_evalsha", {}).get("calls", 0)) for node in nodes)


async def test_one_call_for_all_shards_on_one_redis_one_per_shard_on_a_cluster(
    settings: Settings, redis_sync: Any
) -> None:
    articles = [f"batch-{i}" for i in range(48)]
    assert {keys.shard_of(a) for a in articles} == set(range(keys.SHARDS))
    for a in articles:
        redis_sync.hset(keys.article(a), mapping={"status": "published", "url": f"https://t4k3.news/{a}"})
    client = await connect(str(settings.redis_url), settings)
    counters = RedisCounters(client)
    try:
        redis_sync.delete(*{keys.delta(s) for s in range(keys.SHARDS)})
        await counters.ingest(Event(articles[0], "view", "", HOUR, "warm-up", 60))  # the script is loaded
        before = script_calls(redis_sync)
        events = [Event(a, "view", "", HOUR, f"ev-{a}-{n}", 60, f"visitor-{a}-{n}", DAY)
                  for a in articles for n in range(2)]
        results = await asyncio.gather(*(counters.submit(ev) for ev in events))
        calls = script_calls(redis_sync) - before
    finally:
        await counters.close()
        await client.aclose()
    assert [r.status for r in results] == ["ok"] * len(events)
    assert calls == (keys.SHARDS if isinstance(client, Cluster) else 1)
    for shard in range(keys.SHARDS):
        delta = {k.decode(): int(v) for k, v in redis_sync.hgetall(keys.delta(shard)).items()}
        mine = [a for a in articles if keys.shard_of(a) == shard]
        expected = {f"{a}\tview\t\t{HOUR}": 2 for a in mine} | {f"u\t{a}\t{DAY}": 1 for a in mine}
        if articles[0] in mine:
            expected[f"{articles[0]}\tview\t\t{HOUR}"] = 3  # and the warm-up view
        assert delta == expected, shard
