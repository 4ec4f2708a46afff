"""The embedded default: a private redis-server with AOF on a unix socket, and `python -m service serve`."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.storage.embedded import EmbeddedRedis
from tests.conftest import BROWSER_UA

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "serve-test-token"
PROBE_IP = "198.51.100.42"
PROBE_UA = "Mozilla/5.0 (X11; Linux x86_64) EmbeddedProbe/4.2 Chrome/126.0 Safari/537.36"


async def _client(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, protocol=2)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path / "redis")
    yield server
    await server.stop()


async def test_starts_with_aof_on_a_unix_socket(embedded: EmbeddedRedis) -> None:
    url = await embedded.start()
    assert url == f"unix://{embedded.directory / 'redis.sock'}"
    assert embedded.socket.is_socket()
    r = await _client(url)
    try:
        config = {_text(k): _text(v) for k, v in (await r.config_get("*")).items()}
        assert config["appendonly"] == "yes"
        assert config["appendfsync"] == "everysec"
        assert config["maxmemory-policy"] == "noeviction"
        assert config["port"] == "0"
        assert config["dir"] == str(embedded.directory)
        assert config["unixsocket"] == str(embedded.socket)
    finally:
        await r.aclose()
    assert embedded.process is not None
    assert (embedded.directory / "redis.pid").read_text().strip() == str(embedded.process.pid)


async def test_restart_on_the_same_dir_keeps_data(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "redis")
    r = await _client(await first.start())
    await r.set("kept", "yes")
    await r.aclose()
    await first.stop()
    assert first.process is None
    second = EmbeddedRedis(tmp_path / "redis")
    try:
        r = await _client(await second.start())
        assert await r.get("kept") == b"yes"
        await r.aclose()
    finally:
        await second.stop()


async def test_stale_socket_and_pid_from_a_killed_run(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "redis")
    r = await _client(await first.start())
    await r.set("acknowledged", "before-the-kill")
    await r.aclose()
    assert first.process is not None
    first.process.kill()  # SIGKILL: no chance to remove its socket or pid file
    await asyncio.to_thread(first.process.wait, 10)
    assert first.socket.exists() and (first.directory / "redis.pid").exists()
    second = EmbeddedRedis(tmp_path / "redis")
    try:
        r = await _client(await second.start())
        assert await r.get("acknowledged") == b"before-the-kill"
        await r.aclose()
        assert second.process is not None and second.process.poll() is None
    finally:
        await second.stop()


async def test_garbage_socket_and_pid_files(tmp_path: Path) -> None:
    directory = tmp_path / "redis"
    directory.mkdir()
    (directory / "redis.sock").write_text("not a socket")
    (directory / "redis.pid").write_text(str(os.getpid()))
    server = EmbeddedRedis(directory)
    try:
        r = await _client(await server.start())
        assert await r.ping()
        await r.aclose()
    finally:
        await server.stop()


async def test_a_live_server_is_adopted_not_killed(embedded: EmbeddedRedis) -> None:
    url = await embedded.start()
    adopter = EmbeddedRedis(embedded.directory)
    assert await adopter.start() == url
    assert adopter.process is None
    await adopter.stop()
    r = await _client(url)
    assert await r.ping()
    await r.aclose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Served:
    """`python -m service serve` in a subprocess on a data dir, without REDIS_URL."""

    def __init__(self, data_dir: Path, logs: Path, *args: str, **extra_env: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env.update(DATA_DIR=str(data_dir), ADMIN_TOKEN=TOKEN, TRUSTED_PROXIES="127.0.0.1/32", LOG_FORMAT="json")
        env.update(extra_env)
        self.logs = logs
        with logs.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )

    async def ready(self, session: aiohttp.ClientSession, seconds: float = 60) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            assert self.proc.poll() is None, self.logs.read_text()
            try:
                async with session.get(f"{self.base}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)  # polling until the service answers
        raise AssertionError(f"not ready: {self.logs.read_text()}")

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return await asyncio.to_thread(self.proc.wait, 60)


async def _gone(pid: int, seconds: float = 20) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        await asyncio.sleep(0.05)  # polling until the process has exited
    return False


async def _drive(session: aiohttp.ClientSession, base: str) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    article = {"url": "https://t4k3.news/e1", "title": "E1", "tags": ["Russia"], "published_at": "2026-11-20T10:00:00Z"}
    async with session.put(f"{base}/v1/articles/e1", json=article, headers=auth) as resp:
        assert resp.status == 201
    person = {"User-Agent": PROBE_UA, "X-Forwarded-For": PROBE_IP}
    async with session.post(f"{base}/v1/articles/e1/views", data='{"event_id":"evt-serve-01"}', headers=person) as resp:
        assert resp.status == 202
    async with session.post(f"{base}/v1/articles/e1/shares", json={"network": "bluesky"}) as resp:
        code = (await resp.json())["code"]
    async with session.get(f"{base}/s/{code}", allow_redirects=False, headers=person) as resp:
        assert resp.status == 302


async def _stats(session: aiohttp.ClientSession, base: str, article_id: str) -> Any:
    async with session.get(f"{base}/v1/articles/{article_id}/stats") as resp:
        assert resp.status == 200
        return await resp.json()


def _durable_totals(path: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT metric, network, n FROM counter_totals WHERE article_id = 'e1'")
        return {(m, n): c for m, n, c in rows}


async def test_serve_embedded_ready_and_sigterm_stops_both(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "serve.log"
    served = Served(data, logs)
    try:
        async with aiohttp.ClientSession(headers={"User-Agent": BROWSER_UA}) as session:
            await served.ready(session)
            redis_pid = int((data / "redis" / "redis.pid").read_text())
            os.kill(redis_pid, 0)
            await _drive(session, served.base)
            stats = await _stats(session, served.base, "e1")
            assert (stats["views"], stats["clicks"]["total"], stats["unique_visitors"]) == (1, 1, 1)
        assert await served.stop() == 0
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
    assert await _gone(redis_pid), "embedded redis outlived the service"
    assert _durable_totals(data / "engagement.sqlite3")[("view", "")] == 1, "the final flush on SIGTERM"
    assert (data / "redis" / "appendonly.aof").stat().st_size > 0
    for path in [logs, *data.rglob("*")]:
        if path.is_file():
            raw = path.read_bytes()
            for secret in (PROBE_IP, PROBE_UA, "EmbeddedProbe"):
                assert secret.encode() not in raw, f"{secret} found in {path}"


async def test_killed_service_starts_again_on_the_same_dir(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "serve.log"
    first = Served(data, logs, "--demo")
    second: Served | None = None
    try:
        async with aiohttp.ClientSession(headers={"User-Agent": BROWSER_UA}) as session:
            await first.ready(session)
            await _drive(session, first.base)
            assert await first.stop(signal.SIGKILL) == -signal.SIGKILL
            second = Served(data, logs, "--demo")
            await second.ready(session)
            stats = await _stats(session, second.base, "e1")
            assert (stats["views"], stats["shares"]["total"], stats["clicks"]["total"]) == (1, 1, 1)
            demo = await _stats(session, second.base, "nk-workers-russia")
            assert demo["views"] == 0
            assert await second.stop() == 0
    finally:
        for served in (first, second):
            if served is not None and served.proc.poll() is None:
                served.proc.kill()


async def test_relative_data_dir_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`DATA_DIR=./data` (the default) must work: redis-server runs inside the directory."""
    monkeypatch.chdir(tmp_path)
    embedded = EmbeddedRedis(Path("data") / "redis")
    url = await embedded.start()
    try:
        client = aioredis.Redis.from_url(url)
        assert await client.ping()
        await client.aclose()
        assert (tmp_path / "data" / "redis" / "redis.sock").exists()
    finally:
        await embedded.stop()


class Beacons:
    """View beacons with distinct event ids (and visitors), each retried with the same id until a 2xx."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.url = f"{base}/v1/articles/e1/views"
        self.acked: set[str] = set()
        self.failed_attempts = 0
        self.last_ack = 0.0
        self.next = 0

    async def one(self, deadline: float) -> None:
        n, self.next = self.next, self.next + 1
        event_id = f"evt-supervised-{n:06d}"
        headers = {"User-Agent": PROBE_UA, "X-Forwarded-For": f"198.18.{n // 250}.{n % 250 + 1}"}
        loop = asyncio.get_running_loop()
        while loop.time() < deadline:
            try:
                async with self.session.post(self.url, data=f'{{"event_id":"{event_id}"}}', headers=headers) as resp:
                    if resp.status == 202:
                        self.acked.add(event_id)
                        self.last_ack = loop.time()
                        return
                    assert resp.status == 503, await resp.text()
                    assert resp.headers["Retry-After"]
            except (aiohttp.ClientError, TimeoutError):
                pass
            self.failed_attempts += 1
            await asyncio.sleep(0.05)  # the client's retry pace (a browser would honour Retry-After)
        raise AssertionError(f"{event_id} never acknowledged")

    async def stream(self, until: asyncio.Event, deadline: float) -> None:
        while not until.is_set():
            await self.one(deadline)


async def _ready_now(session: aiohttp.ClientSession, base: str) -> bool:
    async with session.get(f"{base}/readyz") as resp:
        return resp.status == 200


def _lines(logs: Path, needle: str) -> int:
    return sum(1 for line in logs.read_text(errors="replace").splitlines() if needle in line)


async def test_killed_embedded_redis_is_restarted_under_load_and_counts_stay_exact(tmp_path: Path) -> None:
    """kill -9 of the private redis-server: reaped, restarted on its AOF, no acknowledged view lost.

    appendfsync=always for this test: with the default everysec a kill -9 keeps what Redis wrote
    (the page cache survives the process), but Redis may postpone a write while an fsync is slow,
    which could lose up to ~2 s of acknowledged events; `always` never postpones, so counts are exact.
    """
    data, logs = tmp_path / "data", tmp_path / "serve.log"
    served = Served(data, logs, EMBEDDED_REDIS_APPENDFSYNC="always", FLUSH_INTERVAL_S="1")
    try:
        async with aiohttp.ClientSession(headers={"User-Agent": BROWSER_UA}) as session:
            await served.ready(session)
            await _drive(session, served.base)  # e1 exists, one view (evt-serve-01) counted
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 60
            beacons, stop = Beacons(session, served.base), asyncio.Event()
            workers = [asyncio.create_task(beacons.stream(stop, deadline)) for _ in range(8)]
            while len(beacons.acked) < 200:
                assert loop.time() < deadline
                await asyncio.sleep(0.02)  # polling until some load has been acknowledged
            old_pid = int((data / "redis" / "redis.pid").read_text())
            os.kill(old_pid, signal.SIGKILL)
            killed_at = loop.time()
            assert await _gone(old_pid), "the killed redis-server was not reaped (a zombie)"
            while not await _ready_now(session, served.base):
                assert loop.time() < deadline, "the service did not recover"
                await asyncio.sleep(0.05)  # polling readiness until the restarted server answers
            recovered_in = loop.time() - killed_at
            acked_at_recovery = len(beacons.acked)
            while len(beacons.acked) < acked_at_recovery + 200:
                assert loop.time() < deadline, "the load is not acknowledged again"
                await asyncio.sleep(0.02)  # polling until more load has been acknowledged
            stop.set()
            await asyncio.gather(*workers)
            new_pid = int((data / "redis" / "redis.pid").read_text())
            assert new_pid != old_pid
            stats = await _stats(session, served.base, "e1")
            assert stats["views"] == len(beacons.acked) + 1, "every acknowledged view counted exactly once"
            assert recovered_in < 15, f"recovery took {recovered_in:.1f} s"
        assert await served.stop() == 0
    finally:
        if served.proc.poll() is None:
            served.proc.kill()
    assert _lines(logs, "embedded redis exited") == 1, "one line when the outage began"
    assert _lines(logs, "embedded redis is back") == 1, "one line when it ended"
    assert _lines(logs, "flush failing") <= 1
    assert _durable_totals(data / "engagement.sqlite3")[("view", "")] == len(beacons.acked) + 1
