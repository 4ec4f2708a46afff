"""The related-news index in Redis: tag postings, document frequencies, per-article candidate lists.

Scripts touch keys of one slot only (an article's shard, a tag, the queue); reads and writes that span
articles go in pipelines.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from redis.exceptions import NoScriptError

from ..moments import clamp_epoch
from ..records import NETWORKS, Doc
from . import keys
from .decode import text
from .redis_cluster import Client, pipeline
from .related_lua import DONE, NEAR, PENDING, PUSH, SCRIPTS, STORE, SWAP, TERM_DF, sha
from .related_records import (
    SEP_BYTES,
    TERMS_SEP_BYTES,
    Applied,
    Build,
    Candidate,
    Change,
    Meta,
    PoolState,
    Posted,
    QueryRead,
    decode_doc,
    decode_terms,
    encode_doc,
)
from .related_writes import Writes

PIPELINE_WORK = 5_000  # ids (or query times) a bulk-build pipeline carries: Redis answers it well within
# the client's socket timeout even at a million articles, other clients get a turn in between, and
# packing one holds this process's event loop for a few ms (20,000: tens of ms, bench/import_stall.py)
T = TypeVar("T")
Around = tuple[list[tuple[bytes, int]], list[tuple[bytes, int]]]  # (member, time) before and after a time

# field names as bytes: redis-py passes bytes through without encoding them again
META_FIELDS = (b"title", b"url", b"published_at", b"tags", b"status", b"section")
POPULARITY_FIELDS = (b"view\t", *(f"share\t{n}".encode() for n in NETWORKS))


def _pairs(reply: list[Any]) -> list[tuple[bytes, int]]:
    """A raw `WITHSCORES` reply (flat on RESP2, pairs on RESP3) as (member, integral score) pairs."""
    if reply and isinstance(reply[0], list):
        return [(member, int(score)) for member, score in reply]
    return list(zip(reply[0::2], map(int, reply[1::2]), strict=True))


def _bounded(items: Sequence[T], size: Callable[[T], int], limit: int = PIPELINE_WORK) -> Iterator[list[T]]:
    """Consecutive runs of items whose sizes add up to about `limit` (each holds at least one item)."""
    run: list[T] = []
    total = 0
    for item in items:
        if run and total + size(item) > limit:
            yield run
            run, total = [], 0
        run.append(item)
        total += size(item)
    if run:
        yield run


def _queue_near(tags: list[str], around: Mapping[str, Sequence[int]], k: int, with_seq: bool, pipe: Any) -> None:
    if with_seq:  # read before the postings: the build has seen everything up to it
        pipe.get(keys.related_seq())
    for key in tags:
        pipe.evalsha(sha(NEAR), 1, key, k, *around[key])


def _meta(article_id: str, values: Sequence[Any], totals: Sequence[Any] | None = None) -> Meta | None:
    title, url, published, tags, status, section = values
    if status is None or published is None:
        return None
    views = shares = None
    if totals is not None:
        views, shares = int(totals[0] or 0), sum(int(v or 0) for v in totals[1:])
    return Meta(article_id, text(title or b""), text(url or b""), clamp_epoch(published),
                json.loads(tags or b"[]"),
                text(status), text(section or b""), views, shares)


class RelatedIndex:
    """Reads and writes of the related index; the caller supplies ids, clocks and scores."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis
        self._tags: dict[bytes, str] = {}  # tag keys as read, decoded once: candidates share them

    async def _scripted(self, queue: Callable[[Any], None]) -> list[Any]:
        """Run a pipeline of EVALSHAs (and other commands), loading the scripts once if Redis lacks them.

        Every queued write is idempotent, so running the pipeline again after NOSCRIPT is safe.
        """
        for attempt in (1, 2):
            async with pipeline(self.redis) as pipe:
                queue(pipe)
                try:
                    return list(await pipe.execute())
                except NoScriptError:
                    if attempt == 2:
                        raise
            for script in SCRIPTS.values():
                await self.redis.script_load(script)
        raise AssertionError("unreachable")

    async def swap(self, entries: Sequence[tuple[str, Doc | None]]) -> list[Doc | None]:
        """Replace the docs entries of articles (None removes one); returns the previous entries."""

        def queue(pipe: Any) -> None:
            for article_id, doc in entries:
                docs = keys.related_docs(keys.shard_of(article_id))
                pipe.evalsha(sha(SWAP), 1, docs, article_id, encode_doc(doc) if doc else "")

        replies = await self._scripted(queue)
        return [decode_doc(a, raw) if raw is not None else None for (a, _d), raw in zip(entries, replies, strict=True)]

    async def apply(self, changes: Sequence[Change], recent_cap: int, queued: bool, posted: int) -> Applied:
        """Write postings, frequencies and fallback sets for changed articles (each at most once); bumps
        the sequence. One command per key touched, not per article: a bulk batch is a few thousand.

        `queued`: their lists will be built later, so mark them unbuilt (nobody pushes into them).
        """
        w = Writes()
        for change in changes:
            w.add(change, queued, posted)
        async with pipeline(self.redis) as pipe:
            for key, ids in sorted(w.untagged.items()):
                pipe.zrem(key, *ids)
            for section, ids in sorted(w.unsectioned.items()):
                pipe.zrem(keys.related_section(section), *ids)
            for a in w.gone:
                pipe.zrem(keys.related_recent(), a)
                pipe.delete(keys.related_candidates(a))
                pipe.hdel(keys.related_built(keys.shard_of(a)), a)
                pipe.zrem(keys.related_pending(), a)
                pipe.zrem(keys.related_pending_order(), a)
            for key, members in sorted(w.tagged.items()):
                pipe.zadd(key, members)
            marks = []
            for tag, delta in sorted(w.df.items()):
                marks.append((len(pipe), tag))
                pipe.hincrby(keys.related_df(), tag, delta)
            if w.term_df:  # one call for the whole batch: a few hundred terms
                deltas = [x for term, delta in sorted(w.term_df.items()) for x in (term, delta)]
                pipe.eval(TERM_DF, 1, keys.related_term_df(), *deltas)  # EVAL: a pipeline is not re-run
            for key, members in sorted(w.capped.items()):
                pipe.zadd(key, members)
                pipe.zremrangebyrank(key, 0, -(recent_cap + 1))
            for shard, unbuilt in sorted(w.unbuilt.items()):
                pipe.hset(keys.related_built(shard), mapping=unbuilt)
            shards = sorted({keys.shard_of(c.article_id) for c in changes})
            for shard in shards:
                pipe.hlen(keys.related_docs(shard))
            pipe.incr(keys.related_seq())
            replies = await pipe.execute()
        sizes = replies[-1 - len(shards) : -1]
        return Applied({tag: int(replies[i]) for i, tag in marks}, dict(zip(shards, sizes, strict=True)),
                       int(replies[-1]))

    async def unlist(self, article_id: str, owners: Iterable[bytes]) -> None:
        """Remove an article from other articles' candidate lists."""
        async with pipeline(self.redis) as pipe:
            for owner in owners:
                pipe.zrem(keys.related_candidates(owner.decode()), article_id)
            await pipe.execute()

    async def pool(self, postings: Iterable[str], around: int, per_tag: int) -> tuple[int, list[Around]]:
        """(index sequence, per postings key the `per_tag` entries before or at `around` going back and the
        `per_tag` after it going forward: the nearest in time are among them)."""
        async with pipeline(self.redis) as pipe:
            pipe.get(keys.related_seq())  # read before the postings: the build has seen everything up to it
            for key in sorted(postings):
                # raw WITHSCORES replies: redis-py's per-score float callbacks cost more than the read
                pipe.execute_command("ZREVRANGEBYSCORE", key, around, "-inf", "WITHSCORES", "LIMIT", 0, per_tag)
                pipe.execute_command("ZRANGEBYSCORE", key, f"({around}", "+inf", "WITHSCORES", "LIMIT", 0, per_tag)
            replies = await pipe.execute()
        return int(replies[0] or 0), [(_pairs(replies[i]), _pairs(replies[i + 1])) for i in range(1, len(replies), 2)]

    async def pool_state(self, article_ids: Iterable[bytes]) -> dict[bytes, PoolState]:
        """Docs entry and build sequence of each article (ids as bytes, as the postings hold them)."""
        by_shard: dict[int, list[bytes]] = defaultdict(list)
        for a in article_ids:
            by_shard[zlib.crc32(a) % keys.SHARDS].append(a)  # keys.shard_of, on bytes
        if not by_shard:
            return {}
        groups = [(shard, ids[i : i + 500]) for shard, ids in by_shard.items() for i in range(0, len(ids), 500)]
        async with pipeline(self.redis) as pipe:
            for shard, ids in groups:  # moderate commands: redis-py packs huge ones slowly
                pipe.hmget(keys.related_docs(shard), ids)
                pipe.hmget(keys.related_built(shard), ids)
            replies = await pipe.execute()
        out: dict[bytes, PoolState] = {}
        for n, (_shard, ids) in enumerate(groups):
            for a, raw, built in zip(ids, replies[2 * n], replies[2 * n + 1], strict=True):
                doc = decode_doc(a.decode(), raw) if raw is not None else None
                out[a] = PoolState(doc, int(built) if built is not None else None)
        return out

    async def postings(self, around: Mapping[str, Sequence[int]], k: int) -> tuple[int, dict[str, Posted]]:
        """(index sequence, tag -> (members, publish times) ascending): per tag, for each of its times
        (ascending) the k postings on either side, which hold its k nearest. Bounded pipelines."""
        seq: int | None = None
        found: dict[str, Posted] = {}
        for tags in _bounded(sorted(around), lambda tag: len(around[tag])):
            replies = await self._scripted(partial(_queue_near, tags, around, k, seq is None))
            if seq is None:
                seq, replies = int(replies[0] or 0), replies[1:]
            found.update({tag: (r[0::2], list(map(int, r[1::2]))) for tag, r in zip(tags, replies, strict=True)})
        if seq is None:
            seq = int(await self.redis.get(keys.related_seq()) or 0)
        return seq, found

    async def candidates(self, members: Iterable[bytes]) -> dict[bytes, Candidate]:
        """Tag keys and build sequence of articles found in the postings (bounded pipelines)."""
        by_shard: dict[int, list[bytes]] = defaultdict(list)
        for a in members:
            by_shard[zlib.crc32(a) % keys.SHARDS].append(a)  # keys.shard_of, on bytes
        groups = [(shard, ids[i : i + 500]) for shard, ids in by_shard.items() for i in range(0, len(ids), 500)]
        tag = self._tag
        out: dict[bytes, Candidate] = {}
        for part in _bounded(groups, lambda group: len(group[1])):
            async with pipeline(self.redis) as pipe:
                for shard, ids in part:
                    pipe.hmget(keys.related_docs(shard), ids)
                    pipe.hmget(keys.related_built(shard), ids)
                replies = await pipe.execute()
            for n, (_shard, ids) in enumerate(part):
                for a, raw, built in zip(ids, replies[2 * n], replies[2 * n + 1], strict=True):
                    if raw is None:
                        out[a] = Candidate(a.decode(), (), False, int(built or 0))
                        continue
                    head, _sep, terms = raw.partition(TERMS_SEP_BYTES)
                    fields = head.split(SEP_BYTES)
                    out[a] = Candidate(a.decode(), tuple(map(tag, fields[2:])), True, int(built or 0),
                                       int(fields[0]), decode_terms(terms.decode()))
        return out

    def _tag(self, raw: bytes) -> str:
        found = self._tags.get(raw)
        if found is None:
            if len(self._tags) > 200_000:
                self._tags.clear()
            found = self._tags[raw] = raw.decode()
        return found

    async def store(self, builds: Sequence[Build], seq: int, cap: int) -> None:
        """Write lists, push their articles into others' lists and take them off the queue."""

        def queue(pipe: Any) -> None:
            for b in builds:
                shard = keys.shard_of(b.article_id)
                listed = " ".join([f"{key} {member}" for member, key in b.items])  # ids hold no spaces
                pipe.evalsha(sha(STORE), 3, keys.related_candidates(b.article_id), keys.related_built(shard),
                             keys.related_docs(shard), b.article_id, seq, listed)
                for owner, key in b.pushes:
                    pipe.evalsha(sha(PUSH), 2, keys.related_candidates(owner),
                                 keys.related_built(keys.shard_of(owner)), owner, b.article_id, key, cap)
                pipe.evalsha(sha(DONE), 3, keys.related_pending(), keys.related_pending_order(), keys.related_claimed(),
                             b.article_id, seq)

        await self._scripted(queue)

    async def read(self, article_id: str, hinted: Sequence[str], known: Container[str] = ()) -> QueryRead:
        """One round trip: the query's hash and index state, its list, and hinted candidates' metadata
        (popularity inputs except for the `known` ones)."""
        shard = keys.shard_of(article_id)
        known = {a for a in hinted if a in known}  # decided once: the replies must line up
        async with pipeline(self.redis) as pipe:
            pipe.hmget(keys.article(article_id), META_FIELDS)
            pipe.hexists(keys.related_docs(shard), article_id)
            pipe.hget(keys.related_built(shard), article_id)
            pipe.zscore(keys.related_pending(), article_id)
            pipe.execute_command("ZREVRANGE", keys.related_candidates(article_id), 0, -1, "WITHSCORES")
            self._queue_meta(pipe, hinted, known)
            replies = await pipe.execute()
        meta, indexed, built, pending, members = replies[:5]
        listed = {m.decode(): k for m, k in _pairs(members)}
        return QueryRead(_meta(article_id, meta), bool(indexed), int(built) if built is not None else None,
                         int(pending) if pending is not None else None, list(listed),
                         self._parse_meta(hinted, known, replies[5:]), listed)

    async def metadata(self, article_ids: Sequence[str], known: Container[str] = ()) -> dict[str, Meta | None]:
        """Article hash and popularity inputs (except for the `known` ones) of each article, in one round trip."""
        if not article_ids:
            return {}
        known = {a for a in article_ids if a in known}  # decided once: the replies must line up
        async with pipeline(self.redis) as pipe:
            self._queue_meta(pipe, article_ids, known)
            replies = await pipe.execute()
        return self._parse_meta(article_ids, known, replies)

    @staticmethod
    def _queue_meta(pipe: Any, article_ids: Sequence[str], known: Container[str]) -> None:
        for a in article_ids:
            pipe.hmget(keys.article(a), META_FIELDS)
            if a not in known:
                pipe.hmget(keys.totals(a), POPULARITY_FIELDS)

    @staticmethod
    def _parse_meta(
        article_ids: Sequence[str], known: Container[str], replies: Sequence[Any]
    ) -> dict[str, Meta | None]:
        out: dict[str, Meta | None] = {}
        at = 0
        for a in article_ids:
            totals = None if a in known else replies[at + 1]
            out[a] = _meta(a, replies[at], totals)
            at += 1 if a in known else 2
        return out

    async def fallback_ids(self, tags: Iterable[str], section: str, oldest: float, newest: int,
                           per_source: int) -> list[str]:
        """Newest articles in a time window sharing a tag or the section, then the newest overall."""
        sources = [keys.related_tag(t) for t in sorted(tags)]
        if section:
            sources.append(keys.related_section(section))
        sources.append(keys.related_recent())
        async with pipeline(self.redis) as pipe:
            for key in sources:
                pipe.zrevrangebyscore(key, newest, oldest, start=0, num=per_source)
            replies = await pipe.execute()
        return list(dict.fromkeys(m.decode() for reply in replies for m in reply))

    async def stats(self) -> tuple[dict[str, int], dict[int, int]]:
        """Document frequencies (scanned, never one blocking read) and the size of every docs shard."""
        df: dict[str, int] = {}
        async for tag, n in self.redis.hscan_iter(keys.related_df(), count=1000):
            df[text(tag)] = int(n)
        async with pipeline(self.redis) as pipe:
            for shard in range(keys.SHARDS):
                pipe.hlen(keys.related_docs(shard))
            sizes = await pipe.execute()
        return df, {shard: int(n) for shard, n in enumerate(sizes)}

    async def term_df(self, terms: Iterable[str]) -> dict[str, int]:
        """Document frequencies of some terms (bounded pipelines; the vocabulary is never read whole)."""
        wanted = sorted(set(terms))
        out: dict[str, int] = {}
        for part in _bounded([wanted[i : i + 500] for i in range(0, len(wanted), 500)], len):
            async with pipeline(self.redis) as pipe:
                for chunk in part:
                    pipe.hmget(keys.related_term_df(), chunk)
                replies = await pipe.execute()
            for chunk, values in zip(part, replies, strict=True):
                out.update((t, int(v)) for t, v in zip(chunk, values, strict=True) if v is not None)
        return out

    async def add_pending(self, docs: Sequence[Doc], seq: int, bulk_ttl_s: int) -> None:
        """Queue list builds (indexed at `seq`) and tell builders a bulk import is under way (atomically:
        one slot)."""
        async with pipeline(self.redis, transaction=True) as pipe:
            if docs:
                pipe.zadd(keys.related_pending(), {d.article_id: seq for d in docs})
                pipe.zadd(keys.related_pending_order(), {d.article_id: d.published_at for d in docs})
            if bulk_ttl_s > 0:
                pipe.set(keys.related_bulk(), "1", ex=bulk_ttl_s)
            await pipe.execute()

    async def pending(self, batch: int, unless_bulk: bool = False) -> list[tuple[str, int]]:
        """The earliest published queued builds: (article id, index sequence); none while a bulk import
        runs if asked. Consecutive builds read overlapping postings."""
        reply = await self._scripted(lambda pipe: pipe.evalsha(
            sha(PENDING), 3, keys.related_pending(), keys.related_pending_order(), keys.related_bulk(), batch,
            "1" if unless_bulk else "0"))
        found = reply[0]
        return [(text(member), int(score)) for member, score in zip(found[0::2], found[1::2], strict=True)]

    async def pending_count(self) -> int:
        return int(await self.redis.zcard(keys.related_pending()))

    async def done(self, article_id: str, seq: int) -> None:
        await self._scripted(lambda pipe: pipe.evalsha(sha(DONE), 3, keys.related_pending(),
                                                       keys.related_pending_order(), keys.related_claimed(),
                                                       article_id, seq))

    async def ready(self) -> bool:
        return bool(await self.redis.exists(keys.related_ready()))

    async def mark_ready(self) -> None:
        await self.redis.set(keys.related_ready(), "1")
