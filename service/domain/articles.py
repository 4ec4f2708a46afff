"""Articles as the CMS sends them, validated and normalised."""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from ..moments import Moment
from ..moments import rfc3339 as rfc3339
from ..records import Article as Article  # the stored record, in the leaf both layers share
from .text import clean_field, clean_text, text_key

ARTICLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TAGS = 32
MAX_TAG_LEN = 64
MAX_TITLE = 500
MAX_SECTION = 100
MAX_SUMMARY = 2000
MAX_URL = 2048


def valid_article_id(article_id: str) -> bool:
    """True if the id matches `[A-Za-z0-9_-]{1,64}`."""
    return bool(ARTICLE_ID.match(article_id))


@functools.lru_cache(maxsize=1 << 16)  # every related read keys each candidate's tags: a few hundred calls
def tag_key(display: str) -> str:
    """The form tags are matched by: the normalised text (NFKC, no invisible characters), case-folded."""
    return text_key(display)


def normalise_tags(raw: list[str]) -> list[str]:
    """Normalise (clean_text), drop case-insensitive duplicates (first display form wins), check limits."""
    seen: set[str] = set()
    tags: list[str] = []
    for item in raw:
        display = clean_text(item)
        if not display:
            raise ValueError("tags must contain visible characters")
        if len(display) > MAX_TAG_LEN:
            raise ValueError(f"tag longer than {MAX_TAG_LEN} characters: {display[:20]!r}...")
        key = tag_key(display)
        if key not in seen:
            seen.add(key)
            tags.append(display)
    if len(tags) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags")
    return tags


def _has_invisible(value: str) -> bool:
    """Whitespace, control, format or surrogate characters anywhere in `value`."""
    if value.isascii() and value.isprintable():
        return " " in value
    return any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value)


def _host_ok(host: str) -> bool:
    if host.startswith("["):
        return True  # an IPv6 literal, which urlsplit has already checked
    return all(ch.isalnum() or ch in "-._" for ch in host) and ".." not in host


def check_url(value: str, allowed: Any, what: str = "url") -> str:
    """An absolute http(s) URL with a valid host and port, on an allowed host when `allowed` is given.

    No whitespace, control, format or surrogate characters anywhere: the URL goes back out byte for
    byte in a Location header and in share intents.
    """
    if "\\" in value or _has_invisible(value):
        raise ValueError(f"{what} must not contain whitespace, control characters or backslashes")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:  # a bad IPv6 literal, a port that is not a number or out of range
        raise ValueError(f"{what} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{what} must be an absolute http(s) URL")
    host = parts.hostname
    if not host or parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError(f"{what} must have a host and no credentials")
    if not _host_ok(parts.netloc.rpartition(":")[0] if port is not None else parts.netloc) or port == 0:
        raise ValueError(f"{what} has an invalid host or port")
    if allowed is not None and not allowed(host):
        raise ValueError(f"host {host!r} is not in ALLOWED_HOSTS")
    return value


class ArticleIn(BaseModel):
    """Body of `PUT /v1/articles/{id}`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=MAX_URL)
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    tags: list[str] = Field(default_factory=list, max_length=200)
    published_at: Moment
    section: str | None = Field(None, max_length=MAX_SECTION)
    image_url: str | None = Field(None, max_length=MAX_URL)
    summary: str | None = Field(None, max_length=MAX_SUMMARY)

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

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        return clean_field(value, "title", MAX_TITLE)

    @field_validator("section", "summary")
    @classmethod
    def _optional_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None  # absent or empty: no section, no summary
        limit = MAX_SECTION if info.field_name == "section" else MAX_SUMMARY
        return clean_field(value, str(info.field_name), limit)


def article_from_input(article_id: str, data: ArticleIn, now: datetime) -> Article:
    """The record of a validated PUT body, updated `now`."""
    return Article(id=article_id, updated_at=now, **data.model_dump())


def tag_keys(article: Article) -> list[str]:
    """The article's tags in the form they are matched by."""
    return [tag_key(t) for t in article.tags]


class BulkArticle(ArticleIn):
    """One item of `POST /v1/articles/bulk`: an article body with its id.

    The id is documented as `id`, the name the article itself answers with (GET, PUT), so an exported
    article imports unchanged; `article_id`, the name of the event and stats payloads, is accepted too.
    """

    id: str = Field(pattern=ARTICLE_ID.pattern, validation_alias=AliasChoices("id", "article_id"))
