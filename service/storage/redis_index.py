"""The hot-path copy of the catalog in Redis: article hashes, share codes in use, seeded totals."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from ..records import Article
from . import keys
from .decode import text
from .redis_cluster import Client, pipeline, queue_script
from .scripts import SEED

# Articles per pipeline: packing and parsing one runs on the event loop without a break (about 11
# commands an article), so a bulk batch of 1000 is written in pieces that keep each stall to a few ms
# (bulk of 1000 in one pipeline: the loop stalled ~120 ms; in pieces of 25: p99 7 ms, throughput kept).
PUT_CHUNK = 25


def _article_fields(article: Article, codes: Mapping[str, str]) -> dict[str, str]:
    """What the hot path reads, short: a hash whose values all fit hash-max-listpack-value (64 bytes)
    stays a listpack, about a quarter of a hashtable's size. Nothing reads the id (it is in the key)
    or the image URL from Redis; tags are compact JSON; a share code only once it is in use."""
    fields = {
        "url": article.url,
        "title": article.title,
        "tags": json.dumps(article.tags, ensure_ascii=False, separators=(",", ":")),
        "published_at": str(int(article.published_at.timestamp())),
        "section": article.section or "",
        "status": article.status,
    }
    fields.update({code_field(network): code for network, code in codes.items()})
    return fields


def code_field(network: str) -> str:
    """The article-hash field holding the article's share code on `network`, once shared."""
    return f"code:{network}"


class RedisIndex:
    """Writes and reads of the catalog index; every write is idempotent."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis
        self._seed = redis.register_script(SEED)

    async def put(
        self,
        articles: Iterable[tuple[Article, str | None, Mapping[str, str], Mapping[str, int]]],
    ) -> None:
        """Index articles (with their canonical URL, if any) with their share codes in use and seed their
        totals (once) from durable counts."""
        items = list(articles)
        for start in range(0, len(items), PUT_CHUNK):
            await self._put(items[start : start + PUT_CHUNK])

    async def _put(self, articles: list[tuple[Article, str | None, Mapping[str, str], Mapping[str, int]]]) -> None:
        async with pipeline(self.redis) as pipe:
            for article, canonical, codes, totals in articles:
                art_key = keys.article(article.id)
                pipe.delete(art_key)
                pipe.hset(art_key, mapping=_article_fields(article, codes))
                for network, code in codes.items():
                    pipe.hset(keys.codes(keys.code_shard(code)), code, code_target_value(article.id, network))
                if canonical is not None:
                    pipe.set(keys.article_by_url(canonical), article.id)
                flat: list[str | int] = []
                for field, n in totals.items():
                    flat += [field, n]
                await queue_script(pipe, self._seed, [keys.totals(article.id)], flat)
            await pipe.execute()

    async def article_at(self, canonical: str) -> tuple[str, str] | None:
        """(id, current URL) of the indexed article last put at the canonical URL `canonical`, if any."""
        found = await self.redis.get(keys.article_by_url(canonical))
        if found is None:
            return None
        article_id = text(found)
        current = await self.redis.hget(keys.article(article_id), "url")
        return None if current is None else (article_id, text(current))

    async def set_status(self, article_id: str, status: str) -> None:
        await self.redis.hset(keys.article(article_id), "status", status)

    async def code_target(self, code: str) -> tuple[str, str] | None:
        """(article id, network) behind a share code, if indexed."""
        found = await self.redis.hget(keys.codes(keys.code_shard(code)), code)
        if found is None:
            return None
        article_id, _, network = text(found).partition("\t")
        return article_id, network

    async def add_code(self, article_id: str, network: str, code: str) -> None:
        """An article's first share on a network: its code into the article hash and the codes hash."""
        async with pipeline(self.redis) as pipe:
            pipe.hset(keys.article(article_id), code_field(network), code)
            pipe.hset(keys.codes(keys.code_shard(code)), code, code_target_value(article_id, network))
            await pipe.execute()

    async def remember_code(self, code: str, article_id: str, network: str) -> None:
        """A code clicked but missing here (read from SQLite): kept for the next click."""
        await self.redis.hset(keys.codes(keys.code_shard(code)), code, code_target_value(article_id, network))

    async def missing_shards(self) -> list[int]:
        """Shards whose seeded marker is gone: Redis lost its data since they were rebuilt."""
        async with pipeline(self.redis) as pipe:
            for shard in range(keys.SHARDS):
                pipe.exists(keys.seeded(shard))
            found = await pipe.execute()
        return [shard for shard, ok in enumerate(found) if not ok]

    async def mark_seeded(self, shards: Iterable[int]) -> None:
        async with pipeline(self.redis) as pipe:
            for shard in shards:
                pipe.set(keys.seeded(shard), "1")
            await pipe.execute()


def code_target_value(article_id: str, network: str) -> str:
    """The codes-hash value of a code: article ids and network names hold no tab."""
    return f"{article_id}\t{network}"


