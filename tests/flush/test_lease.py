"""The worker lease on a real Redis: one holder, renewal only by the holder, hand-over after expiry."""

from __future__ import annotations

import time

import redis
import redis.asyncio as aioredis

from service.domain.worker_lease import WorkerLease
from service.storage import keys
from service.storage.lease import RedisLease
from tests.flush.test_roles import until


def _lease(client: aioredis.Redis, holder: str, ttl_s: float = 5.0) -> WorkerLease:
    return WorkerLease(RedisLease(client), ttl_s, ttl_s / 4, holder_id=holder)


async def test_one_holder_renews_others_wait_and_take_over_after_expiry(redis_url: str,
                                                                         redis_sync: redis.Redis) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        first, second = _lease(client, "h:1:a"), _lease(client, "h:2:b")
        taken: list[str] = []

        async def on_taken() -> None:
            taken.append("second")

        second.on_acquired.append(on_taken)
        assert await first.step() and first.held
        assert not await second.step() and not second.held
        value = redis_sync.get(keys.worker_lease()).decode()
        assert value.startswith("h:1:a@")
        assert await first.step()  # renewed: the same value, a fresh TTL
        assert redis_sync.get(keys.worker_lease()).decode() == value
        assert 4000 < redis_sync.pttl(keys.worker_lease()) <= 5000
        status = await second.status()
        assert status["holder"] == "h:1:a" and status["this_process"] is False and status["expires_in_s"] <= 5
        assert not await second.store.release("h:2:b@0")  # only the holder's value releases it
        redis_sync.pexpire(keys.worker_lease(), 50)  # as if the holder stopped renewing (kill -9)
        await until(second.step, 5, "the standby takes the expired lease")
        assert taken == ["second"]
        assert not await first.step() and not first.held  # the old holder learns it lost the lease
        assert (await first.status())["holder"] == "h:2:b"
        await second.release()
        assert redis_sync.get(keys.worker_lease()) is None
        started = time.monotonic()
        assert await first.check()  # a clean release hands over at once
        assert time.monotonic() - started < 2
    finally:
        await client.aclose()
