"""The Lua script behind every `Stats` table read: add up day keys, then cut the top rows.

``KEYS``: ``[scratch, key]`` for one key (today, or an all-time key), or ``[scratch, cache,
today, day-1, day-2, ...]`` for a range. Every key carries the dimension's hash tag, so the script
touches one slot (Redis Cluster) and runs atomically. ``ARGV``: the row limit, and how long the
cache key lives in milliseconds.

A range's past days hardly change, so their union is kept in the cache key for a short while and
each read adds only today to it: a 90-day read is two 10,000-member sets, not ninety. (Past days
can still move: a flush delayed by a Redis outage lands on the day its requests were made. The
cache's lifetime bounds how long such counts are missing from a range.)

Returns ``{distinct members, sum of all counts, flat member/score list of the top rows}``. Ties
at the cut-off are exact: members of equal score sit in a sorted set in member order, so the rows
above the cut-off score plus the first members *at* it are the true top ``limit``; the caller
sorts those few rows by (count descending, member).
"""

from __future__ import annotations

__all__ = ["TOP"]

TOP = """
local src = KEYS[2]
if #KEYS > 2 then
  local cache = KEYS[2]
  if redis.call('EXISTS', cache) == 0 and #KEYS > 3 then
    redis.call('ZUNIONSTORE', cache, #KEYS - 3, unpack(KEYS, 4))
    redis.call('PEXPIRE', cache, ARGV[2])
  end
  redis.call('ZUNIONSTORE', KEYS[1], 2, cache, KEYS[3])
  src = KEYS[1]
end
local limit = tonumber(ARGV[1])
local distinct = redis.call('ZCARD', src)
local all = redis.call('ZRANGE', src, 0, -1, 'WITHSCORES')
local sum = 0
for i = 2, #all, 2 do sum = sum + tonumber(all[i]) end
local rows = {}
if limit > 0 and distinct > 0 then
  local cut = redis.call('ZREVRANGE', src, limit - 1, limit - 1, 'WITHSCORES')
  if #cut == 0 then
    rows = all
  else
    rows = redis.call('ZRANGEBYSCORE', src, '(' .. cut[2], '+inf', 'WITHSCORES')
    local ties = redis.call('ZRANGEBYSCORE', src, cut[2], cut[2], 'WITHSCORES',
                            'LIMIT', 0, limit - #rows / 2)
    for i = 1, #ties do rows[#rows + 1] = ties[i] end
  end
end
redis.call('DEL', KEYS[1])
return {distinct, tostring(sum), rows}
"""
