"""Lua scripts: each touches keys of one hash slot (an article's shard) only."""

from __future__ import annotations

# KEYS: article, totals, delta, event marker, visitors HLL, [hourly trending zset]
# ARGV: article_id, metric, network, hour, event_ttl (0: no dedupe), visitor ('' none), day, field to return,
#       trending zset TTL
INGEST = """
local info = redis.call('HMGET', KEYS[1], 'status', 'url', ARGV[8], 'title')
if not info[1] then return {'unknown', false, false, false} end
if info[1] ~= 'published' then return {'gone', info[2], info[3], info[4]} end
if ARGV[5] ~= '0' then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'EX', ARGV[5]) then
    return {'duplicate', info[2], info[3], info[4]}
  end
end
redis.call('HINCRBY', KEYS[3], ARGV[1] .. '\\t' .. ARGV[2] .. '\\t' .. ARGV[3] .. '\\t' .. ARGV[4], 1)
redis.call('HINCRBY', KEYS[2], ARGV[2] .. '\\t' .. ARGV[3], 1)
if KEYS[6] then
  redis.call('ZINCRBY', KEYS[6], 1, ARGV[1])
  redis.call('EXPIRE', KEYS[6], ARGV[9])
end
if ARGV[6] ~= '' then
  redis.call('PFADD', KEYS[5], ARGV[6])
  redis.call('EXPIRE', KEYS[5], 259200)
  redis.call('HSET', KEYS[3], 'u\\t' .. ARGV[1] .. '\\t' .. ARGV[7], '1')
end
return {'ok', info[2], info[3], info[4]}
"""

# Adds durable totals into a totals hash once (after Redis lost its data, or for a new article).
# KEYS: totals. ARGV: field, n, field, n, ...
SEED = """
if redis.call('HEXISTS', KEYS[1], '_seeded') == 1 then return 0 end
for i = 1, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], tonumber(ARGV[i + 1]))
end
redis.call('HSET', KEYS[1], '_seeded', '1')
return 1
"""

# Step 1 of a flush: atomically turn the live deltas into a batch and mark it pending.
# KEYS: delta, batch, pending, seeded. ARGV: batch id. -1: shard not rebuilt since Redis lost data.
SEAL = """
if redis.call('EXISTS', KEYS[4]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""

# Step 3 of a flush: drop the batch and its pending mark, and mirror unique-visitor snapshots
# (never lowering one) into the totals hashes. KEYS: batch, pending, totals...
# ARGV: batch id, then a field and value per totals key.
ACK = """
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  local field, value = ARGV[2 * (i - 2)], tonumber(ARGV[2 * (i - 2) + 1])
  local current = tonumber(redis.call('HGET', KEYS[i], field) or '0')
  if value > current then redis.call('HSET', KEYS[i], field, value) end
end
return 1
"""
