"""Real processes: Redis killed and restarted from its AOF; SIGTERM to the service under load."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import redis

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from tests.conftest import ADMIN, BROWSER_UA, RAW_COUNTING_ENV, article_body, put_article, start_redis_server
from tests.flush.helpers import durable_totals, service_env
from tests.flush.test_kill import _free_port, _wait_healthy


async def test_redis_kill_9_and_restart_from_aof(settings: Settings, tmp_path: Path, aiohttp_client: Any) -> None:
    rdir = tmp_path / "aof-redis"
    proc = start_redis_server(rdir, "--appendonly", "yes", "--appendfsync", "everysec")
    url = f"unix://{rdir / 'redis.sock'}"
    try:
        client = await aiohttp_client(create_app(settings.model_copy(update={"redis_url": url}), flusher=False))
        await put_article(client, "a1")
        acked: list[float] = []
        for i in range(400):
            resp = await client.post("/v1/articles/a1/views", json={"event_id": f"aof-{i:06d}"},
                                     headers={"User-Agent": BROWSER_UA})
            if resp.status == 202:
                acked.append(time.monotonic())
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = start_redis_server(rdir, "--appendonly", "yes", "--appendfsync", "everysec")
        recovered = int(redis.Redis(unix_socket_path=str(rdir / "redis.sock")).hget(keys.totals("a1"), "view\t") or 0)
        last_second = sum(1 for t in acked if killed_at - t <= 1.5)
        print(f"\nredis kill -9 with appendfsync everysec: {len(acked)} acked, {recovered} recovered from the AOF, "
              f"{len(acked) - recovered} lost (bound: {last_second} acked in the last 1.5 s)")
        assert len(acked) - last_second <= recovered <= len(acked)
        resp = await client.post("/v1/articles/a1/views", json={"event_id": "aof-after"},
                                 headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202  # the client reconnected by itself
        report = await client.app[K.FLUSHER].flush_once()
        assert report.events == recovered + 1
    finally:
        proc.terminate()
        proc.wait()


async def test_sigterm_under_load_finishes_requests_and_flushes(settings: Settings) -> None:
    port = _free_port()
    env = dict(os.environ, **service_env(settings), ADMIN_TOKEN=ADMIN, FLUSH_INTERVAL_S="3600",
               SHUTDOWN_TIMEOUT_S="10", LOG_FORMAT="text", LOG_LEVEL="WARNING", **RAW_COUNTING_ENV)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "service", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    await _wait_healthy(port, proc)
    ok = errors = 0
    async with aiohttp.ClientSession() as session:
        async with session.put(f"{base}/v1/articles/a1", json=article_body(),
                               headers={"Authorization": f"Bearer {ADMIN}"}) as resp:
            assert resp.status == 201
        stop = asyncio.Event()

        async def worker(w: int) -> None:
            nonlocal ok, errors
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    async with session.post(f"{base}/v1/articles/a1/views", json={"event_id": f"t-{w}-{i:08d}"},
                                            headers={"User-Agent": BROWSER_UA}) as resp:
                        await resp.read()
                        ok += resp.status == 202
                except aiohttp.ClientError:
                    errors += 1
                    if proc.returncode is not None:
                        return
                    await asyncio.sleep(0.01)  # the server is going away: back off

        workers = [asyncio.create_task(worker(w)) for w in range(8)]
        while ok < 300:
            await asyncio.sleep(0.01)
        sent_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 20)
        took = time.monotonic() - sent_at
        stop.set()
        await asyncio.gather(*workers)
    durable = (await durable_totals(settings))[("a1", "view", "")]
    r = redis.Redis.from_url(str(settings.redis_url))
    pending = sum(r.scard(keys.pending(s)) + r.hlen(keys.delta(s)) for s in range(keys.SHARDS))
    print(f"\nSIGTERM under load: exit {code} in {took:.2f}s; {ok} views answered 202, {durable} in the durable store, "
          f"{errors} requests refused or cut while stopping, {pending} deltas left pending")
    assert code == 0
    assert took < 10 + 5
    assert pending == 0
    assert ok <= durable <= ok + errors  # in-flight events are counted at most once
