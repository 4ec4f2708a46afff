"""Every Lua script of the related-news index (each touches the keys of one slot), by SHA1."""

from __future__ import annotations

import hashlib

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

# KEYS: the pending set, its publish-time order, the build claims. ARGV: article id, sequence its build began
# at. Keeps articles re-indexed since in the queue; drops the claim either way (a re-indexed one is built again).
DONE = """
redis.call('ZREM', KEYS[3], ARGV[1])
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


# KEYS: the term frequencies hash. ARGV: term, delta, term, delta, ... (one call per index batch).
TERM_DF = """
for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 0
"""


def sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


SCRIPTS = {sha(script): script for script in (SWAP, STORE, PUSH, DONE, PENDING, NEAR, TERM_DF)}
