"""Articles as the CMS sends them, validated and normalised."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

ARTICLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TAGS = 32
MAX_TAG_LEN = 64
_SPACES = re.compile(r"\s+")


def valid_article_id(article_id: str) -> bool:
    """True if the id matches `[A-Za-z0-9_-]{1,64}`."""
    return bool(ARTICLE_ID.match(article_id))


def tag_key(display: str) -> str:
    """The form tags are matched by: trimmed, single-spaced, case-folded."""
    return _SPACES.sub(" ", display.strip()).casefold()


def normalise_tags(raw: list[str]) -> list[str]:
    """Trim, drop case-insensitive duplicates (first display form wins), check limits."""
    seen: set[str] = set()
    tags: list[str] = []
    for item in raw:
        display = _SPACES.sub(" ", item.strip())
        if not display:
            raise ValueError("tags must not be empty")
        if len(display) > MAX_TAG_LEN:
            raise ValueError(f"tag longer than {MAX_TAG_LEN} characters: {display[:20]!r}...")
        key = tag_key(display)
        if key not in seen:
            seen.add(key)
            tags.append(display)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tags


def check_url(value: str, allowed: Any, what: str = "url") -> str:
    """An absolute http(s) URL, on an allowed host when `allowed` is given."""
    if any(ch in value for ch in "\r\n\t ") or "\\" in value:
        raise ValueError(f"{what} must not contain whitespace or backslashes")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{what} must be an absolute http(s) URL")
    if not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{what} must have a host and no credentials")
    if allowed is not None and not allowed(parts.hostname):
        raise ValueError(f"host {parts.hostname!r} is not in ALLOWED_HOSTS")
    return value


class ArticleIn(BaseModel):
    """Body of `PUT /v1/articles/{id}`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=2048)
    title: str = Field(min_length=1, max_length=500)
    tags: list[str] = Field(default_factory=list, max_length=200)
    published_at: AwareDatetime
    section: str | None = Field(None, max_length=100)
    image_url: str | None = Field(None, max_length=2048)
    summary: str | None = Field(None, max_length=2000)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        allowed = (info.context or {}).get("host_allowed")
        return check_url(value, allowed)

    @field_validator("image_url")
    @classmethod
    def _image(cls, value: str | None) -> str | None:
        return None if value in (None, "") else check_url(value, None, "image_url")

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        return normalise_tags(value)


class Article(BaseModel):
    """A stored article."""

    id: str
    url: str
    title: str
    tags: list[str]
    published_at: datetime
    section: str | None = None
    image_url: str | None = None
    summary: str | None = None
    status: str = "published"
    updated_at: datetime | None = None

    @property
    def published(self) -> bool:
        return self.status == "published"

    @property
    def tag_keys(self) -> list[str]:
        return [tag_key(t) for t in self.tags]

    @classmethod
    def from_input(cls, article_id: str, data: ArticleIn, now: datetime) -> Article:
        return cls(
            id=article_id,
            updated_at=now,
            **data.model_dump(),
        )

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


def rfc3339(moment: datetime) -> str:
    """UTC, seconds precision, `Z` suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
