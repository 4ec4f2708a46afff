"""The lean link against a Redis loading its AOF, a replica, and a peer that froze while the link was idle."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from redis.exceptions import BusyLoadingError, MasterDownError, ReadOnlyError
from redis.exceptions import ConnectionError as RedisConnectionError

from service.storage.embedded import find_redis_server
from service.storage.redis_client import BudgetRetry
from service.storage.redis_link import RedisLink, pack
from tests.conftest import start_redis_server

GET_LOADED = pack(("GET", "loaded"))
# A hand-written AOF whose replay takes seconds: busy Lua scripts, each some tens of µs. Redis answers
# clients (with -LOADING) every 1000 commands while it replays.
BUSY = b'local i = 0 while i < 2000 do i = i + 1 end return 1'
SCRIPTS = 40000


def _slow_aof(path: Path) -> None:
    command = pack(("EVAL", BUSY, 0))
    path.write_bytes(pack(("SELECT", 0)) + command * SCRIPTS + pack(("SET", "loaded", "yes")))


@pytest.fixture
def loading_redis(tmp_path: Path) -> Iterator[Path]:
    """A redis-server started on a slow AOF; yields its socket as soon as it exists (still loading)."""
    directory = tmp_path / "loading-redis"
    directory.mkdir()
    _slow_aof(directory / "appendonly.aof")
    sock = directory / "redis.sock"
    proc = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--dir", str(directory),
         "--save", "", "--appendonly", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while not sock.exists():
        assert time.monotonic() < deadline and proc.poll() is None, "redis-server did not open its socket"
        time.sleep(0.01)  # polling until the socket exists
    yield sock
    proc.kill()
    proc.wait(10)


async def test_loading_is_busy_loading_error_retried_within_the_bound(loading_redis: Path) -> None:
    link = RedisLink(f"unix://{loading_redis}", connect_timeout=5.0, reply_timeout=5.0)
    try:
        with pytest.raises(BusyLoadingError):  # a ConnectionError: the callers' retry repeats it
            await link.call(GET_LOADED)
        started = time.monotonic()
        with pytest.raises(BusyLoadingError):
            await BudgetRetry(100, 0.3).call_with_retry(lambda: link.call(GET_LOADED), _nothing)
        assert time.monotonic() - started < 0.3 + 1.0, "the retries stay within their budget"
        assert await BudgetRetry(1000, 60).call_with_retry(lambda: link.call(GET_LOADED), _nothing) == b"yes"
        assert link.connected, "LOADING is no reason to drop the connection"
    finally:
        await link.close()


async def _nothing(error: Exception) -> None:
    return None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[bytes]]]:
    directory = tmp_path / "own-redis"
    proc = start_redis_server(directory)
    yield directory / "redis.sock", proc
    os.kill(proc.pid, signal.SIGCONT)
    proc.terminate()
    proc.wait(10)


@pytest.fixture
async def own_link(own_redis: tuple[Path, subprocess.Popen[bytes]]) -> AsyncIterator[RedisLink]:
    made = RedisLink(f"unix://{own_redis[0]}", connect_timeout=1.0, reply_timeout=0.5, idle_ping_s=0.2)
    yield made
    await made.close()


async def test_a_replica_answers_readonly_and_masterdown_and_the_link_leaves_it(
    own_redis: tuple[Path, subprocess.Popen[bytes]], own_link: RedisLink
) -> None:
    admin = redis.Redis(unix_socket_path=str(own_redis[0]))
    try:
        assert await own_link.call(pack(("SET", "k", "v"))) == b"OK"
        admin.execute_command("REPLICAOF", "127.0.0.1", "1")  # a master that is never there (refused at once)
        with pytest.raises(ReadOnlyError):
            await own_link.call(pack(("SET", "k", "w")))
        assert not own_link.connected, "a replica is not a place to stay"
        admin.config_set("replica-serve-stale-data", "no")
        with pytest.raises(MasterDownError):
            await own_link.call(pack(("GET", "k")))
        admin.execute_command("REPLICAOF", "NO", "ONE")
        assert await own_link.call(pack(("SET", "k", "x"))) == b"OK"
    finally:
        admin.execute_command("REPLICAOF", "NO", "ONE")
        admin.close()


async def test_a_peer_that_froze_while_idle_is_noticed_and_dropped(
    own_redis: tuple[Path, subprocess.Popen[bytes]], own_link: RedisLink
) -> None:
    assert await own_link.call(pack(("ECHO", "warm"))) == b"warm"
    proc = own_redis[1]
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while own_link.connected:
            assert loop.time() < deadline, "the idle link never noticed its peer froze"
            await asyncio.sleep(0.05)  # polling until the idle check dropped the connection
        assert own_link.dropped_idle == 1
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert await own_link.call(pack(("ECHO", "back"))) == b"back"
    assert own_link.connected


async def test_a_busy_link_is_not_pinged(own_link: RedisLink, own_redis: tuple[Path, subprocess.Popen[bytes]]) -> None:
    admin = redis.Redis(unix_socket_path=str(own_redis[0]))
    try:
        before = _pings(admin)
        loop = asyncio.get_running_loop()
        until = loop.time() + 1.0
        while loop.time() < until:  # calls all the while (5 idle periods): the idle check has nothing to do
            assert await own_link.call(pack(("INCR", "calls"))) > 0
        assert _pings(admin) == before
        assert own_link.dropped_idle == 0
    finally:
        admin.close()


def _pings(admin: redis.Redis) -> int:
    calls: int = admin.info("commandstats").get("cmdstat_ping", {}).get("calls", 0)
    return calls


def test_connection_errors_only_are_retried() -> None:
    assert issubclass(BusyLoadingError, RedisConnectionError)
    assert not issubclass(ReadOnlyError, RedisConnectionError)
