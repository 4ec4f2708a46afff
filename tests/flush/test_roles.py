"""Real processes in roles on one redis-server and one DATA_DIR: one leased worker, api replicas kept fresh."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from service.config import Settings
from service.storage import keys
from service.storage.related_lua import STORE, sha
from tests.conftest import ADMIN, AUTH, BROWSER_UA, RAW_COUNTING_ENV, article_body
from tests.flush.helpers import ledger_size
from tests.flush.test_kill import _free_port, _wait_healthy

FAST_LEASE = {"WORKER_LEASE_TTL_S": "2", "WORKER_LEASE_RENEW_S": "0.4", "FLUSH_INTERVAL_S": "0.3"}


class Serve:
    """One `python -m service serve` process and its base URL."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, log: Path) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"
        self.log = log

    async def json(self, session: aiohttp.ClientSession, path: str) -> Any:
        async with session.get(self.base + path, headers=AUTH) as resp:
            return await resp.json()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)


@asynccontextmanager
async def serving(settings: Settings, **env: str) -> AsyncIterator[Callable[[str], Awaitable[Serve]]]:
    """Start `serve --role ROLE` processes with extra environment; all are stopped at the end."""
    started: list[Serve] = []

    async def start(role: str) -> Serve:
        port = _free_port()
        full = dict(os.environ, REDIS_URL=str(settings.redis_url), DATA_DIR=str(settings.data_dir),
                    ADMIN_TOKEN=ADMIN, LOG_FORMAT="text", LOG_LEVEL="INFO", ROLE=role, **RAW_COUNTING_ENV, **env)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        name = f"{role}-{len(started)}"
        log = settings.data_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "service", "serve", "--port",
                                                        str(port), env=full, stdout=out, stderr=out)
        serve = Serve(proc, port, log)
        started.append(serve)
        try:
            await _wait_healthy(port, proc)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {name} log:\n{log.read_text(errors='replace')[-2000:]}") from None
        return serve

    try:
        yield start
    finally:
        for serve in started:
            if serve.proc.returncode is None:
                serve.proc.terminate()
        for serve in started:
            await asyncio.wait_for(serve.proc.wait(), 30)


async def until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Poll `check` until it holds; returns how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if await check():
            return time.monotonic() - started
        await asyncio.sleep(0.02)  # polling the processes under test
    raise AssertionError(f"not within {seconds} s: {what}")


def durable_views(path: Path, article_id: str) -> int:
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT n FROM counter_totals WHERE article_id=? AND metric='view'", (article_id,)).fetchone()
    return int(row[0]) if row else 0


async def views(session: aiohttp.ClientSession, serve: Serve, article_id: str, first: int, n: int) -> int:
    ok = 0
    for i in range(first, first + n):
        async with session.post(f"{serve.base}/v1/articles/{article_id}/views", json={"event_id": f"r-{i:08d}"},
                                headers={"User-Agent": BROWSER_UA}) as resp:
            ok += resp.status == 202
    return ok


def flush_runs(metrics: str) -> int:
    line = next((x for x in metrics.splitlines() if x.startswith('engagement_flush_runs_total{result="success"}')),
                None)
    return int(float(line.split()[-1])) if line else 0


async def test_one_worker_holds_the_lease_and_a_standby_takes_over_after_kill_9(settings: Settings) -> None:
    async with serving(settings, **FAST_LEASE) as start, aiohttp.ClientSession() as session:
        api_role = await start("api")
        first, second = await start("worker"), await start("worker")
        async with session.put(f"{api_role.base}/v1/articles/a1", json=article_body(), headers=AUTH) as resp:
            assert resp.status == 201

        async def holder() -> str | None:
            found = await api_role.json(session, "/readyz")
            return found["lease"].get("holder")

        await until(lambda: _truthy(holder()), 15, "a worker takes the lease")
        held_by = await holder()
        workers = {w.proc.pid: w for w in (first, second)}
        pid = int(str(held_by).split(":")[1])
        assert pid in workers  # hostname:pid:random of one of the two workers, never the api
        leader, standby = workers[pid], next(w for p, w in workers.items() if p != pid)
        claims = [(await w.json(session, "/readyz"))["lease"]["this_process"] for w in (leader, standby)]
        assert claims == [True, False]
        ready = await api_role.json(session, "/readyz")
        assert ready["role"] == "api" and ready["lease"]["this_process"] is False
        assert 0 < ready["lease"]["expires_in_s"] <= 2

        sent = await views(session, api_role, "a1", 0, 40)
        await until(lambda: _is(durable_views(settings.sqlite_path, "a1") == sent), 20, "the leader flushes")
        api_metrics = await _text(session, api_role.base + "/metrics")
        leader_metrics = await _text(session, leader.base + "/metrics")
        standby_metrics = await _text(session, standby.base + "/metrics")
        assert flush_runs(leader_metrics) > 0
        assert "engagement_flush_runs" not in api_metrics + standby_metrics  # they do not flush
        assert flush_runs(api_metrics) == 0 and flush_runs(standby_metrics) == 0
        ledger_before = ledger_size(settings.sqlite_path)
        assert ledger_before > 0
        ops = await api_role.json(session, "/v1/ops/summary")
        assert ops["worker"]["role"] == "api", ops
        assert ops["worker"]["lease"]["holder"] == held_by
        assert ops["flush"]["flushed_by"] == held_by and ops["flush"]["last_success"] is not None

        leader.kill()
        await leader.proc.wait()
        killed_at = time.monotonic()
        more = await views(session, api_role, "a1", 1000, 30)
        await until(lambda: _is_holder(session, standby), 15, "the standby takes the lease")
        took = time.monotonic() - killed_at
        total = sent + more
        flushed = await until(lambda: _is(durable_views(settings.sqlite_path, "a1") == total), 20,
                              "the new holder flushes")
        print(f"\nlease hand-over after kill -9 of the holder: {took:.2f} s (TTL 2 s); "
              f"{total} views durable {flushed:.2f} s later; api flush runs: {flush_runs(api_metrics)}")
        assert took < 10
        assert flush_runs(await _text(session, api_role.base + "/metrics")) == 0
        assert durable_views(settings.sqlite_path, "a1") == total  # exactly once across the hand-over


async def _text(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url, headers=AUTH) as resp:
        return await resp.text()


async def _truthy(value: Awaitable[object]) -> bool:
    return bool(await value)


async def _is(value: bool) -> bool:
    return value


async def _is_holder(session: aiohttp.ClientSession, serve: Serve) -> bool:
    return bool((await serve.json(session, "/readyz"))["lease"].get("this_process"))


async def count_stores(redis_url: str, seen: Counter[str], ready: asyncio.Event) -> None:
    """MONITOR Redis until cancelled: every STORE script call (one list written) by article id."""
    store = sha(STORE)
    client = aioredis.Redis.from_url(redis_url)
    try:
        async with client.monitor() as monitor:
            ready.set()
            while True:
                words = (await monitor.next_command())["command"].split()
                if len(words) > 6 and words[0].upper() == "EVALSHA" and words[1] == store:
                    seen[words[6]] += 1  # EVALSHA sha 3 cand built docs <article id> seq listed
    finally:
        await client.aclose()


async def test_two_builders_claim_queued_builds_each_list_is_built_once(settings: Settings) -> None:
    env = {"RELATED_BUILD_BATCH": "7", "RELATED_BULK_QUIET_S": "1", "FLUSH_INTERVAL_S": "3600"}
    articles = [{"id": f"q{i:03d}", "url": f"https://t4k3.news/q{i}", "title": f"Quarry {i} report",
                 "tags": ["Quarry", f"Pit {i % 7}"], "published_at": f"2026-11-{1 + i % 28:02d}T10:00:00Z"}
                for i in range(240)]
    seen: Counter[str] = Counter()
    ready = asyncio.Event()
    monitor = asyncio.create_task(count_stores(str(settings.redis_url), seen, ready))
    r = aioredis.Redis.from_url(str(settings.redis_url))
    try:
        async with serving(settings, **env) as start, aiohttp.ClientSession() as session:
            one, two = await start("all"), await start("all")  # no lease: both build, as two processes today
            await ready.wait()
            async with session.post(f"{one.base}/v1/articles/bulk", json={"articles": articles},
                                    headers=AUTH) as resp:
                assert resp.status == 201 and (await resp.json())["accepted"] == len(articles)  # all new: Created

            async def drained() -> bool:
                return await r.zcard(keys.related_pending()) == 0 and await r.zcard(keys.related_claimed()) == 0

            await until(drained, 60, "the builders drain the queue")
            assert len(seen) == len(articles)
            counts = Counter(seen.values())
            print(f"\ntwo builders, {len(articles)} queued lists: lists by times written {dict(counts)}")
            assert counts == {1: len(articles)}  # every list written once: no builder took another's claim
            logs = [s.log.read_text(errors="replace") for s in (one, two)]
            assert not any("Traceback" in text for text in logs)
    finally:
        monitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await monitor
        await r.aclose()


async def related_ids(session: aiohttp.ClientSession, serve: Serve, article_id: str) -> tuple[int, list[str]]:
    async with session.get(f"{serve.base}/v1/articles/{article_id}/related?limit=5") as resp:
        body = await resp.json()
        return resp.status, [i["article_id"] for i in body.get("related", [])]


async def test_a_write_on_one_api_replica_is_seen_on_another_within_1_s(settings: Settings) -> None:
    async with serving(settings, FLUSH_INTERVAL_S="3600") as start, aiohttp.ClientSession() as session:
        a, b = await start("api"), await start("api")
        for i, tags in enumerate((["Glacier", "Ice"], ["Glacier", "Ice"], ["Harbour"])):
            body = article_body(url=f"https://t4k3.news/g{i}", title=f"Glacier {i}", tags=tags)
            async with session.put(f"{a.base}/v1/articles/g{i}", json=body, headers=AUTH) as resp:
                assert resp.status == 201
        assert (await related_ids(session, b, "g0"))[0] == 200
        status, before = await related_ids(session, b, "g0")  # cached on B now
        assert status == 200 and "g3" not in before
        body = article_body(url="https://t4k3.news/g3", title="Glacier 3", tags=["Glacier", "Ice", "Melt"])
        async with session.put(f"{a.base}/v1/articles/g3", json=body, headers=AUTH) as resp:
            assert resp.status == 201

        async def b_lists_g3() -> bool:
            return "g3" in (await related_ids(session, b, "g0"))[1]

        put_seen = await until(b_lists_g3, 5, "B lists the article put on A")
        async with session.delete(f"{a.base}/v1/articles/g0", headers=AUTH) as resp:
            assert resp.status == 200

        async def b_gone() -> bool:
            return (await related_ids(session, b, "g0"))[0] == 410

        gone_seen = await until(b_gone, 5, "B answers 410 for the article unpublished on A")
        print(f"\nacross api replicas: a PUT on A listed on B after {put_seen:.3f} s, "
              f"an unpublish answered 410 on B after {gone_seen:.3f} s (cache TTL 30 s)")
        assert put_seen < 1.0 and gone_seen < 1.0
