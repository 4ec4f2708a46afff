"""The index writes of a batch of catalog changes, grouped by Redis key (one command per key, not per article)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from . import keys
from .related_records import Change


@dataclass
class Writes:
    """The index writes of a batch of changes, grouped by key."""

    untagged: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # postings key -> ids
    unsectioned: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    gone: list[str] = field(default_factory=list)
    tagged: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # postings key -> ids
    df: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    term_df: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    capped: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # recent, sections
    unbuilt: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, change: Change, queued: bool, posted: int) -> None:
        """`posted`: an article's postings hold its first (heaviest) `posted` terms; all count in df."""
        a, old, new = change.article_id, change.old, change.new
        old_tags = old.tags if old else frozenset()
        new_tags = new.tags if new else frozenset()
        old_terms = {t for t, _c in old.terms} if old else set()
        new_terms = {t for t, _c in new.terms} if new else set()
        old_posted = {t for t, _c in old.terms[:posted]} if old else set()
        new_posted = {t for t, _c in new.terms[:posted]} if new else set()
        for tag in old_tags - new_tags:
            self.untagged[keys.related_tag(tag)].append(a)
            self.df[tag] -= 1
        for term in old_posted - new_posted:
            self.untagged[keys.related_term(term)].append(a)
        for term in old_terms - new_terms:
            self.term_df[term] -= 1
        if old and old.section and (new is None or new.section != old.section):
            self.unsectioned[old.section].append(a)
        if new is None:
            self.gone.append(a)
            return
        moved = old is None or old.published_at != new.published_at  # else only new postings are written
        for tag in new_tags if moved else new_tags - old_tags:
            self.tagged[keys.related_tag(tag)][a] = new.published_at
        for term in new_posted if moved else new_posted - old_posted:
            self.tagged[keys.related_term(term)][a] = new.published_at
        for tag in new_tags - old_tags:
            self.df[tag] += 1
        for term in new_terms - old_terms:
            self.term_df[term] += 1
        self.capped[keys.related_recent()][a] = new.published_at
        if new.section:
            self.capped[keys.related_section(new.section)][a] = new.published_at
        if queued:
            self.unbuilt[keys.shard_of(a)][a] = 0
