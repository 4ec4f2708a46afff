"""Two api replicas (two apps on one Redis and one SQLite file): a bulk import on one reaches the other's
tag statistics and answer cache within a second, not at the 30 s refresh."""

from __future__ import annotations

import time
from typing import Any

from service import appkeys as K
from service.app import create_app
from service.config import Settings
from tests.conftest import AUTH
from tests.flush.test_roles import until


async def test_a_bulk_import_on_one_replica_refreshes_the_statistics_of_another(
        settings: Settings, aiohttp_client: Any) -> None:
    api = settings.model_copy(update={"role": "api"})
    a = await aiohttp_client(create_app(api, flusher=False))
    b = await aiohttp_client(create_app(api, flusher=False))
    first = [{"id": "s0", "url": "https://t4k3.news/s0", "title": "Storm 0", "tags": ["Storm"],
              "published_at": "2026-11-20T10:00:00Z"}]
    assert (await (await a.post("/v1/articles/bulk", json={"articles": first}, headers=AUTH)).json())["accepted"] == 1
    assert (await b.get("/v1/articles/s0/related")).status == 200  # B caches an answer, A's statistics known
    articles = [{"id": f"s{i}", "url": f"https://t4k3.news/s{i}", "title": f"Storm {i}",
                 "tags": ["Storm", f"Coast {i % 4}"], "published_at": f"2026-11-{1 + i % 19:02d}T10:00:00Z"}
                for i in range(1, 61)]
    resp = await a.post("/v1/articles/bulk", json={"articles": articles}, headers=AUTH)
    assert (await resp.json())["accepted"] == 60
    imported = time.monotonic()
    mine, theirs = a.app[K.RELATED], b.app[K.RELATED]
    assert mine.indexer.idf().n == 61 and mine.indexer.idf().df["storm"] == 61

    async def same_statistics() -> bool:
        return (theirs.indexer.idf().n, dict(theirs.indexer.idf().df)) == (61, dict(mine.indexer.idf().df))

    await until(same_statistics, 5, "B's tag statistics follow A's import")
    took = time.monotonic() - imported
    assert theirs.freshness is not None and theirs.freshness.changes >= 1
    assert took < 1.0, f"B's statistics caught up after {took:.2f} s"
    assert theirs.config.stats_refresh_s == 30.0  # not the periodic reload
