"""Every Redis key the service uses, built in one place.

Keys that belong to one article carry the article's shard as a hash tag (`{s7}`), so every
script or transaction touching an article, the shard's delta hash and its batches stays in one
Redis Cluster slot.
"""

from __future__ import annotations

import zlib

PREFIX = "eng"
SHARDS = 16  # fixed: changing it would orphan live deltas


def shard_of(article_id: str) -> int:
    """The shard an article's keys live in."""
    return zlib.crc32(article_id.encode()) % SHARDS


# Each shard's hash tag is chosen so its slot lies in the middle of the shard's 1/16 of the 16,384 slots
# (`s<shard>.<n>`, n found by search; tests/unit/test_keys.py checks it): a cluster whose primaries own
# equal slot ranges, as `redis-cli --cluster create` assigns them, holds 16/N shards on each of up to 16
# primaries (5, 6, 5 on three). The tags before, `{s<shard>}`, put 6, 6 and 4 on three primaries and used
# 7 of 16; storage/layout.py renames keys of that layout at start.
SHARD_TAGS = (
    "s0.14", "s1.224", "s2.307", "s3.107", "s4.60", "s5.247", "s6.139", "s7.164",
    "s8.260", "s9.421", "s10.139", "s11.164", "s12.14", "s13.246", "s14.307", "s15.107",
)
_TAGS = tuple(f"{PREFIX}:{{{tag}}}" for tag in SHARD_TAGS)


def shard_key_prefix(shard: int) -> str:
    """`eng:{<tag>}`: what every key of a shard starts with."""
    return _TAGS[shard]


_tag = shard_key_prefix
LEGACY_SHARD_MATCH = f"{PREFIX}:{{s*"  # SCAN pattern of keys under the old tags `{s<shard>}` (and today's)


def layout() -> str:
    """The key layout version this Redis holds, once storage/layout.py checked it (no TTL; gone with the data)."""
    return f"{PREFIX}:layout"


LAYOUT = "2"  # 2: keys under SHARD_TAGS


def article(article_id: str) -> str:
    """Hash: catalog entry for the hot path (no TTL; rebuilt from SQLite)."""
    return f"{_tag(shard_of(article_id))}:art:{article_id}"


def totals(article_id: str) -> str:
    """Hash `metric\\tnetwork -> n`: all-time counts, live (no TTL; reseeded from SQLite)."""
    return f"{_tag(shard_of(article_id))}:tot:{article_id}"


def visitors(article_id: str, day: int) -> str:
    """HyperLogLog of visitor hashes for one UTC day (TTL 3 days: flushed as snapshots)."""
    return f"{_tag(shard_of(article_id))}:uv:{article_id}:{day}"


def event(article_id: str, event_id: str) -> str:
    """Marker of a counted event id (TTL 24 h for client ids, minutes for server ids)."""
    return f"{_tag(shard_of(article_id))}:ev:{article_id}:{event_id}"


def delta(shard: int) -> str:
    """Hash of live counter deltas not yet sealed (no TTL; drained by the flusher)."""
    return f"{_tag(shard)}:delta"


def batch(shard: int, batch_id: str) -> str:
    """A sealed delta hash waiting to be applied to SQLite (no TTL; deleted on ack)."""
    return f"{_tag(shard)}:batch:{batch_id}"


def pending(shard: int) -> str:
    """Set of sealed batch ids of a shard not yet acknowledged (no TTL)."""
    return f"{_tag(shard)}:pending"


def seeded(shard: int) -> str:
    """Marker that the shard was rebuilt from SQLite since Redis last lost its data (no TTL)."""
    return f"{_tag(shard)}:seeded"


def hot(shard: int, metric: str, hour: int) -> str:
    """Sorted set article -> count of one metric in one UTC hour (TTL 8 days: trending windows)."""
    return f"{_tag(shard)}:hot:{metric}:{hour}"


HOT_TTL_S = 8 * 86400


def once(article_id: str, metric: str, network: str, limiter: str) -> str:
    """Marker that a visitor's `metric` on an article (and network) was counted in its window, holding the
    event marker key and status of the event it counted, so that event needs no marker of its own (TTL: the
    window, VIEW/SHARE/CLICK_PER_VISITOR_S; then the next one counts again)."""
    return f"{_tag(shard_of(article_id))}:once:{article_id}:{metric}:{network}:{limiter}"


def rate(shard: int, kind: str, limiter: str, minute: int) -> str:
    """Hash limiter -> writes of one kind (endpoint) to a shard's articles in one epoch minute, in one of 16
    buckets by the limiter's first hex digit: a field, not a key with a TTL, per visitor (TTL RATE_TTL_S, renewed
    per batch: the minute plus a margin for clocks of replicas a little apart)."""
    return f"{_tag(shard)}:rate:{kind}:{minute}:{limiter[:1]}"


RATE_WINDOW_S = 60
RATE_TTL_S = 2 * RATE_WINDOW_S




def code_shard(share_code: str) -> int:
    """The shard of a share code, derived from the code alone: a redirect needs one HGET."""
    return zlib.crc32(share_code.encode()) % SHARDS


def codes(shard: int) -> str:
    """Hash code -> "article_id\\tnetwork" of the shard's share codes in use: written on an article's first
    share on a network, on a click missing here (from SQLite) and by a rebuild (networks with counts);
    a code never shared stays in SQLite only (no TTL; rebuilt from SQLite)."""
    return f"{PREFIX}:{{c{shard}}}:codes"


def legacy_code(share_code: str) -> str:
    """Before codes(): a hash {a: article, n: network} per code (no TTL; moved into codes() at start)."""
    return f"{PREFIX}:code:{share_code}"


LEGACY_CODES_MATCH = f"{PREFIX}:code:*"


def codes_migrated() -> str:
    """Marker that no legacy_code() keys are left, so a start skips the scan (no TTL; gone with the data)."""
    return f"{PREFIX}:{{c0}}:codes:migrated"


def salt(day: int) -> str:
    """Random salt of one UTC day for visitor hashes (TTL 48 h: then the day is unlinkable)."""
    return f"{PREFIX}:salt:{day}"


def worker_lease() -> str:
    """String `holder_id@acquired_ms` of the one worker that flushes and builds (TTL WORKER_LEASE_TTL_S,
    renewed by its holder every WORKER_LEASE_RENEW_S; gone after a holder died, so a standby takes it)."""
    return f"{PREFIX}:worker:lease"


def flush_state() -> str:
    """Hash with the last flush outcome for the ops view (no TTL)."""
    return f"{PREFIX}:flush:state"


def article_by_url(canonical: str) -> str:
    """String: article id behind a canonical article URL (no TTL; rebuilt with the index; checked on read)."""
    return f"{PREFIX}:url:{canonical}"


# Related news. Per-article keys carry the article's shard tag; the inverted index, document
# frequencies and queues are global keys, read with pipelines across slots (a script reads one of them).


def related_tag(tag: str) -> str:
    """Sorted set article -> publish time of published articles with a tag key (no TTL; rebuilt from SQLite)."""
    return f"{PREFIX}:rel:tag:{tag}"


def related_term(term: str) -> str:
    """Sorted set article -> publish time of published articles with a salient term (no TTL; rebuilt)."""
    return f"{PREFIX}:rel:term:{term}"


def related_term_df() -> str:
    """Hash term -> number of published articles it is salient in (no TTL; rebuilt; read per build, never whole)."""
    return f"{PREFIX}:rel:tdf"


def related_section(section: str) -> str:
    """Sorted set of the newest published articles of a section by publish time (no TTL; capped, rebuilt)."""
    return f"{PREFIX}:rel:sec:{section}"


def related_recent() -> str:
    """Sorted set of the newest published articles by publish time (no TTL; capped, rebuilt)."""
    return f"{PREFIX}:rel:recent"


def related_df() -> str:
    """Hash tag key -> number of published articles carrying it (no TTL; rebuilt from SQLite)."""
    return f"{PREFIX}:rel:df"


def related_docs(shard: int) -> str:
    """Hash article -> "published\\x1fsection\\x1ftags...\\x1eterm count ..." of a shard's published articles;
    HLENs sum to N (no TTL)."""
    return f"{_tag(shard)}:rel:docs"


def related_built(shard: int) -> str:
    """Hash article -> index sequence its candidate list was built at (no TTL; rebuilt)."""
    return f"{_tag(shard)}:rel:built"


def related_candidates(article_id: str) -> str:
    """Sorted set: an article's precomputed candidates by storage score, at most N (no TTL; rebuilt)."""
    return f"{_tag(shard_of(article_id))}:rel:cand:{article_id}"


def related_pending() -> str:
    """Sorted set article -> index sequence: candidate lists still to build (no TTL; drained by the builder).

    Shares a slot with related_bulk() so a builder reads both in one transaction.
    """
    return f"{PREFIX}:{{rel}}:pending"


def related_pending_order() -> str:
    """Sorted set article -> publish time of related_pending()'s members: the builder takes them in this
    order, so one batch reads postings its neighbours share (no TTL; drained with it, same slot)."""
    return f"{PREFIX}:{{rel}}:pending:at"


def related_claimed() -> str:
    """Sorted set article -> claim deadline (epoch ms) of queued lists a builder is building now, so no other
    builder takes them (no TTL; members expire by score, dropped when built; same slot as the queue)."""
    return f"{PREFIX}:{{rel}}:claimed"


def related_generation() -> str:
    """Counter bumped by every related index write; replicas poll it and drop their answer caches and
    frequency copies when it moved (no TTL; a loss reads as a change)."""
    return f"{PREFIX}:rel:gen"


def related_seq() -> str:
    """Counter bumped after every index write, so a build knows which articles it has seen (no TTL)."""
    return f"{PREFIX}:rel:seq"


def related_bulk() -> str:
    """Marker that a bulk import is writing the index (TTL RELATED_BULK_QUIET_S, renewed per batch)."""
    return f"{PREFIX}:{{rel}}:bulk"


def related_ready() -> str:
    """Marker that the related index holds the whole catalog (no TTL; gone when Redis lost its data)."""
    return f"{PREFIX}:rel:ready"
