"""The durable record in PostgreSQL: catalog, share codes and counter totals per article."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from datetime import datetime
from typing import Any

from ..records import Article
from .article_rows import article_of, epoch, row_of
from .pg_pool import Conn, PgPool, rowcount

_ARTICLE_COLS = "id, url, title, tags, published_at, section, image_url, summary, status, updated_at"
_UPSERT_ARTICLES = f"""
INSERT INTO articles ({_ARTICLE_COLS})
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::bigint[])
ON CONFLICT (id) DO UPDATE SET
    url = excluded.url, title = excluded.title, tags = excluded.tags, published_at = excluded.published_at,
    section = excluded.section, image_url = excluded.image_url, summary = excluded.summary,
    status = excluded.status, updated_at = excluded.updated_at
"""
_INSERT_CODES = """
INSERT INTO share_codes (code, article_id, network)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
ON CONFLICT DO NOTHING
"""


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows as column arrays, for one INSERT … SELECT FROM unnest(…) of the whole batch."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


class PgStore:
    """Reads and writes of the durable record over a pool of PostgreSQL connections."""

    def __init__(self, pool: PgPool) -> None:
        self.pool = pool

    async def save_article(self, article: Article, codes: dict[str, str]) -> tuple[bool, dict[str, str]]:
        """Insert or replace; keep existing share codes. Returns (created, codes by network)."""
        return (await self.save_articles([(article, codes)]))[0]

    async def save_articles(
        self, items: list[tuple[Article, dict[str, str]]]
    ) -> list[tuple[bool, dict[str, str]]]:
        """save_article for a batch in one transaction; an id repeated in the batch is created once."""
        ids = [article.id for article, _codes in items]
        last = {article.id: article for article, _codes in items}  # one upsert a row: the last version wins
        codes = [(code, article.id, network) for article, cs in items for network, code in cs.items()]
        async with self.pool.transaction() as conn:
            existing = {r[0] for r in await conn.fetch("SELECT id FROM articles WHERE id = ANY($1::text[])", ids)}
            await conn.execute(_UPSERT_ARTICLES, *_columns([row_of(a) for a in last.values()], 10))
            await conn.execute(_INSERT_CODES, *_columns(codes, 3))
            stored = await self._all_codes(conn, set(ids))
        results = []
        for article_id in ids:
            results.append((article_id not in existing, stored[article_id]))
            existing.add(article_id)
        return results

    async def get_article(self, article_id: str) -> Article | None:
        row = await self.pool.fetchrow(f"SELECT {_ARTICLE_COLS} FROM articles WHERE id = $1", article_id)
        return article_of(row) if row else None

    async def set_status(self, article_id: str, status: str, now: datetime) -> bool:
        status_line = await self.pool.execute(
            "UPDATE articles SET status = $1, updated_at = $2 WHERE id = $3", status, epoch(now), article_id
        )
        return rowcount(status_line) > 0

    async def iter_articles(self, batch: int = 1000) -> AsyncIterator[list[Article]]:
        """All articles, in id order, a batch at a time (each batch its own bounded query)."""
        last = ""
        while True:
            rows = await self.pool.fetch(
                f"SELECT {_ARTICLE_COLS} FROM articles WHERE id > $1 ORDER BY id LIMIT $2", last, batch
            )
            if not rows:
                return
            articles = [article_of(r) for r in rows]
            yield articles
            last = articles[-1].id

    async def count_articles(self) -> int:
        return int(await self.pool.fetchval("SELECT count(*) FROM articles"))

    async def codes(self, article_id: str) -> dict[str, str]:
        """Share codes of an article by network."""
        rows = await self.pool.fetch("SELECT network, code FROM share_codes WHERE article_id = $1", article_id)
        return {r[0]: r[1] for r in rows}

    async def all_codes(self, article_ids: Iterable[str]) -> dict[str, dict[str, str]]:
        async with self.pool.connection() as conn:
            return await self._all_codes(conn, set(article_ids))

    @staticmethod
    async def _all_codes(conn: Conn, ids: set[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {i: {} for i in ids}
        sql = "SELECT article_id, network, code FROM share_codes WHERE article_id = ANY($1::text[])"
        for r in await conn.fetch(sql, list(ids)):
            out[r[0]][r[1]] = r[2]
        return out

    async def code_target(self, code: str) -> tuple[str, str] | None:
        """(article id, network) of a share code."""
        row = await self.pool.fetchrow("SELECT article_id, network FROM share_codes WHERE code = $1", code)
        return (row[0], row[1]) if row else None

    async def totals(self, article_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Durable counts by `metric\\tnetwork` (and `uvd\\tday` snapshots) per article."""
        ids = list(dict.fromkeys(article_ids))
        out: dict[str, dict[str, int]] = {i: {} for i in ids}
        async with self.pool.connection() as conn:
            counts = await conn.fetch(
                "SELECT article_id, metric, network, n FROM counter_totals WHERE article_id = ANY($1::text[])", ids
            )
            uniques = await conn.fetch(
                "SELECT article_id, day, n FROM unique_daily WHERE article_id = ANY($1::text[])", ids
            )
        for r in counts:
            out[r[0]][f"{r[1]}\t{r[2]}"] = int(r[3])
        for r in uniques:
            out[r[0]][f"uvd\t{r[1]}"] = int(r[2])
        return out
