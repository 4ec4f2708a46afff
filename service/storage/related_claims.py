"""Claims on queued related-list builds, so two builders never take the same list, and the index generation."""

from __future__ import annotations

from . import keys
from .decode import text
from .redis_cluster import Client

# KEYS: the pending set, its publish-time order, the bulk marker, the claims. ARGV: count, '1' for none during
# a bulk import, now (ms), claim deadline (ms). Claims and returns id, sequence pairs of the earliest published
# queued builds nobody holds a live claim on (then of any queued without a publish time, from before the order
# existed); drops order entries nothing is pending for. One script: two builders never claim the same id.
CLAIM = """
if ARGV[2] == '1' and redis.call('EXISTS', KEYS[3]) == 1 then return {} end
local want, now, out = tonumber(ARGV[1]), tonumber(ARGV[3]), {}
local function take(id, seq, claim)
  if #out < want * 2 and (not claim or tonumber(claim) <= now) then
    redis.call('ZADD', KEYS[4], ARGV[4], id)
    out[#out + 1] = id
    out[#out + 1] = seq
  end
end
local start, ordered = 0, false
while #out < want * 2 do
  local ids = redis.call('ZRANGE', KEYS[2], start, start + 999)
  if #ids == 0 then break end
  ordered = true
  start = start + #ids
  local seqs = redis.call('ZMSCORE', KEYS[1], unpack(ids))
  local claims = redis.call('ZMSCORE', KEYS[4], unpack(ids))
  for j = 1, #ids do
    if seqs[j] then take(ids[j], seqs[j], claims[j]) else
      redis.call('ZREM', KEYS[2], ids[j])
      start = start - 1
    end
  end
end
if ordered then return out end
start = 0
while #out < want * 2 do
  local pairs = redis.call('ZRANGE', KEYS[1], start, start + 999, 'WITHSCORES')
  if #pairs == 0 then break end
  start = start + #pairs / 2
  for j = 1, #pairs, 2 do take(pairs[j], pairs[j + 1], redis.call('ZSCORE', KEYS[4], pairs[j])) end
end
return out
"""

# KEYS: the claims. ARGV: article id, now (ms), claim deadline (ms). 1: claimed; 0: another builder holds it.
CLAIM_ONE = """
local claim = redis.call('ZSCORE', KEYS[1], ARGV[1])
if claim and tonumber(claim) > tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
"""


class RelatedClaims:
    """Claim queued builds (built lists drop their claim in the index's DONE script); the caller gives times."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis
        self._claim = redis.register_script(CLAIM)
        self._claim_one = redis.register_script(CLAIM_ONE)

    async def claim(self, batch: int, now_ms: int, claim_ms: int, unless_bulk: bool = False) -> list[tuple[str, int]]:
        """Up to `batch` queued builds, the earliest published first, claimed until now + `claim_ms`."""
        reply = await self._claim(
            keys=[keys.related_pending(), keys.related_pending_order(), keys.related_bulk(), keys.related_claimed()],
            args=[batch, "1" if unless_bulk else "0", now_ms, now_ms + claim_ms],
        )
        return [(text(member), int(seq)) for member, seq in zip(reply[0::2], reply[1::2], strict=True)]

    async def claim_one(self, article_id: str, now_ms: int, claim_ms: int) -> bool:
        return bool(await self._claim_one(keys=[keys.related_claimed()], args=[article_id, now_ms, now_ms + claim_ms]))

    async def release_all(self) -> None:
        """Drop every claim: a new lease holder takes over the builds a dead holder had claimed."""
        await self.redis.delete(keys.related_claimed())

    async def claimed(self) -> int:
        return int(await self.redis.zcard(keys.related_claimed()))


class RelatedGeneration:
    """The index generation: bumped by writers, polled by every replica."""

    def __init__(self, redis: Client) -> None:
        self.redis = redis

    async def bump(self) -> int:
        return int(await self.redis.incr(keys.related_generation()))

    async def read(self) -> int:
        return int(await self.redis.get(keys.related_generation()) or 0)
