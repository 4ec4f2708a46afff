"""Lua scripts: each touches keys of one hash slot (an article's shard) only."""

from __future__ import annotations

import hashlib

# Counts a batch of events, in order, each once by its id: of one shard on a cluster (one hash slot), of any
# shards on one Redis (one call for all: spread over many articles, per-shard calls carried 1.7 views each).
# KEYS: the distinct delta, article, totals, visitors HLL, trending, event marker, per-visitor window and rate
#       keys of the batch.
# ARGV: trending TTL, the attempt token (one per call, the same in redis-py's or the link's retries of it),
#       the rate keys' TTL, the number of heads; then the heads, what events of one article, metric and hour
#       share, 15 arguments each: the KEYS indexes of the article, totals, visitors and trending keys,
#       article_id, metric, network, hour, event_ttl (0: no dedupe), day, article field to return ('' none),
#       trending flag ('1'), window seconds, rate limit (writes per window), the KEYS index of its shard's
#       delta; then the events, 6 arguments each: the number of its head, the KEYS index of its event marker,
#       its visitor ('' none), the KEYS indexes of its window and rate keys ('0': none), its limiter.
# Every field is its own argument: Redis hands them to Lua as strings, where splitting packed strings with
# Lua patterns was a third of the script's instructions (callgrind). Numbers go to redis.call as strings
# (a Lua number is formatted with snprintf on every call).
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
local hot_ttl, token, rate_ttl = ARGV[1], ARGV[2], ARGV[3]
local text = {}  -- counts as strings, formatted once per value
local function str(n)
  local s = text[n]
  if not s then s = tostring(n); text[n] = s end
  return s
end
local heads = {}
local at = 5
for i = 1, tonumber(ARGV[4]) do
  local field = ARGV[at + 10]
  local id, metric, network = ARGV[at + 4], ARGV[at + 5], ARGV[at + 6]
  local art = KEYS[tonumber(ARGV[at])]
  heads[i] = {
    art = art, tot = KEYS[tonumber(ARGV[at + 1])], uv = KEYS[tonumber(ARGV[at + 2])],
    hot = KEYS[tonumber(ARGV[at + 3])], dk = KEYS[tonumber(ARGV[at + 14])], id = id, metric = metric,
    network = network, hour = ARGV[at + 7],
    ttl = ARGV[at + 8], day = ARGV[at + 9], field = field, hot_flag = ARGV[at + 11] == '1',
    window_ttl = ARGV[at + 12], rate_limit = tonumber(ARGV[at + 13]), info = art .. '\\31' .. field,
    delta = id .. '\\t' .. metric .. '\\t' .. network .. '\\t' .. ARGV[at + 7], tf = metric .. '\\t' .. network,
  }
  at = at + 15
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
for j = at, #ARGV, 6 do
  local f = heads[tonumber(ARGV[j])]
  local ev, visitor, w, r = KEYS[tonumber(ARGV[j + 1])], ARGV[j + 2], ARGV[j + 3], ARGV[j + 4]
  local field, ttl = f.field, f.ttl
  local info = infos[f.info]
  if not info then
    if field == '' then
      info = {redis.call('HGET', f.art, 'status')}
    else
      info = redis.call('HMGET', f.art, 'status', 'url', field, 'title')
    end
    infos[f.info] = info
  end
  local status = 'ok'
  if r ~= '0' then  -- the limiter's writes this minute: a field of the minute's bucket, its TTL once a batch
    local bucket = KEYS[tonumber(r)]
    local n = redis.call('HINCRBY', bucket, ARGV[j + 5], '1')
    if not touched[bucket] then
      redis.call('EXPIRE', bucket, rate_ttl)
      touched[bucket] = true
    end
    if n > f.rate_limit then status = 'limited' end
  end
  local counted, repeated = false, false
  if status == 'limited' then
  elseif not info[1] then
    status = 'unknown'
  elseif info[1] ~= 'published' then
    status = 'gone'
  elseif w ~= '0' and ttl ~= '0' then
    -- the window key holds "token \\31 marker \\31 status" of the event it counted: that event needs no marker
    local window = KEYS[tonumber(w)]
    local held = token .. '\\31' .. ev .. '\\31'
    if redis.call('SET', window, held .. 'ok', 'NX', 'EX', f.window_ttl) then
      counted = true
    else
      local prior = redis.call('GET', window)
      local t, marker, got = string.match(prior, '^([^\\31]*)\\31([^\\31]*)\\31(.*)$')
      if marker == ev then  -- the event the window counted
        status = (seen[ev] or t ~= token) and 'duplicate' or got
      else
        status, counted = dedupe(ev, 'repeat', ttl)
        repeated = counted
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
    local d, tf = f.delta, f.tf
    if repeated then
      d = f.id .. '\\trepeat_' .. f.metric .. '\\t' .. f.network .. '\\t' .. f.hour
      tf = 'repeat_' .. tf
    end
    local dd = deltas[f.dk]
    if not dd then dd = {}; deltas[f.dk] = dd end
    dd[d] = (dd[d] or 0) + 1
    local t = totals[f.tot]
    if not t then t = {}; totals[f.tot] = t end
    t[tf] = (t[tf] or 0) + 1
    if f.hot_flag and status == 'ok' then
      local h = hots[f.hot]
      if not h then h = {}; hots[f.hot] = h end
      h[f.id] = (h[f.id] or 0) + 1
    end
    if visitor ~= '' and status == 'ok' then
      local u = uvs[f.uv]
      if not u then u = {field = 'u\\t' .. f.id .. '\\t' .. f.day, dk = f.dk}; uvs[f.uv] = u end
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
for dk, dd in pairs(deltas) do
  for d, n in pairs(dd) do redis.call('HINCRBY', dk, d, str(n)) end
end
for tot, t in pairs(totals) do
  for tf, n in pairs(t) do redis.call('HINCRBY', tot, tf, str(n)) end
end
for hot, h in pairs(hots) do
  for id, n in pairs(h) do redis.call('ZINCRBY', hot, str(n), id) end
  redis.call('EXPIRE', hot, hot_ttl)
end
for uv, u in pairs(uvs) do
  redis.call('PFADD', uv, unpack(u))
  -- the delta's visitor mark is new once per flush interval: the HLL's TTL is set then (a new HLL always
  -- comes with a new mark: the key lives 72 h past its day, the mark until the next seal)
  if redis.call('HSET', u.dk, u.field, '1') == 1 then redis.call('EXPIRE', uv, '259200') end
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
