"""Roll-up of old hourly buckets, ledger pruning, and the one-shot flush CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import redis

from service import appkeys as K
from service.config import Settings
from service.storage import keys
from tests.conftest import BROWSER_UA, put_article
from tests.flush.helpers import durable_rows, durable_totals, service_env


async def test_old_hours_roll_up_into_days(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "a1")
    old_day = int(time.time()) // 86400 - 100
    shard = keys.shard_of("a1")
    for hour_offset, n in ((1, 2), (5, 3), (30, 4)):
        redis_sync.hincrby(keys.delta(shard), f"a1\tview\t\t{old_day * 24 + hour_offset}", n)
    flusher = client.app[K.FLUSHER]
    await flusher.flush_once()  # its maintenance rolls up hours older than HOURLY_RETENTION_DAYS (90)
    settings = client.app[K.SETTINGS]
    daily = await durable_rows(settings, "SELECT day, n FROM counter_daily WHERE article_id='a1' ORDER BY day")
    ((hourly,),) = await durable_rows(settings, "SELECT COUNT(*) FROM counter_hourly WHERE article_id='a1'")
    total = (await durable_totals(settings))[("a1", "view", "")]
    assert daily == [(old_day, 5), (old_day + 1, 4)]
    assert hourly == 0 and total == 9
    start = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime(old_day * 86400))
    end = time.strftime("%Y-%m-%dT00:00:00Z", time.gmtime((old_day + 2) * 86400))
    series = await (await client.get(f"/v1/articles/a1/timeseries?granularity=day&from={start}&to={end}")).json()
    assert [p["value"] for p in series["points"]] == [5, 4, 0]


async def test_ledger_is_pruned_after_retention(client: Any) -> None:
    await put_article(client, "a1")
    await client.post("/v1/articles/a1/views", json={}, headers={"User-Agent": BROWSER_UA})
    flusher = client.app[K.FLUSHER]
    await flusher.flush_once()
    assert await flusher.counters.prune_ledger(int(time.time()) - 60) == 0
    assert await flusher.counters.prune_ledger(int(time.time()) + 60) == 1


async def test_flush_cli_prints_what_it_moved(client: Any, settings: Settings) -> None:
    await put_article(client, "a1")
    for i in range(5):
        resp = await client.post("/v1/articles/a1/views", json={"event_id": f"cli-{i:06d}"},
                                 headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202
    env = dict(os.environ, **service_env(settings), ADMIN_TOKEN="x", LOG_LEVEL="WARNING")
    done = subprocess.run([sys.executable, "-m", "service", "flush"], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["events"] == 5 and report["batches"] == 1 and report["rows"] == 1
