"""The durable record in SQLite: catalog, share codes and counter aggregates."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime

import aiosqlite

from ..outages import sqlite_outage
from ..records import Article
from .article_rows import article_of, epoch, row_of
from .sqlite_tx import Transactions

_ARTICLE_COLS = "id, url, title, tags, published_at, section, image_url, summary, status, updated_at"


@contextlib.contextmanager
def outages_unavailable() -> Iterator[None]:
    """Raise SQLite outages in the block as StorageUnavailable."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if (error := sqlite_outage(exc)) is not None:
            raise error from exc
        raise


class SqliteStore:
    """Reads and writes of the durable record over one aiosqlite connection."""

    def __init__(self, db: aiosqlite.Connection, tx: Transactions) -> None:
        self.db = db
        self.tx = tx

    async def save_article(self, article: Article, codes: dict[str, str]) -> tuple[bool, dict[str, str]]:
        """Insert or replace; keep existing share codes. Returns (created, codes by network)."""
        return (await self.save_articles([(article, codes)]))[0]

    async def save_articles(
        self, items: list[tuple[Article, dict[str, str]]]
    ) -> list[tuple[bool, dict[str, str]]]:
        """save_article for a batch in one transaction; an id repeated in the batch is created once."""
        ids = [article.id for article, _codes in items]
        with outages_unavailable():
            existing, stored = await self._save(ids, items)
        results = []
        for article_id in ids:
            results.append((article_id not in existing, stored[article_id]))
            existing.add(article_id)
        return results

    async def _save(
        self, ids: list[str], items: list[tuple[Article, dict[str, str]]]
    ) -> tuple[set[str], dict[str, dict[str, str]]]:
        async with self.tx.immediate() as db:
            existing = await self._existing(ids)
            await db.executemany(
                f"INSERT OR REPLACE INTO articles ({_ARTICLE_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                [row_of(article) for article, _codes in items],
            )
            await db.executemany(
                "INSERT OR IGNORE INTO share_codes (code, article_id, network) VALUES (?,?,?)",
                [(code, article.id, network) for article, codes in items for network, code in codes.items()],
            )
            stored = await self.all_codes(set(ids))
        return existing, stored

    async def _existing(self, ids: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(f"SELECT id FROM articles WHERE id IN ({marks})", chunk) as cur:
                found.update([row[0] async for row in cur])
        return found

    async def _codes(self, article_id: str) -> dict[str, str]:
        async with self.db.execute(
            "SELECT network, code FROM share_codes WHERE article_id = ?", (article_id,)
        ) as cur:
            return {row[0]: row[1] async for row in cur}

    async def codes(self, article_id: str) -> dict[str, str]:
        """Share codes of an article by network."""
        return await self._codes(article_id)

    async def get_article(self, article_id: str) -> Article | None:
        async with self.db.execute(f"SELECT {_ARTICLE_COLS} FROM articles WHERE id = ?", (article_id,)) as cur:
            row = await cur.fetchone()
        return article_of(row) if row else None

    async def code_target(self, code: str) -> tuple[str, str] | None:
        """(article id, network) of a share code."""
        async with self.db.execute("SELECT article_id, network FROM share_codes WHERE code = ?", (code,)) as cur:
            row = await cur.fetchone()
        return (row[0], row[1]) if row else None

    async def set_status(self, article_id: str, status: str, now: datetime) -> bool:
        with outages_unavailable():
            async with self.tx.immediate() as db:
                cur = await db.execute(
                    "UPDATE articles SET status = ?, updated_at = ? WHERE id = ?", (status, epoch(now), article_id)
                )
        return cur.rowcount > 0

    async def iter_articles(self, batch: int = 1000) -> AsyncIterator[list[Article]]:
        """All articles, in id order, a batch at a time."""
        last = ""
        while True:
            async with self.db.execute(
                f"SELECT {_ARTICLE_COLS} FROM articles WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ) as cur:
                rows = [article_of(r) for r in await cur.fetchall()]
            if not rows:
                return
            yield rows
            last = rows[-1].id

    async def all_codes(self, article_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        ids = list(article_ids)
        out: dict[str, dict[str, str]] = {i: {} for i in ids}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT article_id, network, code FROM share_codes WHERE article_id IN ({marks})", chunk
            ) as cur:
                async for row in cur:
                    out[row[0]][row[1]] = row[2]
        return out

    async def totals(self, article_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Durable counts by `metric\\tnetwork` (and `uvd\\tday` snapshots) per article."""
        ids = list(article_ids)
        out: dict[str, dict[str, int]] = {i: {} for i in ids}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            async with self.db.execute(
                f"SELECT article_id, metric, network, n FROM counter_totals WHERE article_id IN ({marks})", chunk
            ) as cur:
                async for row in cur:
                    out[row[0]][f"{row[1]}\t{row[2]}"] = row[3]
            async with self.db.execute(
                f"SELECT article_id, day, n FROM unique_daily WHERE article_id IN ({marks})", chunk
            ) as cur:
                async for row in cur:
                    out[row[0]][f"uvd\t{row[1]}"] = row[2]
        return out

    async def count_articles(self) -> int:
        async with self.db.execute("SELECT COUNT(*) FROM articles") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
