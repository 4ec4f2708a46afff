"""The durable store's interface: what the domain and the API need, whichever database holds the record.

Two adapters implement it: SQLite in DATA_DIR (the embedded default, one host) and PostgreSQL
(`DATABASE_URL`, shared by every host). Both apply a flush exactly once: the batch ledger and the
counter upserts commit in one transaction, and a batch already in the ledger changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from ..records import Article
from .flush_rows import ApplyItem

Hook = Callable[[str], Awaitable[None]]  # the flusher's crash points ("mid_apply"), for tests
HourCounts = dict[int, dict[str, int]]


class ArticleStore(Protocol):
    """The catalog and its share codes, plus the durable counter totals per article."""

    async def save_articles(
        self, items: list[tuple[Article, dict[str, str]]]
    ) -> list[tuple[bool, dict[str, str]]]:
        """Insert or replace, keeping existing codes; (created, codes by network) per item, in one transaction."""
        ...

    async def save_article(self, article: Article, codes: dict[str, str]) -> tuple[bool, dict[str, str]]: ...

    async def get_article(self, article_id: str) -> Article | None: ...

    async def set_status(self, article_id: str, status: str, now: datetime) -> bool: ...

    def iter_articles(self, batch: int = 1000) -> AsyncIterator[list[Article]]:
        """All articles, in id order, a batch at a time."""
        ...

    async def count_articles(self) -> int: ...

    async def codes(self, article_id: str) -> dict[str, str]: ...

    async def all_codes(self, article_ids: Iterable[str]) -> dict[str, dict[str, str]]: ...

    async def code_target(self, code: str) -> tuple[str, str] | None: ...

    async def totals(self, article_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Durable counts by `metric\\tnetwork` (and `uvd\\tday` snapshots) per article."""
        ...


class CounterWriter(Protocol):
    """The flusher's writes."""

    async def apply(self, items: Sequence[ApplyItem], now: int) -> set[str]:
        """Ledger + upserts in one transaction; batches already in the ledger are skipped. Ids applied now."""
        ...

    async def roll_up(self, hour_cutoff: int) -> int:
        """Hourly rows older than the cutoff into daily rows; returns the hourly rows moved."""
        ...

    async def prune_ledger(self, before: int) -> int: ...


class ReportReader(Protocol):
    """Time series and period totals from hourly and daily buckets."""

    async def hourly(self, article_id: str, metric: str, first_hour: int, last_hour: int) -> dict[int, int]: ...

    async def daily(self, article_id: str, metric: str, first_day: int, last_day: int) -> dict[int, int]: ...

    def period_totals(self, first_hour: int, last_hour: int) -> AsyncIterator[tuple[Any, ...]]:
        """Per article: id, title, url, published_at, status, views, uniques, shares, clicks, bot views, bot clicks."""
        ...


class AggregateReader(Protocol):
    """Small reads over all articles for trending and the ops view."""

    async def hour_counts(self, metric: str, hours: Sequence[int]) -> HourCounts:
        """Flushed counts per article of each hour."""
        ...

    async def by_network(self, since_hour: int) -> dict[str, dict[str, int]]:
        """Flushed shares and clicks per network from `since_hour` on."""
        ...


class Durable(Protocol):
    """One durable store: its parts, a readiness probe and closing."""

    @property
    def kind(self) -> str:
        """"sqlite" or "postgres": the name of its /readyz check."""
        ...

    @property
    def store(self) -> ArticleStore: ...

    @property
    def reports(self) -> ReportReader: ...

    @property
    def aggregates(self) -> AggregateReader: ...

    def counters(self, hook: Hook) -> CounterWriter:
        """The flusher's writer; `hook` is awaited at its crash points."""
        ...

    async def ping(self) -> None:
        """A read that answers while the database serves reads; raises otherwise."""
        ...

    async def close(self) -> None: ...
