"""The redis.asyncio client with explicit timeouts, retries and RESP2."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import Settings
from .redis_cluster import Client, Cluster, cluster_enabled
from .redis_link import RedisLink, supports

log = logging.getLogger(__name__)
T = TypeVar("T")


class BudgetRetry(Retry):
    """redis-py's Retry, within a total time budget: no retry starts once the budget would be spent.

    A reply timeout uses up the whole bound, so it is never retried past it; a refused or reset
    connection fails fast and is retried with backoff while time remains.
    """

    def __init__(self, retries: int, budget_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(ExponentialBackoff(cap=0.5, base=0.05), retries)
        self.budget_s = budget_s
        self.clock = clock

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        self._backoff.reset()  # type: ignore[no-untyped-call]
        deadline = self.clock() + self.budget_s
        failures = 0
        while True:
            try:
                return await do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                await (fail(error, failures) if with_failure_count else fail(error))
                backoff = self._backoff.compute(failures)
                if failures > self._retries or self.clock() + backoff >= deadline:
                    raise error
                if backoff > 0:
                    await asyncio.sleep(backoff)


def make_retry(settings: Settings) -> Retry:
    """How a command that failed on its connection is repeated (only idempotent ones are), within the bound."""
    return BudgetRetry(settings.redis_retries, settings.redis_request_timeout_s)


def _bounded(seconds: float, settings: Settings) -> float:
    return min(seconds, settings.redis_request_timeout_s)


def make_link(url: str, settings: Settings) -> RedisLink | None:
    """The lean connection for the ingest script, where the URL allows one (not TLS: redis-py serves it)."""
    if not supports(url):
        log.info("Redis URL scheme %s://: the ingest script goes through redis-py", url.split(":", 1)[0])
        return None
    return RedisLink(
        url,
        connect_timeout=_bounded(settings.redis_connect_timeout_s, settings),
        reply_timeout=_bounded(settings.redis_socket_timeout_s, settings),
        idle_ping_s=settings.redis_idle_ping_s,
    )


def make_client(url: str, settings: Settings) -> aioredis.Redis:
    """A pooled client. protocol=2: redis-py#4252 mishandles server-closed RESP3 connections."""
    pool = aioredis.BlockingConnectionPool.from_url(  # waits for a free connection instead of failing
        url,
        timeout=settings.redis_request_timeout_s,
        protocol=2,
        decode_responses=False,
        socket_timeout=_bounded(settings.redis_socket_timeout_s, settings),
        socket_connect_timeout=_bounded(settings.redis_connect_timeout_s, settings),
        health_check_interval=settings.redis_health_check_interval_s,
        retry=make_retry(settings),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        max_connections=256,
    )
    return aioredis.Redis(connection_pool=pool)


def make_cluster(url: str, settings: Settings) -> Cluster:
    """A RedisCluster from any node's URL (the others are found from it), with the same bounds."""
    cluster = cast(Cluster, Cluster.from_url(  # cls(...): a Cluster, though typed as RedisCluster
        url,
        protocol=2,
        decode_responses=False,
        socket_timeout=_bounded(settings.redis_socket_timeout_s, settings),
        socket_connect_timeout=_bounded(settings.redis_connect_timeout_s, settings),
        health_check_interval=settings.redis_health_check_interval_s,
        retry=make_retry(settings),
        max_connections=256,
    ))
    cluster.request_timeout_s = settings.redis_request_timeout_s
    return cluster


async def connect(url: str, settings: Settings) -> Client:
    """A client for the Redis at `url`, answering PING: a RedisCluster, initialised, when that node is part
    of a cluster (redis-py#3935: a cluster used before `initialize` can fail its first commands)."""
    client = make_client(url, settings)
    try:
        async with asyncio.timeout(settings.redis_request_timeout_s):
            await client.ping()
            clustered = await cluster_enabled(client)
    except BaseException:
        await client.aclose()
        raise
    if not clustered:
        return client
    await client.aclose()
    if not url.startswith(("redis://", "rediss://")):
        raise ValueError(f"Redis at {url} is a cluster node: give it as redis:// or rediss://host:port")
    cluster = make_cluster(url, settings)
    try:
        async with asyncio.timeout(settings.redis_request_timeout_s + settings.redis_connect_timeout_s):
            await cluster.initialize()
        log.info("Redis Cluster at %s: %d primaries", url, len(cluster.primaries()))
    except BaseException:
        await cluster.aclose()
        raise
    return cluster


async def _policies(client: Client) -> list[object]:
    if isinstance(client, Cluster):
        replies = await client.on_primaries("CONFIG GET", "maxmemory-policy")
        failed = [r for r in replies.values() if isinstance(r, BaseException)]
        if failed:
            raise failed[0]
        return [_field(r, "maxmemory-policy") for r in replies.values()]
    return [_field(await client.config_get("maxmemory-policy"), "maxmemory-policy")]


def _field(reply: Any, name: str) -> object:
    raw = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in dict(reply).items()}
    value = raw.get(name)
    return value.decode() if isinstance(value, bytes) else value


async def warn_if_evicting(client: Client) -> str | None:
    """Log a warning when Redis (any primary of a cluster) may evict keys (it would silently drop counters)."""
    try:
        policies = await _policies(client)
    except aioredis.RedisError:
        return None  # CONFIG disabled on managed Redis: nothing to check
    evicting = sorted({str(p) for p in policies if p and p != "noeviction"})
    if evicting:
        log.warning("redis maxmemory-policy is %r, not 'noeviction': counters may be evicted", ",".join(evicting))
        return ",".join(evicting)
    return str(policies[0]) if policies and policies[0] else None
