"""Plain records of the related-news index, shared by storage and domain, and the docs-hash entry format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from ..records import Doc

SEP = "\x1f"  # never inside a tag or section key: both are whitespace-normalised
SEP_BYTES = SEP.encode()
TERMS_SEP = "\x1e"  # before the terms of a docs entry: "stem count stem count" (stems hold no spaces)
TERMS_SEP_BYTES = TERMS_SEP.encode()


def encode_doc(doc: Doc) -> str:
    """The docs-hash entry of a published article."""
    terms = " ".join(f"{t} {c}" for t, c in doc.terms)
    return SEP.join([str(doc.published_at), doc.section, *sorted(doc.tags)]) + TERMS_SEP + terms


def decode_terms(raw: str) -> tuple[tuple[str, int], ...]:
    words = raw.split()
    return tuple(zip(words[0::2], map(int, words[1::2]), strict=True))


def decode_doc(article_id: str, raw: bytes | str) -> Doc:
    text = raw.decode() if isinstance(raw, bytes) else raw
    head, _sep, terms = text.partition(TERMS_SEP)  # an entry written before terms existed has none
    published, section, *tags = head.split(SEP)
    return Doc(article_id, frozenset(tags), int(published), section, terms=decode_terms(terms))


@dataclass(frozen=True)
class Meta:
    """What the article hash and totals say about an article (tags and section in display form)."""

    article_id: str
    title: str
    url: str
    published_at: int
    tags: list[str]
    status: str
    section: str
    views: int | None = None  # popularity inputs; None when not read
    shares: int | None = None


@dataclass(frozen=True)
class Change:
    """An article's docs entry before and after a write (None: not indexed)."""

    article_id: str
    old: Doc | None
    new: Doc | None


@dataclass(frozen=True)
class Applied:
    df: dict[str, int]
    shard_sizes: dict[int, int]
    seq: int


@dataclass(frozen=True)
class PoolState:
    """An article's docs entry and the sequence its list was built at (0: queued, None: never)."""

    doc: Doc | None
    built: int | None


Posted = tuple[list[bytes], list[int]]  # a tag's postings as read: members, publish times


class Candidate(NamedTuple):
    """What a list build needs of an article found in the postings."""

    article_id: str
    tags: tuple[str, ...]  # tag keys; () when it is no longer indexed
    indexed: bool
    built: int  # the sequence its list was built at; 0 when queued or never built
    published_at: int = 0
    terms: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Build:
    """A computed candidate list and the pushes into other lists it causes."""

    article_id: str
    items: list[tuple[str, int]]
    pushes: list[tuple[str, int]]


@dataclass
class QueryRead:
    """The one-round-trip read of a query article, its list and the metadata of hinted candidates."""

    meta: Meta | None
    indexed: bool
    built: int | None
    pending: int | None
    candidates: list[str]
    metas: dict[str, Meta | None] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)  # candidate -> storage key
