"""An article as a row of the `articles` table, the same in both durable stores (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..moments import from_epoch
from ..records import Article

COLUMNS = "id, url, title, tags, published_at, section, image_url, summary, status, updated_at"


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def article_of(row: Any) -> Article:
    """An article from its row; a time stored out of range (by an older version) is clamped (from_epoch)."""
    return Article(
        id=row[0],
        url=row[1],
        title=row[2],
        tags=json.loads(row[3]),
        published_at=from_epoch(row[4]),
        section=row[5],
        image_url=row[6],
        summary=row[7],
        status=row[8],
        updated_at=from_epoch(row[9]),
    )


def row_of(a: Article) -> tuple[Any, ...]:
    """The row of an article (COLUMNS order); an article never updated is stamped now."""
    updated = a.updated_at or datetime.now(UTC)
    return (
        a.id, a.url, a.title, json.dumps(a.tags, ensure_ascii=False), epoch(a.published_at),
        a.section, a.image_url, a.summary, a.status, epoch(updated),
    )
