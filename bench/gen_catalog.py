"""Synthetic news catalogs: Zipf-popular tags, 3-8 tags an article, publish times over five years, and
titles (6-10 words) and summaries (25-45 words) drawn from a Zipf vocabulary of 50,000 words, so the
related index carries term postings of a realistic shape.

    python bench/gen_catalog.py 100000 > catalog.ndjson     # then: python -m service import catalog.ndjson
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

SECTIONS = ("World", "Politics", "Business", "Science", "Culture", "Sport", "Opinion", "Tech")
YEAR_S = 365 * 86_400


class ZipfTags:
    """Draws tag ranks 1..n with probability proportional to 1 / rank**s."""

    def __init__(self, n: int, s: float, rng: random.Random) -> None:
        self.rng = rng
        self.cumulative = list(itertools.accumulate(1 / rank**s for rank in range(1, n + 1)))

    def draw(self, k: int) -> list[int]:
        """k distinct ranks."""
        found: dict[int, None] = {}
        total = self.cumulative[-1]
        while len(found) < k:
            found[bisect.bisect_left(self.cumulative, self.rng.random() * total) + 1] = None
        return list(found)


SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "pa", "qu", "do", "fe", "gu", "hi", "jo")


def word(rank: int) -> str:
    """A pronounceable word per rank (no digits: a real word to the tokeniser)."""
    out = []
    rank += 4096
    while rank:
        rank, digit = divmod(rank, len(SYLLABLES))
        out.append(SYLLABLES[digit])
    return "".join(out)


def tag_name(rank: int) -> str:
    return f"tag-{rank:05d}"


def article_id(i: int) -> str:
    return f"story-{i:07d}"


def articles(n: int, *, tags: int = 10_000, zipf_s: float = 1.0, years: float = 5.0, seed: int = 1,
             now: int | None = None, start: int = 0) -> Iterator[dict[str, Any]]:
    """`n` catalog articles (ids `story-0000000`...) as the bulk API takes them."""
    rng = random.Random(seed)
    sampler = ZipfTags(tags, zipf_s, rng)
    vocabulary = ZipfTags(50_000, 1.05, rng)
    end = (now or int(time.time())) - 3600
    for i in range(start, start + n):
        ident = article_id(i)
        published = end - int(rng.random() * years * YEAR_S)
        yield {
            "id": ident,
            "url": f"https://t4k3.news/{ident}",
            "title": " ".join(map(word, vocabulary.draw(rng.randint(6, 10)))).capitalize(),
            "summary": " ".join(map(word, vocabulary.draw(rng.randint(25, 45)))).capitalize() + ".",
            "tags": [tag_name(rank) for rank in sampler.draw(rng.randint(3, 8))],
            "published_at": datetime.fromtimestamp(published, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "section": rng.choice(SECTIONS),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int)
    parser.add_argument("--tags", type=int, default=10_000)
    parser.add_argument("--zipf", type=float, default=1.0)
    parser.add_argument("--years", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for item in articles(args.n, tags=args.tags, zipf_s=args.zipf, years=args.years, seed=args.seed):
        sys.stdout.write(json.dumps(item) + "\n")


if __name__ == "__main__":
    main()
