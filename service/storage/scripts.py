"""Lua scripts: each touches keys of one hash slot (an article's shard) only."""

from __future__ import annotations

# Counts a batch of events of one shard, in order, each once by its id.
# KEYS: delta, then the distinct article, totals, visitors HLL, trending and event marker keys of the batch.
# ARGV: trending TTL, then the events in one string: records separated by \30, fields by \31. A record
#       is the KEYS indexes of its article, totals, visitors and trending keys, article_id, metric, network,
#       hour, event_ttl (0: no dedupe), day, article field to return ('' none), trending flag ('1'), then the
#       two fields that differ per event: the KEYS index of its event marker and its visitor ('' none).
#       (One argument, not one per event: less to pack and send per call.)
# Returns per event: status (ok, duplicate, unknown, gone), then, if a field was asked, url, the field, title.
INGEST = """
local out = {}
local infos, touched = {}, {}  -- per batch: article reads, and keys whose TTL or marker is already set
for record in string.gmatch(ARGV[2], '[^\\30]+') do
  local f = {}
  for part in string.gmatch(record .. '\\31', '([^\\31]*)\\31') do f[#f + 1] = part end
  local art, tot, uv, hot = KEYS[tonumber(f[1])], KEYS[tonumber(f[2])], KEYS[tonumber(f[3])], KEYS[tonumber(f[4])]
  local id, metric, network, hour, ttl, day, field = f[5], f[6], f[7], f[8], f[9], f[10], f[11]
  local ev, visitor = KEYS[tonumber(f[13])], f[14]
  local info = infos[f[1] .. '\\31' .. field]
  if not info then
    info = redis.call('HMGET', art, 'status', 'url', field == '' and 'status' or field, 'title')
    infos[f[1] .. '\\31' .. field] = info
  end
  local status = 'ok'
  if not info[1] then
    status = 'unknown'
  elseif info[1] ~= 'published' then
    status = 'gone'
  elseif ttl ~= '0' and not redis.call('SET', ev, '1', 'NX', 'EX', ttl) then
    status = 'duplicate'
  else
    redis.call('HINCRBY', KEYS[1], id .. '\\t' .. metric .. '\\t' .. network .. '\\t' .. hour, 1)
    redis.call('HINCRBY', tot, metric .. '\\t' .. network, 1)
    if f[12] == '1' then
      redis.call('ZINCRBY', hot, 1, id)
      if not touched[hot] then
        redis.call('EXPIRE', hot, ARGV[1])
        touched[hot] = true
      end
    end
    if visitor ~= '' then
      redis.call('PFADD', uv, visitor)
      if not touched[uv] then
        redis.call('EXPIRE', uv, 259200)
        redis.call('HSET', KEYS[1], 'u\\t' .. id .. '\\t' .. day, '1')
        touched[uv] = true
      end
    end
  end
  out[#out + 1] = status
  if field ~= '' then  -- views ask for nothing: their status alone is sent back and decoded
    out[#out + 1] = info[2]
    out[#out + 1] = info[3]
    out[#out + 1] = info[4]
  end
end
return out
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
redis.call('UNLINK', KEYS[1])  -- a big batch is freed off the main thread
redis.call('SREM', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  local field, value = ARGV[2 * (i - 2)], tonumber(ARGV[2 * (i - 2) + 1])
  local current = tonumber(redis.call('HGET', KEYS[i], field) or '0')
  if value > current then redis.call('HSET', KEYS[i], field, value) end
end
return 1
"""
