"""Redis going away, coming back, closing idle connections, and requests cancelled mid-flight."""

from __future__ import annotations

import asyncio
import logging
import random
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.domain.engagement import Requester
from service.domain.networks import NETWORKS
from service.storage import keys
from tests.conftest import BROWSER_UA, put_article, start_redis_server

PERSON = {"User-Agent": BROWSER_UA}


@dataclass
class RedisProcess:
    """A dedicated redis-server this module may kill and restart."""

    directory: Path
    proc: subprocess.Popen[bytes]

    @property
    def socket(self) -> str:
        return str(self.directory / "redis.sock")

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    async def restart(self, *extra: str) -> None:
        self.proc = await asyncio.to_thread(start_redis_server, self.directory, *extra)

    def admin(self) -> redis.Redis:
        return redis.Redis(unix_socket_path=self.socket)


AOF = ("--appendonly", "yes", "--appendfsync", "always")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    directory = tmp_path / "own-redis"
    server = RedisProcess(directory, start_redis_server(directory, *AOF))
    yield server
    if server.proc.poll() is None:
        server.proc.terminate()
        server.proc.wait(10)


@pytest.fixture
def faulty_client(settings: Settings, own_redis: RedisProcess, aiohttp_client: Callable[..., Any]) -> Callable[[], Any]:
    own = settings.model_copy(update={"redis_url": own_redis.url, "redis_socket_timeout_s": 1.0})

    async def make() -> Any:
        return await aiohttp_client(create_app(own, flusher=False))

    return make


async def _stats(client: Any, article_id: str) -> dict[str, Any]:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def _poll_ready(client: Any, seconds: float = 20) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if (await client.get("/readyz")).status == 200:
            return
        await asyncio.sleep(0.05)  # polling readiness until the deadline
    raise AssertionError("service did not become ready again")


async def _view(client: Any, event_id: str) -> Any:
    return await client.post("/v1/articles/f1/views", json={"event_id": event_id}, headers=PERSON)


async def test_outage_answers_503_and_recovers_by_itself(
    faulty_client: Callable[[], Any], own_redis: RedisProcess
) -> None:
    client = await faulty_client()
    await put_article(client, "f1")
    code = (await (await client.post("/v1/articles/f1/shares", json={"network": "x"})).json())["code"]
    assert (await _view(client, "evt-before-01")).status == 202
    assert (await client.get(f"/s/{code}", allow_redirects=False, headers=PERSON)).status == 302
    own_redis.kill()
    for resp in [
        await _view(client, "evt-during-01"),
        await client.post("/v1/articles/f1/views", data="", headers=PERSON),
        await client.post("/v1/articles/f1/shares", json={"network": "x"}),
        await client.get(f"/s/{code}", allow_redirects=False, headers=PERSON),
        await client.get(f"/s/{code}", allow_redirects=False, headers={"User-Agent": "Twitterbot/1.0"}),
    ]:
        assert resp.status == 503, await resp.text()
        assert (await resp.json())["error"]["code"] == "unavailable"
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert (await ready.json())["checks"]["redis"] != "ok"
    assert (await client.get("/healthz")).status == 200
    await own_redis.restart(*AOF)
    await _poll_ready(client)
    assert (await (await _view(client, "evt-during-01")).json())["status"] == "accepted"
    assert (await _view(client, "evt-after-001")).status == 202
    stats = await _stats(client, "f1")
    assert (stats["views"], stats["shares"]["total"], stats["clicks"]["total"], stats["bot_clicks"]) == (3, 1, 1, 0)


async def test_redis_lost_its_data_rebuilds_from_sqlite(
    faulty_client: Callable[[], Any], own_redis: RedisProcess
) -> None:
    client = await faulty_client()
    await put_article(client, "f1")
    code = (await (await client.post("/v1/articles/f1/shares", json={"network": "email"})).json())["code"]
    assert (await _view(client, "evt-lost-0001")).status == 202
    await client.app[K.FLUSHER].flush_once()
    own_redis.kill()
    for path in own_redis.directory.glob("appendonly*"):
        path.unlink()
    await own_redis.restart()
    await _poll_ready(client)
    assert (await _view(client, "evt-lost-0002")).status == 202
    resp = await client.get(f"/s/{code}", allow_redirects=False, headers=PERSON)
    assert resp.status == 302
    assert "utm_source=email" in resp.headers["Location"]
    stats = await _stats(client, "f1")
    assert (stats["views"], stats["shares"]["total"], stats["clicks"]["total"]) == (2, 1, 1)
    await client.app[K.FLUSHER].flush_once()
    assert await _stats(client, "f1") == stats


async def test_client_speaks_resp2(faulty_client: Callable[[], Any]) -> None:
    client = await faulty_client()
    assert client.app[K.REDIS].connection_pool.connection_kwargs["protocol"] == 2


async def _exercise(client: Any, code: str, event_id: str) -> None:
    assert (await _view(client, event_id)).status == 202
    assert (await client.post("/v1/articles/f1/shares", json={"network": "x"})).status == 201
    assert (await client.get(f"/s/{code}", allow_redirects=False, headers=PERSON)).status == 302
    assert (await client.get("/readyz")).status == 200


async def test_server_killing_clients_does_not_break_next_request(
    faulty_client: Callable[[], Any], own_redis: RedisProcess
) -> None:
    client = await faulty_client()
    await put_article(client, "f1")
    code = (await (await client.post("/v1/articles/f1/shares", json={"network": "x"})).json())["code"]
    admin = own_redis.admin()
    try:
        for round_ in range(5):
            killed = admin.execute_command("CLIENT", "KILL", "TYPE", "normal")
            assert int(killed) >= 1
            await _exercise(client, code, f"evt-kill-{round_:04d}")
    finally:
        admin.close()
    stats = await _stats(client, "f1")
    assert (stats["views"], stats["shares"]["total"], stats["clicks"]["total"]) == (5, 6, 5)


async def _burst(client: Any, prefix: str, n: int = 20) -> None:
    """`n` concurrent views: the pool has to hand out (or open) `n` connections."""
    responses = await asyncio.gather(*(_view(client, f"{prefix}-{i:04d}") for i in range(n)))
    assert [r.status for r in responses] == [202] * n


def _others(admin: redis.Redis) -> set[int]:
    me = admin.client_id()
    return {int(c["id"]) for c in admin.client_list()} - {me}


async def test_server_idle_timeout_does_not_break_next_request(
    faulty_client: Callable[[], Any], own_redis: RedisProcess
) -> None:
    client = await faulty_client()
    await put_article(client, "f1")
    code = (await (await client.post("/v1/articles/f1/shares", json={"network": "x"})).json())["code"]
    admin = own_redis.admin()
    try:
        admin.config_set("timeout", 1)
        for round_ in range(2):
            await _burst(client, f"evt-idle-{round_}")
            used = _others(admin)
            assert len(used) >= 1  # concurrent events share script calls (group commit), so few connections
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 15
            while len(used & _others(admin)) > 2 and loop.time() < deadline:
                await asyncio.sleep(0.1)  # polling until the server dropped the idle pooled connections
            assert len(used & _others(admin)) <= 2, "background tasks may keep two busy; the rest must be closed"
        await _burst(client, "evt-idle-last")
        await _exercise(client, code, "evt-idle-single")
    finally:
        admin.close()
    stats = await _stats(client, "f1")
    assert (stats["views"], stats["shares"]["total"], stats["clicks"]["total"]) == (61, 2, 1)


async def _cancel_after(task: asyncio.Task[Any], yields: int) -> None:
    for _ in range(yields):
        await asyncio.sleep(0)
    task.cancel()


async def _cancel_storm(engagement: Any, rng: random.Random, event_ids: list[str]) -> list[tuple[str, Any]]:
    """Start views and shares together, cancel each after 0-7 loop turns; return what finished."""
    who = Requester(ip="192.0.2.10", user_agent=BROWSER_UA, method="POST")
    tasks: list[tuple[str, asyncio.Task[Any]]] = []
    for event_id in event_ids:
        tasks.append(("view", asyncio.create_task(engagement.view("k1", event_id, who))))
        network = rng.choice(NETWORKS)
        tasks.append((network, asyncio.create_task(engagement.share("k1", network, None, who))))
    await asyncio.gather(*(_cancel_after(task, rng.randrange(0, 8)) for _, task in tasks))
    results = await asyncio.gather(*(t for _, t in tasks), return_exceptions=True)
    for result in results:
        assert not isinstance(result, Exception) or isinstance(result, asyncio.CancelledError), repr(result)
    return [(kind, r) for (kind, _), r in zip(tasks, results, strict=True) if not isinstance(r, BaseException)]


async def test_cancelled_requests_leave_pool_and_counts_sound(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "k1")
    engagement = client.app[K.ENGAGEMENT]
    codes = await client.app[K.STORE].codes("k1")
    rng = random.Random(5)
    all_ids = [f"evt-cancel-{i:05d}" for i in range(400)]
    finished: list[tuple[str, Any]] = []
    for start in range(0, len(all_ids), 20):
        finished += await _cancel_storm(engagement, rng, all_ids[start : start + 20])
    cancelled = 2 * len(all_ids) - len(finished)
    await engagement.counters.close()  # script calls of cancelled requests are owned by the batcher and finish
    assert not client.app[K.REDIS].connection_pool._in_use_connections, "a cancelled call leaked a connection"
    assert cancelled > 50, "the storm should cancel many calls"
    for kind, result in finished:
        if kind != "view":
            assert result.code == codes[kind] and result.network == kind
    markers = list(redis_sync.scan_iter(match=keys.event("k1", "c:view:evt-cancel-*"), count=1000))
    views = (await _stats(client, "k1"))["views"]
    accepted = sum(1 for kind, r in finished if kind == "view" and r == "accepted")
    assert accepted < views == len(markers) <= len(all_ids), "some calls must be cancelled after Redis counted them"
    who = Requester(ip="192.0.2.10", user_agent=BROWSER_UA, method="POST")
    again: list[str] = []
    for start in range(0, len(all_ids), 100):  # 100 at a time: the pool holds 256 connections
        again += await asyncio.gather(*(engagement.view("k1", e, who) for e in all_ids[start : start + 100]))
    assert again.count("accepted") == len(all_ids) - views
    assert (await _stats(client, "k1"))["views"] == len(all_ids)
    shares = await asyncio.gather(*(engagement.share("k1", n, None, who) for n in NETWORKS * 10))
    assert [s.code for s in shares] == [codes[n] for n in NETWORKS * 10]
    r = client.app[K.REDIS]
    await asyncio.gather(*(r.set(f"probe:{i}", str(i)) for i in range(200)))
    values = await asyncio.gather(*(r.get(f"probe:{i}") for i in range(200)))
    assert values == [str(i).encode() for i in range(200)]
    assert (await client.get("/readyz")).status == 200


async def test_flush_loop_logs_one_line_per_outage(
    faulty_client: Callable[[], Any], own_redis: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    client = await faulty_client()
    await put_article(client, "f1")
    assert (await _view(client, "evt-flush-out-1")).status == 202
    flusher = client.app[K.FLUSHER]
    caplog.set_level(logging.INFO, logger="service.domain.flusher")
    own_redis.kill()
    for _ in range(5):  # five intervals of the flush loop while Redis is away
        assert await flusher.flush_logged() is None
    await own_redis.restart(*AOF)
    assert await flusher.flush_logged() is not None
    assert await flusher.flush_logged() is not None
    lines = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "service.domain.flusher"]
    outage = [(level, message[:20]) for level, message in lines if message != "flushed"]
    assert outage == [("WARNING", "flush failing, retry"), ("INFO", "flush works again af")]
    assert not any(r.exc_info for r in caplog.records if r.name == "service.domain.flusher")
    assert flusher.state.failures == 5
