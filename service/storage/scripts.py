"""Lua scripts: each touches keys of one hash slot (an article's shard) only."""

from __future__ import annotations

import hashlib

# Counts a batch of events of one shard, in order, each once by its id.
# KEYS: delta, then the distinct article, totals, visitors HLL, trending, event marker, per-visitor window and
#       rate keys of the batch.
# ARGV: trending TTL, then the events in one string: records separated by \30, fields by \31. A record
#       is the KEYS indexes of its article, totals, visitors and trending keys, article_id, metric, network,
#       hour, event_ttl (0: no dedupe), day, article field to return ('' none), trending flag ('1'), window
#       seconds, rate limit (writes per window), then the fields that differ per event: the KEYS index of
#       its event marker, its visitor ('' none), the KEYS indexes of its window and rate keys (0: none).
#       (One argument, not one per event: less to pack and send per call.) Then the attempt token (one per
#       call, the same in redis-py's or the link's retries of it) and the rate keys' TTL.
# An event marker holds the token of the call that counted it and the status it got: a retry of that call
# (its reply timed out) answers that status again, any other call with the id `duplicate`.
# An event over its rate limit is `limited` and counts nothing (no marker: a later retry may count); one
# inside its visitor's window is counted as `repeat_<metric>` (no trending, no visitor) and is `repeat`.
# Returns per event: status (ok, repeat, duplicate, limited, unknown, gone), then, if a field was asked,
# url, the field, title.
INGEST = """
local out = {}
local infos, touched = {}, {}  -- per batch: article reads, and keys whose TTL or marker is already set
local token, rate_ttl = ARGV[3], ARGV[4]
local seen = {}  -- event markers met in this call: a second event with an id is a duplicate, in a retry too
for record in string.gmatch(ARGV[2], '[^\\30]+') do
  local f = {}
  for part in string.gmatch(record .. '\\31', '([^\\31]*)\\31') do f[#f + 1] = part end
  local art, tot, uv, hot = KEYS[tonumber(f[1])], KEYS[tonumber(f[2])], KEYS[tonumber(f[3])], KEYS[tonumber(f[4])]
  local id, metric, network, hour, ttl, day, field = f[5], f[6], f[7], f[8], f[9], f[10], f[11]
  local ev, visitor, window, rate = KEYS[tonumber(f[15])], f[16], tonumber(f[17]), tonumber(f[18])
  local info = infos[f[1] .. '\\31' .. field]
  if not info then
    info = redis.call('HMGET', art, 'status', 'url', field == '' and 'status' or field, 'title')
    infos[f[1] .. '\\31' .. field] = info
  end
  local status = 'ok'
  if rate > 0 then
    local n = redis.call('INCR', KEYS[rate])
    if n == 1 then redis.call('EXPIRE', KEYS[rate], rate_ttl) end
    if n > tonumber(f[14]) then status = 'limited' end
  end
  local prior = status == 'ok' and info[1] == 'published' and ttl ~= '0' and redis.call('GET', ev)
  if status == 'limited' then
  elseif not info[1] then
    status = 'unknown'
  elseif info[1] ~= 'published' then
    status = 'gone'
  elseif prior then
    if seen[ev] or string.sub(prior, 1, #token) ~= token then
      status = 'duplicate'
    else  -- a retry of the call that counted it: the status it got then
      status = string.sub(prior, #token + 1)
    end
    seen[ev] = true
  else
    seen[ev] = true
    if window > 0 and not redis.call('SET', KEYS[window], '1', 'NX', 'EX', f[13]) then
      status = 'repeat'
      metric = 'repeat_' .. metric
    end
    if ttl ~= '0' then redis.call('SET', ev, token .. status, 'EX', ttl) end
    redis.call('HINCRBY', KEYS[1], id .. '\\t' .. metric .. '\\t' .. network .. '\\t' .. hour, 1)
    redis.call('HINCRBY', tot, metric .. '\\t' .. network, 1)
    if f[12] == '1' and status == 'ok' then
      redis.call('ZINCRBY', hot, 1, id)
      if not touched[hot] then
        redis.call('EXPIRE', hot, ARGV[1])
        touched[hot] = true
      end
    end
    if visitor ~= '' and status == 'ok' then
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


def _sha(script: str) -> str:
    return hashlib.sha1(script.encode()).hexdigest()


SCRIPTS = {_sha(script): script for script in (INGEST, SEED, SEAL, ACK)}
