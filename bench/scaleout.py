"""Scale-out: the view beacon on 1 and 2 api replicas on one Redis, and on a 3-master Redis Cluster, in one run.

    PYTHONPATH=$PWD .venv/bin/python bench/scaleout.py [--duration 10] [--connections 64] [--articles 500]
        [--rounds 1] [--tool auto|wrk|python] [--configs abc]

Configurations, each on a fresh Redis and DATA_DIR (SQLite), one after another in this process:
  a) 1 api replica + 1 worker on one redis-server,
  b) 2 api replicas + 1 worker on one redis-server (the connections split evenly over the replicas),
  c) 2 api replicas + 1 worker on a 3-master Redis Cluster (tests/cluster.py LocalCluster).
The single redis-server and the cluster nodes run alike (TCP on 127.0.0.1, no persistence). Every
configuration gets the same load (duration, connections, wrk threads or Python load processes), spread
round robin over `--articles` articles so every shard (and cluster master) gets work; the worker flushes
as usual meanwhile. After the load the worker flushes (GET /v1/export/articles.csv flushes first), and
the views counted are read twice: from the API's stats (Redis totals) and from the durable store
(SQLite `counter_totals`); both must equal the 2xx answers (with wrk, requests it cut off at the deadline
may be counted as well: then 2xx <= counted <= 2xx + cut off). MISMATCH exits 1. `--rounds` repeats the
configurations, alternating their order, since the machine is shared. Prints a table at the end, with
the CPU seconds per second the serve processes and Redis used during the load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import redis as redis_sync
from beacon import (  # bench/ is on sys.path when this runs as a script
    ARTICLE,
    ROOT,
    Options,
    Result,
    Target,
    create_articles,
    free_port,
    load,
    service_env,
    settled,
    start,
    stop,
    wait_ready,
)

from service.storage.embedded import find_redis_server
from tests.cluster import LocalCluster

WRK_THREADS = 2  # every configuration: one wrk thread per replica of the two-replica ones
LOAD_PROCS = 2  # the same for the Python load generator


@dataclass(frozen=True)
class Config:
    key: str
    label: str
    replicas: int
    cluster: bool


CONFIGS = [
    Config("a", "1 api + worker, one redis", 1, False),
    Config("b", "2 api + worker, one redis", 2, False),
    Config("c", "2 api + worker, 3-master cluster", 2, True),
]


@dataclass
class Outcome:
    config: Config
    round: int
    result: Result
    counted_api: int
    counted_durable: int
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per second of load, by process group
    script_calls: int = 0  # EVALSHA/EVAL calls Redis (every node) served during the load

    @property
    def views_per_call(self) -> float:
        return self.result.answered / self.script_calls if self.script_calls else float("nan")

    @property
    def ok(self) -> bool:
        high = self.result.ok + self.result.in_flight_at_stop
        return all(self.result.ok <= n <= high for n in (self.counted_api, self.counted_durable))

    @property
    def verdict(self) -> str:
        if not self.ok:
            return "MISMATCH"
        if self.counted_api == self.counted_durable == self.result.ok:
            return "OK"
        return (f"OK (+{self.counted_api - self.result.ok}/+{self.counted_durable - self.result.ok} of "
                f"{self.result.in_flight_at_stop} cut off)")


# ---------------------------------------------------------------- Redis


class SingleRedis:
    """One redis-server on TCP 127.0.0.1, configured as the cluster nodes are (no persistence, noeviction)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> SingleRedis:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.procs.append(subprocess.Popen(
            [find_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))
        return self  # the serve processes wait for it (readiness pings Redis)

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)
        self.procs.clear()


# ---------------------------------------------------------------- measuring


def script_calls(urls: list[str]) -> int:
    """EVALSHA + EVAL calls served so far, summed over these Redis nodes (INFO commandstats)."""
    total = 0
    for url in urls:
        client = redis_sync.Redis.from_url(url)
        try:
            stats = client.info("commandstats")
        finally:
            client.close()
        total += sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))
    return total


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5), after pid and comm
    return total / ticks


async def until(check: Callable[[], Awaitable[bool]], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)  # polling the processes
    raise SystemExit(f"timed out waiting for {what}")


async def holds_lease(base: str) -> bool:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/readyz") as resp:
        body = await resp.json()
        return bool(resp.status == 200 and body.get("lease", {}).get("this_process"))


async def flush(worker: str, token: str) -> None:
    """Have the worker flush everything counted so far (the CSV export flushes before it answers)."""
    auth = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session, session.get(f"{worker}/v1/export/articles.csv",
                                                               headers=auth) as resp:
        await resp.read()
        if resp.status != 200:
            raise SystemExit(f"flush (CSV export) answered {resp.status}")


def durable_views(data_dir: Path) -> int:
    """Views plus repeat views of the bench articles in the durable store's running totals."""
    db = sqlite3.connect(f"file:{data_dir / 'engagement.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        row = db.execute(
            "SELECT COALESCE(SUM(n), 0) FROM counter_totals WHERE metric IN ('view', 'repeat_view')"
            " AND article_id LIKE ?", (f"{ARTICLE}%",),
        ).fetchone()
        return int(row[0])
    finally:
        db.close()


async def counts(worker: str, api: str, token: str, data_dir: Path, articles: int, at_least: int) -> tuple[int, int]:
    """Views counted, from the API (Redis totals) and then, after a flush, from the durable store."""
    n = await settled(api, articles, at_least)
    await flush(worker, token)
    return n, durable_views(data_dir)


# ---------------------------------------------------------------- one configuration


async def _start_fleet(tmp: Path, config: Config, redis_url: str, token: str,
                       procs: dict[str, subprocess.Popen[bytes]]) -> tuple[str, list[str]]:
    env = service_env(tmp / "data", token)
    env.update(REDIS_URL=redis_url, LOG_FORMAT="text")
    bases: dict[str, str] = {}
    for name in ["worker"] + [f"api{i}" for i in range(config.replicas)]:
        port = free_port()
        role = "worker" if name == "worker" else "api"
        argv = [sys.executable, "-m", "service", "serve", "--role", role, "--host", "127.0.0.1", "--port", str(port)]
        procs[name] = start(argv, env, tmp / f"{name}.log")
        bases[name] = f"http://127.0.0.1:{port}"
        if name == "worker":  # it creates the schema; the replicas start after it
            await wait_ready(f"{bases[name]}/readyz", procs[name], str(tmp / f"{name}.log"))
    for name, base in bases.items():
        await wait_ready(f"{base}/readyz", procs[name], str(tmp / f"{name}.log"))
    await until(lambda: holds_lease(bases["worker"]), "the worker lease")
    return bases["worker"], [bases[f"api{i}"] for i in range(config.replicas)]


def run_config(config: Config, round_no: int, opts: Options) -> Outcome:
    tmp = Path(tempfile.mkdtemp(prefix=f"scaleout-{config.key}-"))
    token = secrets.token_urlsafe(16)
    redis: SingleRedis | LocalCluster = LocalCluster(tmp / "cluster") if config.cluster else SingleRedis(tmp / "redis")
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        redis.start()
        worker, apis = asyncio.run(_start_fleet(tmp, config, redis.url, token, procs))
        asyncio.run(create_articles(apis[0], token, opts.articles))
        target = Target(apis, opts.articles)
        warm = Options(1, opts.connections, opts.tool, opts.procs, opts.threads, opts.articles)
        warmed = load(warm, f"warmup-{config.key}", target, tmp)
        before_api, before_durable = asyncio.run(
            counts(worker, apis[0], token, tmp / "data", opts.articles, warmed.ok + warmed.in_flight_at_stop))
        groups = {"api": [procs[n].pid for n in procs if n.startswith("api")], "worker": [procs["worker"].pid],
                  "redis": [p.pid for p in redis.procs]}
        nodes = redis.urls if isinstance(redis, LocalCluster) else [redis.url]
        cpu_before, calls_before = {g: cpu_seconds(pids) for g, pids in groups.items()}, script_calls(nodes)
        result = load(opts, f"scale-{config.key}", target, tmp)
        cpu = {g: (cpu_seconds(pids) - cpu_before[g]) / result.seconds for g, pids in groups.items()}
        calls = script_calls(nodes) - calls_before
        after_api, after_durable = asyncio.run(counts(worker, apis[-1], token, tmp / "data", opts.articles,
                                                      before_api + result.ok + result.in_flight_at_stop))
        return Outcome(config, round_no, result, after_api - before_api, after_durable - before_durable, cpu, calls)
    finally:
        for proc in procs.values():
            stop(proc)
        redis.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- the run


def print_outcome(o: Outcome) -> None:
    r = o.result
    print(f"  round {o.round} {o.config.key}) {o.config.label}: {r.rps:.0f} req/s, p50 {r.p50_ms:.2f} ms, "
          f"p99 {r.p99_ms:.2f} ms, 2xx {r.ok}, counted api {o.counted_api} durable {o.counted_durable} "
          f"-> {o.verdict}", flush=True)


def table(outcomes: list[Outcome], opts: Options) -> None:
    print()
    print(f"tool={opts.tool} connections={opts.connections} duration={opts.duration:.0f}s articles={opts.articles} "
          f"cpus={os.cpu_count()} load average now {os.getloadavg()[0]:.1f}")
    print(f"{'':36}{'round':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'2xx':>9}{'api cnt':>9}{'durable':>9}"
          f"{'cpu api':>8}{'worker':>7}{'redis':>7}{'v/call':>7}  check")
    for o in outcomes:
        r = o.result
        print(f"{o.config.key + ') ' + o.config.label:36}{o.round:6d}{r.rps:9.0f}{r.p50_ms:9.2f}{r.p99_ms:9.2f}"
              f"{r.ok:9d}{o.counted_api:9d}{o.counted_durable:9d}{o.cpu['api']:8.2f}{o.cpu['worker']:7.2f}"
              f"{o.cpu['redis']:7.2f}{o.views_per_call:7.1f}  {o.verdict}")
    mean = {c.key: sum(o.result.rps for o in ran) / len(ran)
            for c in CONFIGS if (ran := [o for o in outcomes if o.config == c])}
    ratios = [f"{x}/{y} {mean[x] / mean[y]:.2f}" for x, y in ("ba", "ca", "cb") if x in mean and y in mean]
    print("mean req/s: " + ", ".join(f"{k}) {v:.0f}" for k, v in mean.items()) + ("; " if ratios else "")
          + ", ".join(ratios))
    print(f"note: {os.cpu_count()} CPUs run the load generator, every serve process and Redis (all of the cluster's "
          "masters) at once; the 'cpu' columns are CPU seconds per second of load. A second replica cannot double "
          "the throughput when the CPUs are already busy: it shows what a second process costs or gains here, "
          "not what it gains on hosts of its own. 'v/call': views answered per Redis script call (EVALSHA/EVAL "
          "on every node, the flush's and the lease's included): the ingest's group commit.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per configuration")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections (all replicas)")
    parser.add_argument("--articles", type=int, default=500, help="articles the views are spread over")
    parser.add_argument("--rounds", type=int, default=1, help="runs of every configuration, order alternating")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--configs", default="abc", help="which configurations (letters), default all three")
    ns = parser.parse_args()
    configs = [c for c in CONFIGS if c.key in ns.configs]
    if not configs:
        parser.error("--configs: give some of a, b, c")
    if ns.articles < 1 or ns.rounds < 1:
        parser.error("--articles and --rounds must be at least 1")
    tool = ns.tool if ns.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    opts = Options(ns.duration, ns.connections, tool, LOAD_PROCS, WRK_THREADS, ns.articles)
    print(f"scale-out of the view beacon: {ns.rounds} round(s), {tool}, {ns.connections} connections, "
          f"{ns.duration:.0f} s each, {ns.articles} articles; code from {ROOT}", flush=True)
    outcomes = []
    for round_no in range(1, ns.rounds + 1):
        for config in configs if round_no % 2 else configs[::-1]:
            outcome = run_config(config, round_no, opts)
            print_outcome(outcome)
            outcomes.append(outcome)
    table(outcomes, opts)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"MISMATCH in {len(failed)} run(s): views counted differ from the 2xx answers")
        return 1
    print("every configuration: views counted (API and durable store) == 2xx answers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
