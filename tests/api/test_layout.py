"""The key layout move: keys under the old shard tags `{s<n>}` are renamed at start, before anything reads them."""

from __future__ import annotations

import re
from typing import Any

import redis

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from service.storage import keys
from service.storage.layout import move_shard_tags
from tests.conftest import BROWSER_UA, put_article
from tests.flush.helpers import sqlite_totals

OLD = re.compile(rb"^eng:\{s\d+\}:")


def _to_old_layout(redis_sync: redis.Redis) -> int:
    """Rename every per-shard key to the tag an older release used, as that release left Redis."""
    moved = 0
    for shard in range(keys.SHARDS):
        prefix = keys.shard_key_prefix(shard)
        for key in list(redis_sync.scan_iter(match=prefix.replace("{", "[{]") + ":*", count=1000)):
            redis_sync.rename(key, f"eng:{{s{shard}}}".encode() + key[len(prefix) :])
            moved += 1
    redis_sync.delete(keys.layout())
    return moved


async def _views(client: Any, article_id: str) -> int:
    resp = await client.get(f"/v1/articles/{article_id}/stats")
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["views"])


async def test_keys_of_the_old_layout_are_moved_at_start_and_nothing_is_lost(
    settings: Settings, aiohttp_client: Any, redis_sync: redis.Redis
) -> None:
    first = await aiohttp_client(create_app(settings, flusher=False))
    ids = [f"old{i}" for i in range(20)]
    for n, a in enumerate(ids):
        await put_article(first, a, url=f"https://t4k3.news/{a}")
        for v in range(n % 3 + 1):
            resp = await first.post(f"/v1/articles/{a}/views", json={"event_id": f"ev-{a}-{v:04d}"},
                                    headers={"User-Agent": BROWSER_UA})
            assert resp.status == 202
    await first.app[K.FLUSHER].flush_once()  # some counts flushed, and then more that are only live
    for a in ids:
        resp = await first.post(f"/v1/articles/{a}/views", json={"event_id": f"ev-{a}-live"},
                                headers={"User-Agent": BROWSER_UA})
        assert resp.status == 202
    await first.close()
    expected = {a: n % 3 + 2 for n, a in enumerate(ids)}
    assert _to_old_layout(redis_sync) > 3 * len(ids)  # articles, totals, markers, deltas, seeded, hot, ...

    second = await aiohttp_client(create_app(settings, flusher=False))
    assert [k for k in redis_sync.scan_iter(count=1000) if OLD.match(k)] == []
    assert redis_sync.get(keys.layout()) == keys.LAYOUT.encode()
    assert {a: await _views(second, a) for a in ids} == expected  # live deltas and seeded totals kept
    resp = await second.post(f"/v1/articles/{ids[0]}/views", json={"event_id": f"ev-{ids[0]}-0000"},
                             headers={"User-Agent": BROWSER_UA})
    assert (await resp.json())["status"] == "duplicate"  # event markers moved too
    await second.app[K.FLUSHER].flush_once()
    totals = sqlite_totals(settings.sqlite_path)
    assert {a: totals[(a, "view", "")] for a in ids} == expected  # each live count flushed exactly once
    assert await move_shard_tags(second.app[K.REDIS]) == 0  # marked: no second scan
    redis_sync.delete(keys.layout())
    assert await move_shard_tags(second.app[K.REDIS]) == 0  # and nothing left to move
