"""Share codes in Redis: lazy (only codes in use), one hash per shard, the legacy layout migrated at start."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.domain.networks import NETWORKS
from service.storage import keys
from service.storage.migrations import _migrate_batch, migrate_share_codes
from service.storage.redis_client import connect
from tests.conftest import BROWSER_UA, REDIS_MODES, put_article, redis_url_of


@pytest.fixture(params=REDIS_MODES)
def redis_url(request: pytest.FixtureRequest, redis_url: str) -> str:
    """Every test here runs on one Redis and on a 3-master Redis Cluster."""
    return redis_url_of(request, redis_url)

PERSON = {"User-Agent": BROWSER_UA}


async def _share(client: Any, article_id: str, network: str) -> dict[str, Any]:
    resp = await client.post(f"/v1/articles/{article_id}/shares", json={"network": network}, headers=PERSON)
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def _redirect(client: Any, code: str) -> str:
    resp = await client.get(f"/s/{code}", allow_redirects=False, headers=PERSON)
    assert resp.status == 302, await resp.text()
    return str(resp.headers["Location"])


def _codes_in_redis(redis_sync: redis.Redis) -> dict[str, str]:
    found: dict[str, str] = {}
    for shard in range(keys.SHARDS):
        found.update({k.decode(): v.decode() for k, v in redis_sync.hgetall(keys.codes(shard)).items()})
    return found


def _code_fields(redis_sync: redis.Redis, article_id: str) -> dict[str, str]:
    raw = redis_sync.hgetall(keys.article(article_id))
    return {k.decode(): v.decode() for k, v in raw.items() if k.startswith(b"code:")}


async def _stored_codes(client: Any, article_id: str) -> dict[str, str]:
    codes: dict[str, str] = await client.app[K.STORE].codes(article_id)
    return codes


async def test_a_new_article_has_no_codes_in_redis_until_shared(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "c1", url="https://t4k3.news/c1")
    stored = await _stored_codes(client, "c1")
    assert sorted(stored) == sorted(NETWORKS)  # every code exists in SQLite from the start
    assert _codes_in_redis(redis_sync) == {}
    assert _code_fields(redis_sync, "c1") == {}
    assert not list(redis_sync.scan_iter(match=keys.LEGACY_CODES_MATCH))
    share = await _share(client, "c1", "x")
    assert share["code"] == stored["x"]
    assert _codes_in_redis(redis_sync) == {stored["x"]: "c1\tx"}
    assert _code_fields(redis_sync, "c1") == {"code:x": stored["x"]}
    assert redis_sync.hget(keys.codes(keys.code_shard(stored["x"])), stored["x"]) == b"c1\tx"
    assert (await _share(client, "c1", "x"))["code"] == stored["x"]
    assert (await _redirect(client, stored["x"])).startswith("https://t4k3.news/c1?")
    stats = await (await client.get("/v1/articles/c1/stats")).json()
    assert stats["shares"]["by_network"]["x"] == 2
    assert stats["clicks"]["by_network"]["x"] == 1


async def test_a_code_never_shared_redirects_from_sqlite_and_is_kept(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "c2", url="https://t4k3.news/c2")
    code = (await _stored_codes(client, "c2"))["reddit"]
    assert "utm_source=reddit" in await _redirect(client, code)
    assert _codes_in_redis(redis_sync) == {code: "c2\treddit"}
    assert "utm_source=reddit" in await _redirect(client, code)
    stats = await (await client.get("/v1/articles/c2/stats")).json()
    assert stats["clicks"]["by_network"]["reddit"] == 2


async def test_an_update_keeps_the_codes_in_use(client: Any, redis_sync: redis.Redis) -> None:
    await put_article(client, "c3", url="https://t4k3.news/c3")
    code = (await _share(client, "c3", "email"))["code"]
    await client.app[K.FLUSHER].flush_once()  # the share is durable: the update keeps its code in Redis
    await put_article(client, "c3", url="https://t4k3.news/c3", title="Updated")
    assert _code_fields(redis_sync, "c3") == {"code:email": code}
    assert (await _share(client, "c3", "email"))["code"] == code
    assert (await _share(client, "c3", "whatsapp"))["code"] == (await _stored_codes(client, "c3"))["whatsapp"]


async def test_rebuild_after_redis_loss_writes_the_codes_in_use(
    settings: Settings, aiohttp_client: Any, client: Any, redis_sync: redis.Redis
) -> None:
    await put_article(client, "c4", url="https://t4k3.news/c4")
    await put_article(client, "c5", url="https://t4k3.news/c5")
    shared = (await _share(client, "c4", "linkedin"))["code"]
    clicked = (await _stored_codes(client, "c5"))["telegram"]
    await _redirect(client, clicked)
    await client.app[K.FLUSHER].flush_once()
    await client.close()
    redis_sync.flushall()  # Redis lost its data: the next start rebuilds from SQLite
    second = await aiohttp_client(create_app(settings, flusher=False))
    assert _codes_in_redis(redis_sync) == {shared: "c4\tlinkedin", clicked: "c5\ttelegram"}
    assert _code_fields(redis_sync, "c4") == {"code:linkedin": shared}
    assert "utm_source=linkedin" in await _redirect(second, shared)
    unshared = (await _stored_codes(second, "c4"))["facebook"]
    assert "utm_source=facebook" in await _redirect(second, unshared)
    assert (await _share(second, "c4", "linkedin"))["code"] == shared
    assert not list(redis_sync.scan_iter(match=keys.LEGACY_CODES_MATCH))


def _seed_legacy(redis_sync: redis.Redis, codes: dict[str, tuple[str, str]]) -> None:
    """The layout before the per-shard hashes: one hash {a, n} per code, and every code in the article hash."""
    pipe = redis_sync.pipeline(transaction=False)
    for code, (article_id, network) in codes.items():
        pipe.hset(keys.legacy_code(code), mapping={"a": article_id, "n": network})
        pipe.hset(keys.article(article_id), f"code:{network}", code)
    pipe.execute()


def _legacy_keys(redis_sync: redis.Redis) -> list[bytes]:
    return list(redis_sync.scan_iter(match=keys.LEGACY_CODES_MATCH, count=1000))


async def test_legacy_code_keys_are_migrated_at_start_and_deleted(
    settings: Settings, aiohttp_client: Any, client: Any, redis_sync: redis.Redis
) -> None:
    await put_article(client, "m1", url="https://t4k3.news/m1")
    shared = (await _share(client, "m1", "facebook"))["code"]
    stored = await _stored_codes(client, "m1")
    await client.close()
    for shard in range(keys.SHARDS):  # as an older release left it: no per-shard hashes, a key per code
        redis_sync.delete(keys.codes(shard))
    redis_sync.delete(keys.codes_migrated())
    legacy = {code: ("m1", network) for network, code in stored.items()}
    orphans = {f"Old{i:07d}": ("gone-article", "x") for i in range(1200)}  # several SCAN batches
    _seed_legacy(redis_sync, {**legacy, **orphans})
    assert len(_legacy_keys(redis_sync)) == 1210
    if isinstance(redis_sync, redis.RedisCluster):  # the keys to find lie on every primary
        assert len({redis_sync.get_node_from_key(k).name for k in _legacy_keys(redis_sync)}) == 3

    app = create_app(settings, flusher=False)
    second = await aiohttp_client(app)
    deadline = time.monotonic() + 60
    while (_legacy_keys(redis_sync) or not redis_sync.exists(keys.codes_migrated())) and time.monotonic() < deadline:
        assert (await second.get("/healthz")).status == 200  # the migration runs while the app serves
        await asyncio.sleep(0.02)  # polling the condition above, within the deadline
    assert _legacy_keys(redis_sync) == []
    assert redis_sync.exists(keys.codes_migrated())
    assert _codes_in_redis(redis_sync) == {shared: "m1\tfacebook"}  # only the code in use was moved
    for network, code in stored.items():  # every old share link still redirects
        assert f"utm_source={network}" in await _redirect(second, code)
    resp = await second.get("/s/Old0000001", allow_redirects=False, headers=PERSON)
    assert resp.status == 404  # a legacy key pointing nowhere is dropped, not resurrected


async def test_the_migration_is_idempotent_and_resumes(settings: Settings, redis_sync: redis.Redis) -> None:
    client = await connect(settings.redis_url or "", settings)
    try:
        legacy = {f"Code{i:06d}": (f"art-{i % 7}", NETWORKS[i % len(NETWORKS)]) for i in range(1100)}
        _seed_legacy(redis_sync, legacy)
        for i in range(7):  # shared articles: their codes are in use
            redis_sync.hset(keys.totals(f"art-{i}"), mapping={f"share\t{n}": 1 for n in NETWORKS})
        redis_sync.hset(keys.totals("art-0"), mapping={f"share\t{n}": 0 for n in NETWORKS})  # art-0 unused
        first = sorted(k.decode() for k in _legacy_keys(redis_sync))[:400]
        unused = [key for key in first if legacy[key.removeprefix(keys.legacy_code(""))][0] == "art-0"]
        assert await _migrate_batch(client, first) == (400 - len(unused), len(unused))
        assert len(_legacy_keys(redis_sync)) == 1100 - 400
        # ... as if the process died here: the next start finishes the rest
        moved, dropped = await migrate_share_codes(client, batch=200)
        assert moved + dropped == 1100 - 400
        expected = {code: f"{a}\t{n}" for code, (a, n) in legacy.items() if a != "art-0"}
        assert _codes_in_redis(redis_sync) == expected
        assert _legacy_keys(redis_sync) == []
        assert await migrate_share_codes(client) == (0, 0)  # marked done: no second scan
        redis_sync.delete(keys.codes_migrated())
        assert await migrate_share_codes(client) == (0, 0)  # and without the mark, nothing left to do
        assert _codes_in_redis(redis_sync) == expected
    finally:
        await client.aclose()
