"""Lua scripts: each touches keys of one hash slot (an article's shard) only."""

from __future__ import annotations

import hashlib

# Counts a batch of events of one shard, in order, each once by its id.
# KEYS: delta, then the distinct article, totals, visitors HLL, trending, event marker, per-visitor window and
#       rate keys of the batch.
# ARGV: trending TTL; the events in one string, records separated by \30, fields by \31: the number of its
#       head, the KEYS index of its event marker, its visitor ('' none), the KEYS indexes of its window and rate
#       keys (0: none); the attempt token (one per call, the same in redis-py's or the link's retries of it);
#       the rate keys' TTL; then the heads, what events of one article, metric and hour share, once each (the
#       same separators): the KEYS indexes of the article, totals, visitors and trending keys, article_id,
#       metric, network, hour, event_ttl (0: no dedupe), day, article field to return ('' none), trending flag
#       ('1'), window seconds, rate limit (writes per window). (A few arguments, not one per event: less to
#       pack, send and parse per call.)
# An event marker holds the token of the call that counted it and the status it got: a retry of that call
# (its reply timed out) answers that status again, any other call with the id `duplicate`. An event counted
# in a per-visitor window has no marker of its own: the window key holds its marker's name, the token and
# the status, and dedupes it as long as the window lasts (retries come within seconds; a marker of 24 h was
# a key with a TTL per view more).
# An event over its rate limit is `limited` and counts nothing (no marker: a later retry may count); one
# inside its visitor's window is counted as `repeat_<metric>` (no trending, no visitor) and is `repeat`.
# Counter writes are summed over the batch and written once per field at the end (HINCRBY, ZINCRBY, one PFADD
# per HLL): the same result in the same script, a few commands per batch instead of four per event.
# Returns per event: status (ok, repeat, duplicate, limited, unknown, gone), then, if a field was asked,
# url, the field, title.
INGEST = """
local out = {}
local token, rate_ttl = ARGV[3], ARGV[4]
local heads = {}
for head in string.gmatch(ARGV[5], '[^\\30]+') do
  local f = {}
  for part in string.gmatch(head .. '\\31', '([^\\31]*)\\31') do f[#f + 1] = part end
  f.art, f.tot, f.uv, f.hot = KEYS[tonumber(f[1])], KEYS[tonumber(f[2])], KEYS[tonumber(f[3])], KEYS[tonumber(f[4])]
  f.rate_limit, f.hot_flag = tonumber(f[14]), f[12] == '1'
  heads[#heads + 1] = f
end
local infos = {}  -- article reads per batch
local seen = {}  -- event markers met in this call: a second event with an id is a duplicate, in a retry too
local deltas, totals, hots, uvs = {}, {}, {}, {}  -- summed counter writes
local touched = {}  -- rate buckets whose TTL is set
-- An event's own marker: (`status`, true) if the id is new (marked with it), else (what it answers, false).
local function dedupe(ev, status, ttl)
  if redis.call('SET', ev, token .. status, 'NX', 'EX', ttl) then return status, true end
  local prior = redis.call('GET', ev)
  if seen[ev] or string.sub(prior, 1, #token) ~= token then return 'duplicate', false end
  return string.sub(prior, #token + 1), false  -- a retry of the call that counted it: the status it got then
end
for record in string.gmatch(ARGV[2], '[^\\30]+') do
  local hn, e, visitor, w, r, limiter = string.match(record,
    '^(%d+)\\31(%d+)\\31([^\\31]*)\\31(%d+)\\31(%d+)\\31([^\\31]*)$')
  local f = heads[tonumber(hn)]
  local id, metric, network, ttl, field = f[5], f[6], f[7], f[9], f[11]
  local ev, window, rate = KEYS[tonumber(e)], tonumber(w), tonumber(r)
  local info = infos[f[1] .. '\\31' .. field]
  if not info then
    info = redis.call('HMGET', f.art, 'status', 'url', field == '' and 'status' or field, 'title')
    infos[f[1] .. '\\31' .. field] = info
  end
  local status = 'ok'
  if rate > 0 then  -- the limiter's writes this minute: a field of the minute's bucket, its TTL once a batch
    local n = redis.call('HINCRBY', KEYS[rate], limiter, 1)
    if not touched[rate] then
      redis.call('EXPIRE', KEYS[rate], rate_ttl)
      touched[rate] = true
    end
    if n > f.rate_limit then status = 'limited' end
  end
  local counted = false
  if status == 'limited' then
  elseif not info[1] then
    status = 'unknown'
  elseif info[1] ~= 'published' then
    status = 'gone'
  elseif window > 0 and ttl ~= '0' then
    -- the window key holds "token \\31 marker \\31 status" of the event it counted: that event needs no marker
    local held = token .. '\\31' .. ev .. '\\31'
    if redis.call('SET', KEYS[window], held .. 'ok', 'NX', 'EX', f[13]) then
      counted = true
    else
      local prior = redis.call('GET', KEYS[window])
      local t, marker, got = string.match(prior, '^([^\\31]*)\\31([^\\31]*)\\31(.*)$')
      if marker == ev then  -- the event the window counted
        status = (seen[ev] or t ~= token) and 'duplicate' or got
      else
        status, counted = dedupe(ev, 'repeat', ttl)
        if counted then metric = 'repeat_' .. metric end
      end
    end
    seen[ev] = true
  elseif ttl ~= '0' then
    status, counted = dedupe(ev, 'ok', ttl)
    seen[ev] = true
  else
    counted = true
  end
  if counted then
    local d = id .. '\\t' .. metric .. '\\t' .. network .. '\\t' .. f[8]
    deltas[d] = (deltas[d] or 0) + 1
    local t = totals[f.tot]
    if not t then t = {}; totals[f.tot] = t end
    local tf = metric .. '\\t' .. network
    t[tf] = (t[tf] or 0) + 1
    if f.hot_flag and status == 'ok' then
      local h = hots[f.hot]
      if not h then h = {}; hots[f.hot] = h end
      h[id] = (h[id] or 0) + 1
    end
    if visitor ~= '' and status == 'ok' then
      local u = uvs[f.uv]
      if not u then u = {field = 'u\\t' .. id .. '\\t' .. f[10]}; uvs[f.uv] = u end
      u[#u + 1] = visitor
    end
  end
  out[#out + 1] = status
  if field ~= '' then  -- views ask for nothing: their status alone is sent back and decoded
    out[#out + 1] = info[2]
    out[#out + 1] = info[3]
    out[#out + 1] = info[4]
  end
end
for d, n in pairs(deltas) do redis.call('HINCRBY', KEYS[1], d, n) end
for tot, t in pairs(totals) do
  for tf, n in pairs(t) do redis.call('HINCRBY', tot, tf, n) end
end
for hot, h in pairs(hots) do
  for id, n in pairs(h) do redis.call('ZINCRBY', hot, n, id) end
  redis.call('EXPIRE', hot, ARGV[1])
end
for uv, u in pairs(uvs) do
  redis.call('PFADD', uv, unpack(u))
  redis.call('EXPIRE', uv, 259200)
  redis.call('HSET', KEYS[1], u.field, '1')
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
