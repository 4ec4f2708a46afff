"""The lean Redis link the ingest script goes over: ordering, cancellation, timeouts, AUTH/SELECT, NOSCRIPT."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.exceptions import AuthenticationError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service import appkeys as K
from service.storage.redis_counters import RedisCounters
from service.storage.redis_link import RedisLink, pack, supports
from tests.conftest import BROWSER_UA, put_article, start_redis_server

PERSON = {"User-Agent": BROWSER_UA}


@pytest.fixture
async def link(redis_url: str, redis_sync: redis.Redis) -> AsyncIterator[RedisLink]:
    made = RedisLink(redis_url, connect_timeout=2.0, reply_timeout=2.0)
    yield made
    await made.close()


def test_pack_is_resp_and_supports_plain_urls_only() -> None:
    assert pack(("SET", "k", 12, b"\x00\xff")) == b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$2\r\n\x00\xff\r\n"
    assert pack(["ECHO", "é"]) == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"  # lengths in bytes, not characters
    assert supports("redis://h:6379/0") and supports("unix:///tmp/r.sock")
    assert not supports("rediss://h:6380/0")
    with pytest.raises(ValueError, match="rediss"):
        RedisLink("rediss://h:6380/0", connect_timeout=1, reply_timeout=1)


async def test_many_concurrent_calls_each_get_their_own_reply(link: RedisLink) -> None:
    replies = await asyncio.gather(*(link.call(pack(("ECHO", f"value-{i}"))) for i in range(500)))
    assert replies == [f"value-{i}".encode() for i in range(500)]


async def test_errors_are_redis_py_exceptions_and_the_link_stays_in_step(link: RedisLink) -> None:
    with pytest.raises(ResponseError, match="unknown command"):
        await link.call(pack(("NO-SUCH-COMMAND",)))
    assert await link.call(pack(("ECHO", "after"))) == b"after"


async def test_a_cancelled_call_keeps_its_place_so_no_reply_goes_astray(link: RedisLink) -> None:
    first = await link.call(pack(("CLIENT", "ID")))
    blocked = asyncio.create_task(link.call(pack(("BLPOP", "link-test-empty", "0.2"))))
    await asyncio.sleep(0)  # one loop turn: the command is written and its reply awaited
    blocked.cancel()
    with pytest.raises(asyncio.CancelledError):
        await blocked
    # the BLPOP's nil reply comes first, for nobody; each later call still gets its own
    replies = await asyncio.gather(*(link.call(pack(("ECHO", f"next-{i}"))) for i in range(5)))
    assert replies == [f"next-{i}".encode() for i in range(5)]
    assert await link.call(pack(("CLIENT", "ID"))) == first  # same connection: nothing had to be dropped


async def test_a_reply_that_does_not_come_in_time_fails_the_call_and_the_next_one_works(
    redis_url: str, redis_sync: redis.Redis
) -> None:
    short = RedisLink(redis_url, connect_timeout=2.0, reply_timeout=0.2)
    try:
        with pytest.raises(RedisTimeoutError):
            await short.call(pack(("BLPOP", "link-test-never", "2")))
        assert await short.call(pack(("ECHO", "alive"))) == b"alive"
    finally:
        await short.close()


async def test_a_killed_connection_fails_calls_in_flight_then_reconnects(
    link: RedisLink, redis_sync: redis.Redis
) -> None:
    assert await link.call(pack(("ECHO", "warm"))) == b"warm"
    blocked = asyncio.create_task(link.call(pack(("BLPOP", "link-test-kill", "5"))))
    await asyncio.sleep(0)  # one loop turn: the command is written
    assert int(redis_sync.execute_command("CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes")) >= 1
    with pytest.raises(RedisConnectionError):
        await blocked
    assert await link.call(pack(("ECHO", "again"))) == b"again"


@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "locked-redis"
    proc = start_redis_server(directory)
    admin = redis.Redis(unix_socket_path=str(directory / "redis.sock"))
    admin.config_set("requirepass", "s3cret")
    admin.close()
    yield directory / "redis.sock"
    proc.terminate()
    proc.wait(10)


async def test_password_and_database_come_from_the_url(locked_redis: Path) -> None:
    good = RedisLink(f"unix://:s3cret@{locked_redis}?db=3", connect_timeout=2.0, reply_timeout=2.0)
    wrong = RedisLink(f"unix://:wrong@{locked_redis}?db=3", connect_timeout=2.0, reply_timeout=2.0)
    try:
        assert await good.call(pack(("SET", "where", "db3"))) == b"OK"
        with pytest.raises(AuthenticationError):
            await wrong.call(pack(("GET", "where")))
    finally:
        await good.close()
        await wrong.close()
    db3 = redis.Redis(unix_socket_path=str(locked_redis), password="s3cret", db=3)
    db0 = redis.Redis(unix_socket_path=str(locked_redis), password="s3cret", db=0)
    try:
        assert (db3.get("where"), db0.get("where")) == (b"db3", None)
    finally:
        db3.close()
        db0.close()


async def test_views_count_after_redis_forgets_the_script(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "n1")
    first = await client.post("/v1/articles/n1/views", json={"event_id": "evt-noscript-1"}, headers=PERSON)
    assert first.status == 202
    redis_sync.script_flush()
    again = await client.post("/v1/articles/n1/views", json={"event_id": "evt-noscript-2"}, headers=PERSON)
    assert again.status == 202 and (await again.json())["status"] == "accepted"
    stats = await (await client.get("/v1/articles/n1/stats")).json()
    assert stats["views"] == 2


async def test_without_a_link_the_script_goes_through_redis_py(client: Any) -> None:
    """TLS URLs get no link: the same counting then runs over redis-py's pool."""
    await put_article(client, "n2")
    assert client.app.get(K.REDIS_LINK) is not None  # the test server is a unix socket: the link is used
    engagement = client.app[K.ENGAGEMENT]
    linked = engagement.counters
    engagement.counters = RedisCounters(client.app[K.REDIS])
    try:
        views = [client.post("/v1/articles/n2/views", json={"event_id": f"evt-pool-{i:03d}"}, headers=PERSON)
                 for i in range(30)]
        assert [r.status for r in await asyncio.gather(*views)] == [202] * 30
        repeat = await client.post("/v1/articles/n2/views", json={"event_id": "evt-pool-000"}, headers=PERSON)
        assert (await repeat.json())["status"] == "duplicate"
    finally:
        await engagement.counters.close()
        engagement.counters = linked
    assert (await (await client.get("/v1/articles/n2/stats")).json())["views"] == 30
