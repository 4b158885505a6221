"""The Lua scripts behind every `Stats` table read, each a bounded step of work.

A5 promises that no read blocks Redis for more than 50 ms at a time and that no read leaves more
than a few MB of scratch keys. A range of day keys at their cap (10,000+ members each, a scanner
keeps them there) cannot be summed in one command within that: a ``ZUNIONSTORE`` of 30 such days
took 7.5 s and left a 250 MB result. So a read is a series of calls of `READ`, each doing at most
``budget`` units of work (a unit is one member read or written) and returning where it stopped;
`wsgi_analytics.reading.bounded` drives them, a few calls per round trip.

**What a range read computes.** For the days ``d`` of the range, the accumulator ``S`` (a scratch
key of the dimension's slot) receives the top ``M`` members of each day key, and then keeps only
its top ``K`` members. So the counts read back are exact when every day key of the range holds at
most ``M`` members and the sum holds at most ``K``: then the rows, their ties (by member) and the
number of distinct members are exactly those of a full union. Otherwise each count may be too low
by at most ``error_bound`` = the sum, over the days, of the score of each day's ``M+1``-th member
(what a member outside a day's top ``M`` can have had that day), plus the sum of the highest
score removed at each trim of ``S``. A count read back is never too high. On a day key full of
scanner junk counted once each, a day adds 1 to the bound: a 30-day read is off by at most 30.

The sum of all counts (a table's ``total``) is exact whatever the size: the members outside the
top ``M`` are added up by rank in chunks of ``C``, and a run of members with the same score (the
junk counted once each) is added in one step with ``ZCOUNT``, so the tail of junk costs a few
commands, not ten thousand reads.

**The range cache.** The whole past days of a range hardly change, so their accumulator is kept
(trimmed to ``K`` members) in ``{prefix:D}:range:FIRST:LAST`` for ``ttl`` ms, its totals in the
hash ``{prefix:D}:ranges`` (field ``FIRST:LAST``). Only the ``keep`` most recently built ranges of
a dimension are kept: ``?days=`` values a page on the web can make a browser request do not each
leave a cache behind. A read of a range that ends today starts from the cache, when there is one,
and adds today's day key (live). Past days can still move (a flush delayed by an outage lands on
the day its requests were made): the cache's lifetime bounds how long that is missing.

One day key, and the all-time key, are read directly (``M = 0``): the rows come from the key
itself, exact, ties included; only its sum is worked out in steps.
"""

from __future__ import annotations

__all__ = ["PAIRS", "READ"]

# KEYS: S (scratch accumulator), the cache key, the cache's index hash, then the day keys.
# ARGV: 1 limit, 2 M (0: direct read of the one day key), 3 K, 4 budget, 5 chunk C,
#       6 scratch ttl ms, 7 cache ttl ms, 8 keep (caches per dimension), 9 the cache's field
#       ("" = no cache), 10 how many leading day keys the cache covers, 11 now (ms),
#       state: 12 i (0 = not started), 13 r (-1: day i's top part next; -2: the cache's save
#       next; else tail ranks done),
#       14 sum, 15 bound, 16 maxcard, 17 truncated (0/1).
# Returns {done, i, r, sum, bound, maxcard, truncated, distinct, rows, hit, units spent}.
READ = """
local S, cache, index = KEYS[1], KEYS[2], KEYS[3]
local limit, M, K = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local budget, C = tonumber(ARGV[4]), tonumber(ARGV[5])
local ttl, cache_ttl, keep = ARGV[6], ARGV[7], tonumber(ARGV[8])
local field, covered, now = ARGV[9], tonumber(ARGV[10]), ARGV[11]
local i, r = tonumber(ARGV[12]), tonumber(ARGV[13])
local sum, bound = tonumber(ARGV[14]), tonumber(ARGV[15])
local maxcard, truncated = tonumber(ARGV[16]), tonumber(ARGV[17])
local days = #KEYS - 3
local spent, hit = 0, 0
-- The top members read in this call, summed here first: one ZINCRBY per distinct member and
-- call, not per member and day (a small accumulator is a listpack, where each ZINCRBY costs a
-- scan of it).
local adds, added = {}, 0

local function flush()
  for member, score in pairs(adds) do
    redis.call('ZINCRBY', S, score, member)
  end
  spent = spent + added
  adds, added = {}, 0
end

local function trim()
  flush()
  local size = redis.call('ZCARD', S)
  if size > K then
    local cut = redis.call('ZREVRANGE', S, K, K, 'WITHSCORES')
    bound = bound + tonumber(cut[2])
    truncated = 1
    redis.call('ZREMRANGEBYRANK', S, 0, -K - 1)
    spent = spent + size - K
  end
end

local function save()
  -- The accumulator holds the covered past days: keep a trimmed copy as the range's cache.
  trim()
  redis.call('DEL', cache)
  if redis.call('EXISTS', S) == 1 then
    redis.call('ZUNIONSTORE', cache, 1, S)
    redis.call('PEXPIRE', cache, cache_ttl)
    spent = spent + redis.call('ZCARD', S)
  end
  local meta = table.concat({tostring(sum), tostring(bound), tostring(maxcard),
                             tostring(truncated), now, cache}, ' ')
  redis.call('HSET', index, field, meta)
  redis.call('PEXPIRE', index, cache_ttl)
  local fields = redis.call('HGETALL', index)
  if #fields / 2 > keep then
    -- Evict the oldest builds (fields are few: at most keep + 1).
    local builds = {}
    for j = 1, #fields, 2 do
      local built, key = string.match(fields[j + 1], '(%d+) (%S+)$')
      builds[#builds + 1] = {tonumber(built) or 0, fields[j], key}
    end
    table.sort(builds, function(a, b) return a[1] < b[1] end)
    for j = 1, #builds - keep do
      redis.call('HDEL', index, builds[j][2])
      if builds[j][3] then redis.call('DEL', builds[j][3]) end
    end
  end
end

if r == -2 then
  save()
  r = -1
end

if i == 0 then
  i, r = 1, -1
  if field ~= '' then
    local meta = redis.call('HGET', index, field)
    if meta then
      local s, b, m, t = string.match(meta, '^(%S+) (%S+) (%S+) (%S+)')
      if redis.call('EXISTS', cache) == 1 or tonumber(s) == 0 then
        redis.call('DEL', S)
        if redis.call('EXISTS', cache) == 1 then
          redis.call('ZUNIONSTORE', S, 1, cache)
          redis.call('PEXPIRE', S, ttl)
          spent = spent + redis.call('ZCARD', S)
        end
        sum, bound, maxcard, truncated = tonumber(s), tonumber(b), tonumber(m), tonumber(t)
        i, hit = covered + 1, 1
      end
    end
  end
end

while i <= days and spent + added < budget do
  local key = KEYS[i + 3]
  local n = redis.call('ZCARD', key)
  if r < 0 and M > 0 and spent > 0 and spent + added + 2 * math.min(n, M) > budget then
    break  -- a day's top part is done whole: in the next call
  end
  if n > maxcard then maxcard = n end
  if r < 0 then
    if M > 0 then
      local top = redis.call('ZREVRANGE', key, 0, M - 1, 'WITHSCORES')
      for j = 1, #top, 2 do
        local member, score = top[j], tonumber(top[j + 1])
        local before = adds[member]
        if before == nil then
          added = added + 1
          adds[member] = score
        else
          adds[member] = before + score
        end
        sum = sum + score
      end
      spent = spent + #top / 2
      if added > K then trim() end
    end
    r = 0
    if n > M and M > 0 then
      local next = redis.call('ZREVRANGE', key, M, M, 'WITHSCORES')
      bound = bound + tonumber(next[2])
      truncated = 1
    end
  end
  local tail = n - M
  if r >= tail then
    i, r = i + 1, -1
    if i == covered + 1 and field ~= '' then
      if spent > 0 and spent + redis.call('ZCARD', S) > budget then
        r = -2  -- the cache is saved first thing in the next call
        break
      end
      save()
    end
  else
    -- The members outside the top M, by rank from the lowest: a chunk, then the rest of the
    -- run of the chunk's last score in one step.
    local chunk = redis.call('ZRANGE', key, r, math.min(r + C, tail) - 1, 'WITHSCORES')
    if #chunk == 0 then
      r = tail
    else
      for j = 2, #chunk, 2 do sum = sum + tonumber(chunk[j]) end
      r = r + #chunk / 2
      local last = chunk[#chunk]
      local run = math.min(redis.call('ZCOUNT', key, '-inf', last), tail)
      if run > r then
        sum = sum + tonumber(last) * (run - r)
        r = run
      end
      spent = spent + #chunk / 2 + 2
    end
  end
end

if M > 0 then
  trim()
  if redis.call('EXISTS', S) == 1 then redis.call('PEXPIRE', S, ttl) end
end

local state = {tostring(sum), tostring(bound), maxcard, truncated}
if i <= days or r == -2 then
  return {0, i, r, state[1], state[2], state[3], state[4], 0, {}, hit, spent}
end

-- Done: the top rows. Ties at the cut-off are exact: members of equal score sit in a sorted set
-- in member order, so the rows above the cut-off score plus the first members *at* it are the
-- true top `limit`; the caller sorts those few rows by (count descending, member).
local src = S
if M == 0 then src = KEYS[4] end
local distinct = redis.call('ZCARD', src)
if truncated == 1 and maxcard > distinct then distinct = maxcard end
local rows = {}
if limit > 0 and distinct > 0 then
  local cut = redis.call('ZREVRANGE', src, limit - 1, limit - 1, 'WITHSCORES')
  if #cut == 0 then
    rows = redis.call('ZREVRANGE', src, 0, -1, 'WITHSCORES')
  else
    rows = redis.call('ZRANGEBYSCORE', src, '(' .. cut[2], '+inf', 'WITHSCORES')
    local ties = redis.call('ZRANGEBYSCORE', src, cut[2], cut[2], 'WITHSCORES',
                            'LIMIT', 0, limit - #rows / 2)
    for j = 1, #ties do rows[#rows + 1] = ties[j] end
  end
end
if M > 0 then redis.call('DEL', S) end
return {1, i, r, state[1], state[2], state[3], state[4], distinct, rows, hit, spent + limit}
"""

# One step of a filtered read: the members of one day's pair key that carry the filter's member
# (``needle`` = separator, member, separator), from rank ``r`` on, at most ``budget`` read.
# KEYS: the pair key. ARGV: needle, r, budget. Returns {next r (-1: done), member, count, ...}.
PAIRS = """
local key, needle = KEYS[1], ARGV[1]
local r, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
local chunk = redis.call('ZRANGE', key, r, r + budget - 1, 'WITHSCORES')
local found = {}
for j = 1, #chunk, 2 do
  if string.find(chunk[j], needle, 1, true) then
    found[#found + 1] = chunk[j]
    found[#found + 1] = chunk[j + 1]
  end
end
local next = r + #chunk / 2
if #chunk / 2 < budget then next = -1 end
return {next, found}
"""
