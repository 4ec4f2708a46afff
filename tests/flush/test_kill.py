"""Real processes: kill -9 the flush CLI at random moments under concurrent ingest."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from collections import Counter
from typing import Any

import aiohttp

from service import appkeys as K
from service.config import Settings
from tests.conftest import put_article
from tests.flush.helpers import durable_totals, expected_key, send, service_env

KILLS = 40


def _env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(service_env(settings), ADMIN_TOKEN="x", LOG_FORMAT="text", LOG_LEVEL="WARNING")
    return env


async def _ingest(client: Any, articles: list[str], codes: dict[str, str], stop: asyncio.Event,
                  sent: Counter[tuple[str, str, str]], worker: int) -> None:
    i = 0
    while not stop.is_set():
        a = articles[i % len(articles)]
        kind = ("view", "share:facebook", "click", "view")[i % 4]
        if await send(client, kind, a, worker * 10_000_000 + i, codes[a]) < 400:
            sent[expected_key(kind, a, "x")] += 1
        i += 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_healthy(port: int, proc: asyncio.subprocess.Process, timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            assert proc.returncode is None, "service exited during start-up"
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)  # polling until the port answers
    raise AssertionError("service did not become healthy")


async def _start_flusher(settings: Settings, port: int, cli: bool) -> asyncio.subprocess.Process:
    env = _env(settings)
    if cli:
        args = ["-m", "service", "flush"]
    else:
        env["FLUSH_INTERVAL_S"] = "0.01"
        args = ["-m", "service", "serve", "--port", str(port)]
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # PostgreSQL runs leave it to the test
    log = open(settings.data_dir / "flusher.log", "ab")  # noqa: SIM115 - closed with the process
    proc = await asyncio.create_subprocess_exec(sys.executable, *args, env=env, stdout=log, stderr=log)
    log.close()
    if not cli:
        try:
            await _wait_healthy(port, proc)
        except AssertionError as exc:
            tail = (settings.data_dir / "flusher.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"{exc}; service log:\n{tail}") from None
    return proc


async def test_kill_9_flushers_under_ingest(client: Any, settings: Settings) -> None:
    articles = [f"k{i:03d}" for i in range(60)]
    codes = {}
    sent: Counter[tuple[str, str, str]] = Counter()
    for a in articles:
        await put_article(client, a)
        share = await (await client.post(f"/v1/articles/{a}/shares", json={"network": "x"})).json()
        codes[a] = share["code"]
        sent[(a, "share", "x")] += 1
    stop = asyncio.Event()
    workers = [asyncio.create_task(_ingest(client, articles, codes, stop, sent, w)) for w in range(4)]
    rng = random.Random(1234)
    outcomes: Counter[str] = Counter()
    batches = client.app[K.FLUSHER].batches
    port = _free_port()
    try:
        for round_ in range(KILLS):
            cli = round_ % 5 == 4  # mostly a service flushing every 10 ms, sometimes the one-shot CLI
            proc = await _start_flusher(settings, port, cli)
            try:
                await asyncio.wait_for(proc.wait(), rng.uniform(0.05, 0.6) if not cli else rng.uniform(0.1, 0.6))
                outcomes["finished"] += 1
            except TimeoutError:
                try:
                    proc.send_signal(signal.SIGKILL)
                except ProcessLookupError:  # it exited on its own just as the timeout fired
                    outcomes["finished"] += 1
                    continue
                await proc.wait()
                outcomes["killed"] += 1
                if (await batches.pending_count())[0]:
                    outcomes["killed mid-flush (batch left pending)"] += 1
    finally:
        stop.set()
        await asyncio.gather(*workers)
    report = await client.app[K.FLUSHER].flush_once()  # quiesced: one clean flush
    durable = await durable_totals(settings)
    store = "SQLite" if settings.database_url is None else "PostgreSQL"
    print(f"\nkill -9 flushers: {dict(outcomes)}; events with 2xx: {sum(sent.values())}; "
          f"in {store}: {sum(durable.values())}; final flush moved {report.events} events, "
          f"skipped {report.skipped} batch(es) already applied")
    assert outcomes["killed"] >= 30
    assert outcomes["killed mid-flush (batch left pending)"] >= 1
    assert durable == sent
    assert await batches.pending_count() == (0, 0)
