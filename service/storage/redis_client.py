"""The redis.asyncio client with explicit timeouts, retries and RESP2."""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..config import Settings
from .redis_link import RedisLink, supports

log = logging.getLogger(__name__)


def make_retry(settings: Settings) -> Retry:
    """How a command that failed on its connection is repeated (only idempotent ones are)."""
    return Retry(ExponentialBackoff(cap=0.5, base=0.05), settings.redis_retries)


def make_link(url: str, settings: Settings) -> RedisLink | None:
    """The lean connection for the ingest script, where the URL allows one (not TLS: redis-py serves it)."""
    if not supports(url):
        log.info("Redis URL scheme %s://: the ingest script goes through redis-py", url.split(":", 1)[0])
        return None
    return RedisLink(
        url, connect_timeout=settings.redis_connect_timeout_s, reply_timeout=settings.redis_socket_timeout_s
    )


def make_client(url: str, settings: Settings) -> aioredis.Redis:
    """A pooled client. protocol=2: redis-py#4252 mishandles server-closed RESP3 connections."""
    pool = aioredis.BlockingConnectionPool.from_url(  # waits for a free connection instead of failing
        url,
        timeout=settings.redis_socket_timeout_s,
        protocol=2,
        decode_responses=False,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_connect_timeout_s,
        health_check_interval=settings.redis_health_check_interval_s,
        retry=make_retry(settings),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
        max_connections=256,
    )
    return aioredis.Redis(connection_pool=pool)


async def warn_if_evicting(client: aioredis.Redis) -> str | None:
    """Log a warning when Redis may evict keys (it would silently drop counters)."""
    try:
        reply = await client.config_get("maxmemory-policy")
    except aioredis.RedisError:
        return None  # CONFIG disabled on managed Redis: nothing to check
    raw = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in reply.items()}
    policy = raw.get("maxmemory-policy")
    value = policy.decode() if isinstance(policy, bytes) else policy
    if value and value != "noeviction":
        log.warning("redis maxmemory-policy is %r, not 'noeviction': counters may be evicted", value)
    return value
