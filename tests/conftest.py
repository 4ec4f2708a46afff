"""Fixtures: a private redis-server (unless REDIS_URL is set) and the real app on a tmp SQLite file."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings
from service.storage.embedded import find_redis_server
from tests.cluster import LocalCluster
from tests.pg import PostgresServer, create_database

ADMIN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {ADMIN}"}
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
# Most tests send many events from one client and count each: the per-visitor windows and rate limits are
# off in `settings` and tested with their defaults on in tests/api/test_abuse.py.
RAW_COUNTING: dict[str, Any] = {
    "view_per_visitor_s": 0, "share_per_visitor_s": 0, "click_per_visitor_s": 0, "write_rate_per_visitor_min": 0,
}
RAW_COUNTING_ENV = {name.upper(): str(value) for name, value in RAW_COUNTING.items()}  # for `serve` processes


def start_redis_server(directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A redis-server on a unix socket in `directory`; returns once it answers PING."""
    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / "redis.sock"
    sock.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [find_redis_server(), "--port", "0", "--unixsocket", str(sock), "--dir", str(directory),
         "--save", "", "--appendonly", "no", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(sock))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if client.ping():
                client.close()
                return proc
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.02)  # polling until the server answers
    proc.kill()
    raise RuntimeError("redis-server did not start")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    directory = tmp_path_factory.mktemp("redis")
    proc = start_redis_server(directory)
    yield f"unix://{directory / 'redis.sock'}"
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL for the session (fails, never skips, without Debian's binaries)."""
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def pg_url(pg_server: PostgresServer) -> str:
    """A fresh database of the private PostgreSQL, for one test."""
    return await create_database(pg_server)


CLUSTER_URLS: set[str] = set()  # the URLs of clusters the fixtures started


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A private 3-master Redis Cluster."""
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster")).start()
    CLUSTER_URLS.update(cluster.urls)
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def cluster_url(local_cluster: LocalCluster) -> str:
    """The private cluster's first node (the service finds the others)."""
    return local_cluster.url


REDIS_MODES = ["single", "cluster"]


def redis_url_of(request: pytest.FixtureRequest, single_url: str) -> str:
    """For a module's `redis_url` fixture parametrised over REDIS_MODES: one Redis, or the cluster."""
    return single_url if request.param == "single" else str(request.getfixturevalue("cluster_url"))


def sync_client(url: str) -> Any:
    """A blocking client for tests: redis-py's RedisCluster on a cluster (commands routed by key)."""
    return redis.RedisCluster.from_url(url) if url in CLUSTER_URLS else redis.Redis.from_url(url)


@pytest.fixture
def redis_sync(redis_url: str) -> Iterator[redis.Redis]:
    client = sync_client(redis_url)
    client.flushall()  # a cluster: on every primary
    yield client
    client.close()


@pytest.fixture
def settings(redis_url: str, tmp_path: Path, redis_sync: redis.Redis) -> Settings:
    return Settings(
        redis_url=redis_url,
        data_dir=tmp_path / "data",
        admin_token=ADMIN,
        public_base_url="https://eng.test",
        allowed_hosts=["t4k3.news", ".example.com"],
        trusted_proxies=["10.0.0.0/8"],
        log_format="text",
        redis_request_timeout_s=10.0,  # the suite shares 2 loaded cores; fault tests set their own bound
        **RAW_COUNTING,
    )


@pytest.fixture
def aiohttp_client(aiohttp_client: Callable[..., Any]) -> Callable[..., Any]:
    """pytest-aiohttp's, sending a browser's User-Agent unless a test says otherwise: a script's shares and
    views are counted as a bot's."""

    async def make(app: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("headers", {"User-Agent": BROWSER_UA})
        return await aiohttp_client(app, **kwargs)

    return make


AppFactory = Callable[..., "AsyncIterator[Any]"]


@pytest.fixture
async def client(
    settings: Settings, aiohttp_client: Callable[..., Any]
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    app = create_app(settings, flusher=False)
    yield await aiohttp_client(app)


def article_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "url": "https://t4k3.news/story",
        "title": "A story",
        "tags": ["North Korea", "Russia"],
        "published_at": "2026-11-20T10:00:00Z",
    }
    body.update(over)
    return body


async def put_article(client: TestClient[Any, Any], article_id: str = "a1", **over: Any) -> dict[str, Any]:
    resp = await client.put(f"/v1/articles/{article_id}", json=article_body(**over), headers=AUTH)
    assert resp.status in (200, 201), await resp.text()
    data: dict[str, Any] = await resp.json()
    return data
