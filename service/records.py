"""Plain records that the domain and storage both hold: the stored article, a ranking's view of it,
the share networks. A leaf: it imports nothing of the service but `moments` (pure time values)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, PlainSerializer

from .moments import rfc3339

Network = Literal[
    "facebook", "x", "linkedin", "whatsapp", "telegram", "reddit", "bluesky", "email", "copy", "native"
]
NETWORKS: tuple[str, ...] = (
    "facebook", "x", "linkedin", "whatsapp", "telegram", "reddit", "bluesky", "email", "copy", "native",
)

Terms = tuple[tuple[str, int], ...]  # (stem, weighted count) of an article's salient terms


Stamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]  # RFC 3339 UTC, seconds


class Article(BaseModel):
    """A stored article."""

    id: str
    url: str
    title: str
    tags: list[str]
    published_at: Stamp
    section: str | None = None
    image_url: str | None = None
    summary: str | None = None
    status: Literal["published", "unpublished"] = "published"
    updated_at: Stamp | None = None

    @property
    def published(self) -> bool:
        return self.status == "published"

    def public(self) -> dict[str, Any]:
        """The JSON shape the API answers with."""
        return {
            "id": self.id,
            "url": self.url,
            "title": self.title,
            "tags": self.tags,
            "published_at": rfc3339(self.published_at),
            "section": self.section,
            "image_url": self.image_url,
            "summary": self.summary,
            "status": self.status,
            "updated_at": rfc3339(self.updated_at) if self.updated_at else None,
        }


class Doc(NamedTuple):
    """An article as ranking sees it: tag keys, epoch seconds, views + 5 x shares, salient terms."""

    article_id: str
    tags: frozenset[str]
    published_at: int
    section: str = ""
    popularity: float = 0.0
    published: bool = True
    terms: Terms = ()
