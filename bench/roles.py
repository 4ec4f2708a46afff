"""Roles: worker-lease hand-over after kill -9, and how fast a write on one api replica is seen on another.

    .venv/bin/python bench/roles.py --rounds 5 --writes 40

Starts a private redis-server, two `serve --role api` processes and two `serve --role worker`
processes on one DATA_DIR. Hand-over: kills the lease holder with SIGKILL, times until the standby
says it holds the lease (/readyz), starts a new standby; `--rounds` times. Freshness: PUTs articles on
replica A that belong in an anchor article's related list and times until replica B lists them (B's
answer is cached beforehand), then unpublishes and times until B answers 410. Prints p50/p99/max.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from beacon import ROOT, start, stop, wait_ready  # bench/ is on sys.path when this runs as a script
from related_latency import start_redis

TOKEN = "bench"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Fleet:
    """The serve processes of one run."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory = directory
        self.env = env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    async def start(self, role: str) -> str:
        port = _port()
        base = f"http://127.0.0.1:{port}"
        log = self.directory / f"{role}-{len(self.procs)}.log"
        argv = [sys.executable, "-m", "service", "serve", "--role", role, "--port", str(port)]
        self.procs[base] = start(argv, self.env, log)
        await wait_ready(f"{base}/healthz", self.procs[base], str(log))
        return base

    def stop_all(self) -> None:
        for proc in self.procs.values():
            stop(proc)


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if await check():
            return time.perf_counter() - started
        await asyncio.sleep(0.01)  # polling the processes measured
    raise SystemExit("timed out")


async def readyz(session: aiohttp.ClientSession, base: str) -> dict[str, object]:
    async with session.get(f"{base}/readyz") as resp:
        body: dict[str, object] = await resp.json()
        return body


async def hand_over(fleet: Fleet, session: aiohttp.ClientSession, workers: list[str], rounds: int) -> list[float]:
    took = []
    for _ in range(rounds):
        holders = [w for w in workers if (await readyz(session, w))["lease"]["this_process"]]  # type: ignore[index]
        if len(holders) != 1:
            await until(lambda: _one_holder(session, workers))
            continue
        holder = holders[0]
        standby = next(w for w in workers if w != holder)
        fleet.procs[holder].send_signal(signal.SIGKILL)
        fleet.procs[holder].wait()
        killed = time.perf_counter()
        await until(functools.partial(_holds, session, standby))
        took.append(time.perf_counter() - killed)
        workers[:] = [standby, await fleet.start("worker")]
    return took


async def _holds(session: aiohttp.ClientSession, base: str) -> bool:
    return bool((await readyz(session, base))["lease"]["this_process"])  # type: ignore[index]


async def _one_holder(session: aiohttp.ClientSession, workers: list[str]) -> bool:
    return sum([await _holds(session, w) for w in workers]) == 1


async def related(session: aiohttp.ClientSession, base: str, article_id: str) -> tuple[int, list[str]]:
    async with session.get(f"{base}/v1/articles/{article_id}/related?limit=20") as resp:
        body = await resp.json()
        return resp.status, [i["article_id"] for i in body.get("related", [])]


def article(i: int, tags: list[str]) -> dict[str, object]:
    return {"url": f"https://t4k3.news/f{i}", "title": f"Fjord {i}", "tags": tags,
            "published_at": f"2026-11-{1 + i % 28:02d}T10:00:00Z"}


async def freshness(session: aiohttp.ClientSession, a: str, b: str, writes: int) -> tuple[list[float], list[float]]:
    seen, gone = [], []
    for i in range(writes):
        anchor, follower = f"anchor{i}", f"follow{i}"
        async with session.put(f"{a}/v1/articles/{anchor}", json=article(i, [f"Fjord {i}", "Boats"]),
                               headers=AUTH) as resp:
            assert resp.status in (200, 201)
        await related(session, b, anchor)  # B caches the anchor's answer
        async with session.put(f"{a}/v1/articles/{follower}", json=article(i + 1, [f"Fjord {i}", "Boats"]),
                               headers=AUTH) as resp:
            assert resp.status in (200, 201)
        put_at = time.perf_counter()
        await until(functools.partial(_lists, session, b, anchor, follower))
        seen.append(time.perf_counter() - put_at)
        async with session.delete(f"{a}/v1/articles/{anchor}", headers=AUTH) as resp:
            assert resp.status == 200
        gone_at = time.perf_counter()
        await until(functools.partial(_gone, session, b, anchor))
        gone.append(time.perf_counter() - gone_at)
    return seen, gone


async def _lists(session: aiohttp.ClientSession, base: str, anchor: str, follower: str) -> bool:
    return follower in (await related(session, base, anchor))[1]


async def _gone(session: aiohttp.ClientSession, base: str, anchor: str) -> bool:
    return (await related(session, base, anchor))[0] == 410


def line(what: str, values: list[float]) -> str:
    ordered = sorted(values)
    p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{what}: n={len(ordered)} p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"


async def run(rounds: int, writes: int) -> None:
    directory = Path(tempfile.mkdtemp(prefix="roles-bench-"))
    redis_proc = start_redis(directory)
    env = dict(os.environ, REDIS_URL=f"unix://{directory / 'redis.sock'}", DATA_DIR=str(directory / "data"),
               ADMIN_TOKEN=TOKEN, LOG_FORMAT="text", LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
    fleet = Fleet(directory, env)
    try:
        async with aiohttp.ClientSession() as session:
            a, b = await fleet.start("api"), await fleet.start("api")
            workers = [await fleet.start("worker"), await fleet.start("worker")]
            await until(lambda: _one_holder(session, workers))
            ttl = os.environ.get("WORKER_LEASE_TTL_S", "4")
            print(line(f"lease hand-over after kill -9 of the holder (TTL {ttl} s)",
                       await hand_over(fleet, session, workers, rounds)))
            seen, gone = await freshness(session, a, b, writes)
            print(line("a PUT on api A in B's cached related answer", seen))
            print(line("an unpublish on api A answered 410 on B", gone))
    finally:
        fleet.stop_all()
        redis_proc.terminate()
        redis_proc.wait(30)
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="kill -9 hand-overs")
    parser.add_argument("--writes", type=int, default=40, help="PUT + unpublish pairs timed across replicas")
    args = parser.parse_args()
    asyncio.run(run(args.rounds, args.writes))


if __name__ == "__main__":
    main()
