"""Load benchmark of the view beacon against a bare aiohttp handler, in one run.

    .venv/bin/python bench/beacon.py [--duration 10] [--connections 64] [--articles 1] [--tool auto|wrk|python]

Starts `python -m service serve` on 127.0.0.1 (no REDIS_URL: its own private redis-server, in a temp
data dir) and a bare aiohttp app answering 204, drives both with the same load, prints requests/s,
p50 and p99 for each and the ratio, then checks that every accepted view was counted.
The load comes from wrk (with a Lua script making unique event ids) when it is on PATH, else from
Python processes running aiohttp clients. `--articles N` spreads the views over N articles (round
robin, so every shard of the ingest gets work); the bare handler has the same route with the id in it.
bench/scaleout.py reuses these pieces for several api replicas and the Redis Cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = "bench-article"
ARTICLE_PATH = f"/v1/articles/{ARTICLE}"
VIEWS_PATH = f"{ARTICLE_PATH}/views"
STATS_BATCH = 100  # ids per GET /v1/stats (the API's MAX_STATS_IDS)
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
HEADERS = {"User-Agent": BROWSER_UA, "Content-Type": "text/plain;charset=UTF-8"}


@dataclass
class Result:
    """What one load run measured."""

    name: str
    seconds: float
    answered: int
    ok: int  # 2xx answers
    p50_ms: float
    p99_ms: float
    in_flight_at_stop: int = 0  # wrk only: requests sent whose answers wrk never read

    @property
    def rps(self) -> float:
        return self.answered / self.seconds


def article_ids(n: int) -> list[str]:
    """The articles the load spreads over: the one `ARTICLE`, or `ARTICLE-0` ... `ARTICLE-{n-1}`."""
    return [ARTICLE] if n == 1 else [f"{ARTICLE}-{i}" for i in range(n)]


def views_path(article_id: str) -> str:
    return f"/v1/articles/{article_id}/views"


@dataclass
class Target:
    """Where the load goes: one or more servers (`bases`, connections split evenly), over `articles` articles."""

    bases: list[str]
    articles: int = 1

    @property
    def paths(self) -> list[str]:
        return [views_path(a) for a in article_ids(self.articles)]


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def bare_app() -> web.Application:
    """The floor: an aiohttp handler that answers 204 and does nothing else."""

    async def beacon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/v1/articles/{article_id}/views", beacon)  # a dynamic route, as the service's
    return app


def start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def wait_ready(url: str, proc: subprocess.Popen[bytes], log: str, seconds: float = 60) -> None:
    """Poll `url` until the server answers; on failure exit with the server's log file."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"server exited, see {log}")
            try:
                async with session.get(url) as resp:
                    if resp.status in (200, 204, 404, 405):
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)  # polling until the server answers
    raise SystemExit(f"server not ready, see {log}")


async def create_articles(base: str, token: str, n: int = 1, parallel: int = 8) -> None:
    """PUT the `n` bench articles (one by one, `parallel` at a time: each PUT builds its related list)."""
    auth = {"Authorization": f"Bearer {token}"}
    ids = article_ids(n)

    async def put(session: aiohttp.ClientSession, article_id: str) -> None:
        suffix = "" if article_id == ARTICLE else "/" + article_id
        body = {"url": f"https://t4k3.news/bench{suffix}", "title": f"Bench {article_id}", "tags": [],
                "published_at": "2026-11-20T10:00:00Z"}
        for _attempt in range(10):  # a 503 (storage busy on a loaded machine) says retry: it recorded nothing
            async with session.put(f"{base}/v1/articles/{article_id}", json=body, headers=auth) as r:
                if r.status in (200, 201):
                    return
                answer = f"{r.status} {await r.text()}"
                if r.status != 503:
                    break
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))  # as the answer asks
        raise SystemExit(f"could not create the article {article_id}: {answer}")

    async def lane(session: aiohttp.ClientSession, start: int) -> None:
        for article_id in ids[start::parallel]:
            await put(session, article_id)

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(lane(session, i) for i in range(parallel)))


async def views_counted(base: str, n: int = 1) -> int:
    """Views plus repeat views over the `n` bench articles (one load client: one visitor, so every view of an
    article after its first in VIEW_PER_VISITOR_S is a repeat), from the API's stats."""
    ids = article_ids(n)
    count = 0
    async with aiohttp.ClientSession() as session:
        for i in range(0, len(ids), STATS_BATCH):
            async with session.get(f"{base}/v1/stats", params={"ids": ",".join(ids[i:i + STATS_BATCH])}) as resp:
                if resp.status != 200:
                    raise SystemExit(f"stats: {resp.status} {await resp.text()}")
                found = (await resp.json())["articles"]
            missing = set(ids[i:i + STATS_BATCH]) - set(found)
            if missing:
                raise SystemExit(f"stats: no article {sorted(missing)[0]!r}")
            count += sum(s["views"] + s.get("repeat_views", 0) for s in found.values())
    return count


async def settled(base: str, articles: int, at_least: int, seconds: float = 5) -> int:
    """The API's count once it reaches `at_least` (every request wrk cut off was counted too), or what it is
    after `seconds` (some were not: the check is a range then)."""
    deadline = time.monotonic() + seconds
    while (n := await views_counted(base, articles)) < at_least and time.monotonic() < deadline:
        await asyncio.sleep(0.05)  # polling the counts
    return n


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- python load generator


async def _connection_loop(session: aiohttp.ClientSession, urls: list[str], first: int, prefix: str, end: float,
                           out: list[Any]) -> None:
    n = 0
    while time.monotonic() < end:
        url = urls[(first + n) % len(urls)]
        n += 1
        body = f'{{"event_id":"{prefix}-{n}"}}'
        started = time.perf_counter()
        async with session.post(url, data=body, headers=HEADERS) as resp:
            await resp.read()
        out.append((time.perf_counter() - started, resp.status))


async def python_worker(base: str, articles: int, connections: int, duration: float, prefix: str) -> dict[str, Any]:
    """One process: `connections` keep-alive connections to `base`, each sending back to back until the deadline,
    going round the `articles` articles."""
    samples: list[Any] = []
    urls = [base + p for p in Target([base], articles).paths]
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        end = started + duration
        loops = [_connection_loop(session, urls, i * 7, f"{prefix}-{i}", end, samples) for i in range(connections)]
        await asyncio.gather(*loops)
        seconds = time.monotonic() - started
    latencies = sorted(s[0] for s in samples)
    ok = sum(1 for s in samples if 200 <= s[1] < 300)
    return {"seconds": seconds, "answered": len(samples), "ok": ok, "latencies": latencies}


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run_python(name: str, target: Target, connections: int, duration: float, procs: int, log: Path) -> Result:
    """`procs` load processes, `connections` split evenly over them; process i loads server i % len(bases)."""
    run = secrets.token_hex(4)
    procs = max(procs, len(target.bases))
    per = max(1, connections // procs)
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "load", target.bases[i % len(target.bases)], str(target.articles), str(per),
             str(duration), f"{name}-{run}-{i}"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=log.open("ab"),
        )
        for i in range(procs)
    ]
    parts = [json.loads(w.communicate()[0]) for w in workers]
    latencies = sorted(x for p in parts for x in p["latencies"])
    return Result(
        name=name,
        seconds=max(p["seconds"] for p in parts),
        answered=sum(p["answered"] for p in parts),
        ok=sum(p["ok"] for p in parts),
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
    )


# ---------------------------------------------------------------- wrk

# Thread i connects to port __PORTS__[i % #ports + 1] (every thread to the URL's when the list is empty) and
# goes round __PATHS__, starting at a different article per thread.
WRK_LUA = r"""
local counter = 0
local threads = {}
local ports = {__PORTS__}
local paths = {__PATHS__}
function setup(thread)
  thread:set("tid", counter)
  if #ports > 0 then
    thread.addr = wrk.lookup("127.0.0.1", tostring(ports[counter % #ports + 1]))[1]
  end
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  sent = 0
  ok = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/plain;charset=UTF-8"
  wrk.headers["User-Agent"] = "__UA__"
end
function request()
  sent = sent + 1
  local path = paths[(sent + tid * 7) % #paths + 1]
  return wrk.format(nil, path, nil, string.format('{"event_id":"__RUN__-%d-%d"}', tid, sent))
end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok = ok + 1 end
end
function done(summary, latency, requests)
  local s, o = 0, 0
  for _, t in ipairs(threads) do
    s = s + t:get("sent")
    o = o + t:get("ok")
  end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %.1f %.1f %d\n", summary.requests, s, o, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout))
end
"""


def run_wrk(name: str, target: Target, connections: int, duration: float, threads: int, tmp: Path) -> Result:
    """One wrk process; with several servers, one thread or more per server (connections split evenly)."""
    threads = max(threads, len(target.bases))
    if threads % len(target.bases):
        raise SystemExit(f"--threads {threads} does not split evenly over {len(target.bases)} servers")
    if connections % threads:
        raise SystemExit(f"{connections} connections do not split evenly over {threads} wrk threads")
    ports = [str(urlsplit(b).port) for b in target.bases] if len(target.bases) > 1 else []
    script = tmp / f"{name}.lua"
    script.write_text(
        WRK_LUA.replace("__UA__", BROWSER_UA).replace("__RUN__", f"{name}-{secrets.token_hex(4)}")
        .replace("__PORTS__", ",".join(ports)).replace("__PATHS__", ",".join(f'"{p}"' for p in target.paths))
    )
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
            "-s", str(script), target.bases[0] + target.paths[0]]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    answered, sent, ok, micros, p50, p99, socket_errors = line.split()[1:]
    if int(socket_errors):
        print(f"  ({name}: wrk counted {socket_errors} socket errors)", file=sys.stderr)
    return Result(
        name=name,
        seconds=int(micros) / 1e6,
        answered=int(answered),
        ok=int(ok),
        p50_ms=float(p50) / 1000,
        p99_ms=float(p99) / 1000,
        in_flight_at_stop=max(0, int(sent) - int(answered)),
    )


# ---------------------------------------------------------------- the run


@dataclass
class Options:
    duration: float
    connections: int
    tool: str
    procs: int
    threads: int
    articles: int = 1


def load(opts: Options, name: str, target: Target, tmp: Path) -> Result:
    if opts.tool == "wrk":
        return run_wrk(name, target, opts.connections, opts.duration, opts.threads, tmp)
    return run_python(name, target, opts.connections, opts.duration, opts.procs, tmp / "load.log")


def report(bare: Result, beacon: Result, opts: Options) -> None:
    print(f"tool={opts.tool} connections={opts.connections} duration={opts.duration:.0f}s articles={opts.articles} "
          f"cpus={os.cpu_count()}")
    print(f"{'':14}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}{'answered':>10}{'2xx':>10}")
    for r in (bare, beacon):
        print(f"{r.name:14}{r.rps:12.0f}{r.p50_ms:10.2f}{r.p99_ms:10.2f}{r.answered:10d}{r.ok:10d}")
    ratio = beacon.rps / bare.rps
    print(f"ratio beacon/bare: {ratio:.2f} (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")


def check_counted(beacon: Result, counted: int) -> bool:
    """Every 2xx view was counted; with wrk, requests cut off at the deadline may have been counted too."""
    if beacon.in_flight_at_stop == 0:
        good = counted == beacon.ok
        print(f"views counted: {counted}, 2xx answers: {beacon.ok} -> {'exact' if good else 'MISMATCH'}")
        return good
    good = beacon.ok <= counted <= beacon.ok + beacon.in_flight_at_stop
    print(f"views counted: {counted}, 2xx answers: {beacon.ok}, unanswered when wrk stopped: "
          f"{beacon.in_flight_at_stop} -> {'consistent' if good else 'MISMATCH'}")
    return good


def service_env(data_dir: Path, token: str) -> dict[str, str]:
    """The environment of the serve processes: this checkout's code (PYTHONPATH), no rate limit reached."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    path = os.environ.get("PYTHONPATH")
    env.update(DATA_DIR=str(data_dir), ADMIN_TOKEN=token, LOG_LEVEL="WARNING",
               PYTHONPATH=str(ROOT) + (os.pathsep + path if path else ""))
    env.setdefault("WRITE_RATE_PER_VISITOR_MIN", str(10**12))  # the limit is checked per view, never reached
    return env


async def servers(tmp: Path, token: str, articles: int) -> tuple[subprocess.Popen[bytes], str,
                                                                  subprocess.Popen[bytes], str]:
    env = service_env(tmp / "data", token)
    service_port, bare_port = free_port(), free_port()
    service = start([sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(service_port)],
                    env, tmp / "service.log")
    bare = start([sys.executable, __file__, "bare", str(bare_port)], env, tmp / "bare.log")
    service_base, bare_base = f"http://127.0.0.1:{service_port}", f"http://127.0.0.1:{bare_port}"
    try:
        await wait_ready(f"{service_base}/readyz", service, str(tmp / "service.log"))
        await wait_ready(f"{bare_base}/", bare, str(tmp / "bare.log"))
        await create_articles(service_base, token, articles)
    except BaseException:  # the caller gets no process to stop
        stop(service)
        stop(bare)
        raise
    return service, service_base, bare, bare_base


def main_run(opts: Options) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="beacon-bench-"))
    service = bare = None
    try:
        service, service_base, bare, bare_base = asyncio.run(servers(tmp, secrets.token_urlsafe(16), opts.articles))
        warm = Options(1, opts.connections, opts.tool, opts.procs, opts.threads, opts.articles)
        load(warm, "warmup-bare", Target([bare_base], opts.articles), tmp)
        warmed = load(warm, "warmup-beacon", Target([service_base], opts.articles), tmp)
        before = asyncio.run(settled(service_base, opts.articles, warmed.ok + warmed.in_flight_at_stop))
        bare_result = load(opts, "bare-204", Target([bare_base], opts.articles), tmp)
        beacon_result = load(opts, "beacon", Target([service_base], opts.articles), tmp)
        at_least = before + beacon_result.ok + beacon_result.in_flight_at_stop
        counted = asyncio.run(settled(service_base, opts.articles, at_least)) - before
        report(bare_result, beacon_result, opts)
        ok = check_counted(beacon_result, counted)
        return 0 if ok else 1
    finally:
        for proc in (service, bare):
            if proc is not None:
                stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["bare"]:
        web.run_app(bare_app(), host="127.0.0.1", port=int(args[1]), access_log=None, print=lambda *a: None)
        return 0
    if args[:1] == ["load"]:
        base, articles, connections, duration, prefix = args[1], int(args[2]), int(args[3]), float(args[4]), args[5]
        print(json.dumps(asyncio.run(python_worker(base, articles, connections, duration, prefix))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per target")
    parser.add_argument("--connections", type=int, default=64, help="concurrent keep-alive connections")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--procs", type=int, default=2, help="python tool: load generator processes")
    parser.add_argument("--threads", type=int, default=1, help="wrk tool: threads")
    parser.add_argument("--articles", type=int, default=1, help="articles the views are spread over (round robin)")
    ns = parser.parse_args(args)
    if ns.articles < 1:
        parser.error("--articles must be at least 1")
    tool = ns.tool if ns.tool != "auto" else ("wrk" if shutil.which("wrk") else "python")
    return main_run(Options(ns.duration, ns.connections, tool, ns.procs, ns.threads, ns.articles))


if __name__ == "__main__":
    sys.exit(main())
