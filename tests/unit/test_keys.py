"""Shard hash tags: spread over the slots, and the old layout's keys renamed to them."""

from __future__ import annotations

from collections import Counter

from redis.crc import key_slot

from service.storage import keys
from service.storage.layout import renamed

SLOTS = 16384


def test_each_shard_s_slot_lies_in_its_sixteenth() -> None:
    for shard in range(keys.SHARDS):
        slot = key_slot(keys.delta(shard).encode())
        assert shard * SLOTS // 16 <= slot < (shard + 1) * SLOTS // 16
        assert key_slot(keys.article(f"x{shard}").encode()) == key_slot(keys.delta(keys.shard_of(f"x{shard}")).encode())


def test_shards_spread_evenly_over_equal_slot_ranges_of_up_to_16_primaries() -> None:
    for primaries in range(1, 17):
        per = Counter(key_slot(keys.delta(s).encode()) * primaries // SLOTS for s in range(keys.SHARDS))
        assert len(per) == primaries
        assert max(per.values()) - min(per.values()) <= 1


def test_old_tag_keys_are_renamed_and_nothing_else() -> None:
    shard_a1 = keys.shard_of("a1")
    assert renamed(f"eng:{{s{shard_a1}}}:art:a1".encode()) == keys.article("a1").encode()
    for shard in range(keys.SHARDS):
        assert renamed(f"eng:{{s{shard}}}:delta".encode()) == keys.delta(shard).encode()
        assert renamed(f"eng:{{s{shard}}}:batch:b-1".encode()) == keys.batch(shard, "b-1").encode()
        assert renamed(keys.delta(shard).encode()) is None  # already moved
    for other in (b"eng:{s16}:delta", b"eng:{c3}:codes", b"eng:rel:tag:x", b"eng:{s7", b"other:{s7}:delta"):
        assert renamed(other) is None
