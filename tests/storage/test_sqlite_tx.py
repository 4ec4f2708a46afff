"""The SQLite connection is shared by the catalog's writes and the flusher's: one transaction at a time.

Seen in CI: a PUT that arrived while a flush was inside its transaction answered 500 ("cannot start a
transaction within a transaction"), and a status change's commit() would have committed the flush's
upserts without its ledger row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.records import Article
from service.storage.flush_rows import ApplyItem, parse_batch
from service.storage.sqlite_durable import SqliteDurable

NOW = datetime(2026, 12, 4, 10, tzinfo=UTC)


def article(article_id: str) -> Article:
    return Article(id=article_id, url=f"https://t4k3.news/{article_id}", title=f"Story {article_id}",
                   tags=["Tx"], published_at=NOW)


def batch(batch_id: str, article_id: str, n: int) -> ApplyItem:
    return ApplyItem(batch_id, parse_batch({f"{article_id}\tview\t\t{493_000}": n}), [])


async def rows(durable: SqliteDurable, sql: str) -> list[tuple[object, ...]]:
    async with durable.db.execute(sql) as cur:
        return [tuple(r) for r in await cur.fetchall()]


class Paused:
    """A flush hook that holds the apply inside its transaction until released, then maybe fails."""

    def __init__(self, fail: bool) -> None:
        self.inside, self.release, self.fail = asyncio.Event(), asyncio.Event(), fail

    async def __call__(self, step: str) -> None:
        if step != "mid_apply":
            return
        self.inside.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("the flusher died mid-apply")


@pytest.fixture
async def durable(tmp_path: Path) -> AsyncIterator[SqliteDurable]:
    """A store holding article a1."""
    store = await SqliteDurable.open(tmp_path / "db.sqlite", 2000, 1.0)
    try:
        await store.store.save_article(article("a1"), {"x": "code1"})
        yield store
    finally:
        await store.close()


async def paused_flush(durable: SqliteDurable, fail: bool) -> tuple[Paused, asyncio.Task[set[str]]]:
    """A flush of 5 views of a1, held inside its transaction until released."""
    hook = Paused(fail)
    flush = asyncio.create_task(durable.counters(hook).apply([batch("b1", "a1", 5)], 1))
    await hook.inside.wait()
    return hook, flush


async def test_catalog_writes_during_a_flush_wait_for_it_and_both_commit(durable: SqliteDurable) -> None:
    hook, flush = await paused_flush(durable, fail=False)
    put = asyncio.create_task(durable.store.save_article(article("a2"), {"x": "code2"}))
    status = asyncio.create_task(durable.store.set_status("a1", "unpublished", NOW))
    hook.release.set()
    assert await flush == {"b1"}
    assert (await put)[0] is True and await status is True
    assert await rows(durable, "SELECT article_id, n FROM counter_totals") == [("a1", 5)]
    assert await rows(durable, "SELECT batch_id FROM applied_batches") == [("b1",)]
    assert await rows(durable, "SELECT id, status FROM articles ORDER BY id") == [
        ("a1", "unpublished"), ("a2", "published")]


async def test_a_status_change_during_a_flush_does_not_commit_the_flush_half_done(durable: SqliteDurable) -> None:
    hook, flush = await paused_flush(durable, fail=True)
    status = asyncio.create_task(durable.store.set_status("a1", "unpublished", NOW))
    hook.release.set()
    with pytest.raises(RuntimeError, match="died mid-apply"):
        await flush
    assert await status is True
    # The failed apply left nothing: no counts without their ledger row (the batch is applied later).
    assert await rows(durable, "SELECT article_id, n FROM counter_totals") == []
    assert await rows(durable, "SELECT batch_id FROM applied_batches") == []
    assert await rows(durable, "SELECT status FROM articles") == [("unpublished",)]
