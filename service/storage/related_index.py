"""The related-news index in Redis: tag postings, document frequencies, per-article candidate lists.

Scripts touch keys of one slot only (an article's shard, a tag, the queue); reads and writes that span
articles go in pipelines.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections import defaultdict
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from ..domain.networks import NETWORKS
from ..domain.related import Doc
from . import keys

SEP = "\x1f"  # never inside a tag or section key: both are whitespace-normalised
SEP_BYTES = SEP.encode()
TERMS_SEP = "\x1e"  # before the terms of a docs entry: "stem count stem count" (stems hold no spaces)
TERMS_SEP_BYTES = TERMS_SEP.encode()
PIPELINE_WORK = 5_000  # ids (or query times) a bulk-build pipeline carries: Redis answers it well within
# the client's socket timeout even at a million articles, other clients get a turn in between, and
# packing one holds this process's event loop for a few ms (20,000: tens of ms, bench/import_stall.py)
T = TypeVar("T")

# KEYS: a shard's docs hash. ARGV: article id, new entry ('' removes it). Returns the previous entry.
SWAP = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return old
"""

# KEYS: candidate list, the shard's built hash, the shard's docs hash. ARGV: article id, index sequence the
# build began at, "key member key member ..." (one argument: cheap to send). Skips unindexed articles.
STORE = """
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('DEL', KEYS[1])
local pairs = {}
for word in string.gmatch(ARGV[3], '%S+') do pairs[#pairs + 1] = word end
if #pairs > 0 then redis.call('ZADD', KEYS[1], unpack(pairs)) end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: the owner's candidate list, its shard's built hash. ARGV: owner id, member, key, cap.
# Adds the member when the owner's list is built and has room, or the member beats its lowest entry.
PUSH = """
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
local cap = tonumber(ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[2]) == false and redis.call('ZCARD', KEYS[1]) >= cap then
  local low = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if tonumber(low[2]) >= tonumber(ARGV[3]) then return 0 end
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(cap + 1))
return 1
"""

# KEYS: the pending set, its publish-time order. ARGV: article id, sequence its build began at.
# Keeps articles re-indexed since.
DONE = """
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
"""

# KEYS: the pending set, its publish-time order, the bulk marker. ARGV: count, '1' for none during a bulk
# import. Returns id, sequence pairs of the earliest published (then of any queued without a publish time,
# from before the order existed); drops order entries nothing is pending for.
PENDING = """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local ids = redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES') end
local out = {}
for i = 1, #ids, 1000 do
  local chunk = {unpack(ids, i, math.min(i + 999, #ids))}
  local seqs = redis.call('ZMSCORE', KEYS[1], unpack(chunk))
  for j = 1, #chunk do
    if seqs[j] then
      out[#out + 1] = chunk[j]
      out[#out + 1] = seqs[j]
    else
      redis.call('ZREM', KEYS[2], chunk[j])
    end
  end
end
return out
"""

# KEYS: a tag's postings. ARGV: k, then publish times in ascending order. Returns member, time pairs of
# the union of the k entries on either side of each time (enough for its k nearest), in order.
NEAR = """
local k = tonumber(ARGV[1])
local n = redis.call('ZCARD', KEYS[1])
local out = {}
local first, last = nil, nil
local function take()
  if first then
    local r = redis.call('ZRANGE', KEYS[1], first, last, 'WITHSCORES')
    for i = 1, #r do out[#out + 1] = r[i] end
  end
end
for i = 2, #ARGV do
  local pos = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[i])
  local lo, hi = math.max(pos - k, 0), math.min(pos + k, n) - 1
  if first and lo <= last + 1 then
    if hi > last then last = hi end
  else
    take()
    first, last = lo, hi
  end
end
take()
return out
"""

# field names as bytes: redis-py passes bytes through without encoding them again
META_FIELDS = (b"title", b"url", b"published_at", b"tags", b"status", b"section")
POPULARITY_FIELDS = (b"view\t", *(f"share\t{n}".encode() for n in NETWORKS))


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
    popularity: float | None = None  # views + 5 x shares; None when not read


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


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


SCRIPTS = {_sha(script): script for script in (SWAP, STORE, PUSH, DONE, PENDING, NEAR)}


def _pairs(reply: list[Any]) -> list[tuple[bytes, int]]:
    """A raw `WITHSCORES` reply (flat on RESP2, pairs on RESP3) as (member, integral score) pairs."""
    if reply and isinstance(reply[0], list):
        return [(member, int(score)) for member, score in reply]
    return list(zip(reply[0::2], map(int, reply[1::2]), strict=True))


def _nearest(before: list[tuple[bytes, int]], after: list[tuple[bytes, int]], around: int,
             k: int) -> list[tuple[bytes, int]]:
    """The k entries nearest in time, from two lists that start at `around` and move away from it."""
    if len(before) + len(after) <= k:
        return before + after
    out: list[tuple[bytes, int]] = []
    i = j = 0
    while len(out) < k:
        if j >= len(after) or (i < len(before) and around - before[i][1] <= after[j][1] - around):
            out.append(before[i])
            i += 1
        else:
            out.append(after[j])
            j += 1
    return out


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
        pipe.evalsha(_sha(NEAR), 1, key, k, *around[key])


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _meta(article_id: str, values: Sequence[Any], totals: Sequence[Any] | None = None) -> Meta | None:
    title, url, published, tags, status, section = values
    if status is None or published is None:
        return None
    popularity = None
    if totals is not None:
        popularity = float(int(totals[0] or 0) + 5 * sum(int(v or 0) for v in totals[1:]))
    return Meta(article_id, _text(title or b""), _text(url or b""), int(published), json.loads(tags or b"[]"),
                _text(status), _text(section or b""), popularity)


@dataclass
class _Writes:
    """The index writes of a batch of changes, grouped by key."""

    untagged: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # postings key -> ids
    unsectioned: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    gone: list[str] = field(default_factory=list)
    tagged: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # postings key -> ids
    df: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    term_df: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    capped: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))  # recent, sections
    unbuilt: dict[int, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))

    def add(self, change: Change, queued: bool) -> None:
        a, old, new = change.article_id, change.old, change.new
        old_tags = old.tags if old else frozenset()
        new_tags = new.tags if new else frozenset()
        old_terms = {t for t, _c in old.terms} if old else set()
        new_terms = {t for t, _c in new.terms} if new else set()
        for tag in old_tags - new_tags:
            self.untagged[keys.related_tag(tag)].append(a)
            self.df[tag] -= 1
        for term in old_terms - new_terms:
            self.untagged[keys.related_term(term)].append(a)
            self.term_df[term] -= 1
        if old and old.section and (new is None or new.section != old.section):
            self.unsectioned[old.section].append(a)
        if new is None:
            self.gone.append(a)
            return
        for tag in new_tags:
            self.tagged[keys.related_tag(tag)][a] = new.published_at
        for term in new_terms:
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


class RelatedIndex:
    """Reads and writes of the related index; the caller supplies ids, clocks and scores."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._tags: dict[bytes, str] = {}  # tag keys as read, decoded once: candidates share them

    async def _scripted(self, queue: Callable[[Any], None]) -> list[Any]:
        """Run a pipeline of EVALSHAs (and other commands), loading the scripts once if Redis lacks them.

        Every queued write is idempotent, so running the pipeline again after NOSCRIPT is safe.
        """
        for attempt in (1, 2):
            async with self.redis.pipeline(transaction=False) as pipe:
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
                pipe.evalsha(_sha(SWAP), 1, docs, article_id, encode_doc(doc) if doc else "")

        replies = await self._scripted(queue)
        return [decode_doc(a, raw) if raw is not None else None for (a, _d), raw in zip(entries, replies, strict=True)]

    async def apply(self, changes: Sequence[Change], recent_cap: int, queued: bool) -> Applied:
        """Write postings, frequencies and fallback sets for changed articles (each at most once); bumps
        the sequence. One command per key touched, not per article: a bulk batch is a few thousand.

        `queued`: their lists will be built later, so mark them unbuilt (nobody pushes into them).
        """
        w = _Writes()
        for change in changes:
            w.add(change, queued)
        async with self.redis.pipeline(transaction=False) as pipe:
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
            for key, posted in sorted(w.tagged.items()):
                pipe.zadd(key, posted)
            marks = []
            for tag, delta in sorted(w.df.items()):
                marks.append((len(pipe), tag))
                pipe.hincrby(keys.related_df(), tag, delta)
            for term, delta in sorted(w.term_df.items()):
                pipe.hincrby(keys.related_term_df(), term, delta)
            for key, posted in sorted(w.capped.items()):
                pipe.zadd(key, posted)
                pipe.zremrangebyrank(key, 0, -(recent_cap + 1))
            for shard, unbuilt in sorted(w.unbuilt.items()):
                pipe.hset(keys.related_built(shard), mapping=unbuilt)  # type: ignore[arg-type]
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
        async with self.redis.pipeline(transaction=False) as pipe:
            for owner in owners:
                pipe.zrem(keys.related_candidates(owner.decode()), article_id)
            await pipe.execute()

    async def pool(self, postings: Iterable[str], around: int, per_tag: int) -> tuple[int, dict[bytes, int]]:
        """(index sequence, articles -> publish time): per postings key the `per_tag` nearest in time to `around`."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.related_seq())  # read before the postings: the build has seen everything up to it
            for key in sorted(postings):
                # raw WITHSCORES replies: redis-py's per-score float callbacks cost more than the read
                pipe.execute_command("ZREVRANGEBYSCORE", key, around, "-inf", "WITHSCORES", "LIMIT", 0, per_tag)
                pipe.execute_command("ZRANGEBYSCORE", key, f"({around}", "+inf", "WITHSCORES", "LIMIT", 0, per_tag)
            replies = await pipe.execute()
        found: dict[bytes, int] = {}
        for i in range(1, len(replies), 2):
            found.update(_nearest(_pairs(replies[i]), _pairs(replies[i + 1]), around, per_tag))
        return int(replies[0] or 0), found

    async def pool_state(self, article_ids: Iterable[bytes]) -> dict[bytes, PoolState]:
        """Docs entry and build sequence of each article (ids as bytes, as the postings hold them)."""
        by_shard: dict[int, list[bytes]] = defaultdict(list)
        for a in article_ids:
            by_shard[zlib.crc32(a) % keys.SHARDS].append(a)  # keys.shard_of, on bytes
        if not by_shard:
            return {}
        groups = [(shard, ids[i : i + 500]) for shard, ids in by_shard.items() for i in range(0, len(ids), 500)]
        async with self.redis.pipeline(transaction=False) as pipe:
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
            async with self.redis.pipeline(transaction=False) as pipe:
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
                pipe.evalsha(_sha(STORE), 3, keys.related_candidates(b.article_id), keys.related_built(shard),
                             keys.related_docs(shard), b.article_id, seq, listed)
                for owner, key in b.pushes:
                    pipe.evalsha(_sha(PUSH), 2, keys.related_candidates(owner),
                                 keys.related_built(keys.shard_of(owner)), owner, b.article_id, key, cap)
                pipe.evalsha(_sha(DONE), 2, keys.related_pending(), keys.related_pending_order(), b.article_id, seq)

        await self._scripted(queue)

    async def read(self, article_id: str, hinted: Sequence[str], known: Container[str] = ()) -> QueryRead:
        """One round trip: the query's hash and index state, its list, and hinted candidates' metadata
        (popularity inputs except for the `known` ones)."""
        shard = keys.shard_of(article_id)
        known = {a for a in hinted if a in known}  # decided once: the replies must line up
        async with self.redis.pipeline(transaction=False) as pipe:
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
        async with self.redis.pipeline(transaction=False) as pipe:
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
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in sources:
                pipe.zrevrangebyscore(key, newest, oldest, start=0, num=per_source)
            replies = await pipe.execute()
        return list(dict.fromkeys(m.decode() for reply in replies for m in reply))

    async def stats(self) -> tuple[dict[str, int], dict[int, int]]:
        """Document frequencies (scanned, never one blocking read) and the size of every docs shard."""
        df: dict[str, int] = {}
        async for tag, n in self.redis.hscan_iter(keys.related_df(), count=1000):
            df[_text(tag)] = int(n)
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(keys.SHARDS):
                pipe.hlen(keys.related_docs(shard))
            sizes = await pipe.execute()
        return df, {shard: int(n) for shard, n in enumerate(sizes)}

    async def term_df(self, terms: Iterable[str]) -> dict[str, int]:
        """Document frequencies of some terms (bounded pipelines; the vocabulary is never read whole)."""
        wanted = sorted(set(terms))
        out: dict[str, int] = {}
        for part in _bounded([wanted[i : i + 500] for i in range(0, len(wanted), 500)], len):
            async with self.redis.pipeline(transaction=False) as pipe:
                for chunk in part:
                    pipe.hmget(keys.related_term_df(), chunk)
                replies = await pipe.execute()
            for chunk, values in zip(part, replies, strict=True):
                out.update((t, int(v)) for t, v in zip(chunk, values, strict=True) if v is not None)
        return out

    async def add_pending(self, docs: Sequence[Doc], seq: int, bulk_ttl_s: int) -> None:
        """Queue list builds (indexed at `seq`) and tell builders a bulk import is under way (atomically:
        one slot)."""
        async with self.redis.pipeline(transaction=True) as pipe:
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
            _sha(PENDING), 3, keys.related_pending(), keys.related_pending_order(), keys.related_bulk(), batch,
            "1" if unless_bulk else "0"))
        found = reply[0]
        return [(_text(member), int(score)) for member, score in zip(found[0::2], found[1::2], strict=True)]

    async def pending_count(self) -> int:
        return int(await self.redis.zcard(keys.related_pending()))

    async def done(self, article_id: str, seq: int) -> None:
        await self._scripted(lambda pipe: pipe.evalsha(_sha(DONE), 2, keys.related_pending(),
                                                       keys.related_pending_order(), article_id, seq))

    async def ready(self) -> bool:
        return bool(await self.redis.exists(keys.related_ready()))

    async def mark_ready(self) -> None:
        await self.redis.set(keys.related_ready(), "1")
