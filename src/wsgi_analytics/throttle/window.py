"""The throttle's rolling window as data: its rules, the Lua script, its arguments and its reply.

Sans-IO: the sync and async gates only carry `SCRIPT` to Redis and the reply back, so both
decide, and answer, identically.

Each (client, rule) pair is a sorted set of the accepted requests' times in microseconds (Redis
``TIME``, so workers with skewed clocks agree). A request is accepted when fewer than ``limit``
entries are younger than ``window``; then, and only then, its time is added. Any ``limit + 1``
accepted requests therefore span at least ``window`` - the exact rolling window, not the
fixed-window or sliding-counter approximation that lets a timed client through twice the limit.
The set never holds more than ``limit`` entries, and it expires ``window`` after the last
accepted request, so an idle client costs nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

__all__ = ["SCRIPT", "Decision", "Rule", "check_rule", "parse_reply", "script_args"]

# Why one script: the check, the add and the expiry must be one atomic step, or two concurrent
# requests both see "4 of 5" and both get in. Scripts run atomically, so 100 simultaneous
# callers are serialised by Redis itself and exactly `limit` of them are accepted.
# KEYS: one sorted set per rule, all under one hash tag (one cluster slot).
# ARGV: limit and window (microseconds) for each key, in order.
# Reply: {allowed (0/1), then per key: remaining, microseconds until its oldest entry leaves
# (0 when accepted: only a refusal needs it)}.
SCRIPT = """
if redis.replicate_commands then
  -- Redis < 5 replicates whole scripts and refuses writes after TIME without this
  pcall(redis.replicate_commands)
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local stamp = string.format('%.0f', now)
local counts = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now - window))
  local count = redis.call('ZCARD', key)
  if count > limit then
    -- the limit was lowered since these were added: only the newest `limit` still matter
    redis.call('ZREMRANGEBYRANK', key, 0, count - limit - 1)
    count = limit
  end
  if count >= limit then
    allowed = 0
  end
  counts[i] = count
end
local reply = {allowed}
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  local count = counts[i]
  if allowed == 1 then
    -- two requests in one microsecond (or a clock step back) must stay two members
    local member, seq = stamp, 0
    while redis.call('ZADD', key, 'NX', stamp, member) == 0 do
      seq = seq + 1
      member = stamp .. '-' .. seq
    end
    redis.call('PEXPIRE', key, math.ceil(window / 1000))
    count = count + 1
  end
  local wait = 0
  -- only a refusal reports when a slot frees (Retry-After): an accepted request skips it
  if allowed == 0 and count > 0 then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    wait = math.max(0, tonumber(oldest[2]) + window - now)
  end
  reply[#reply + 1] = limit - count
  reply[#reply + 1] = wait
end
return reply
"""

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class Rule(NamedTuple):
    """At most ``limit`` accepted requests per client in any ``window`` seconds.

    ``path`` narrows the rule to a path prefix, by whole segments (``"/login"`` covers
    ``/login`` and ``/login/otp``, not ``/logins``). ``name`` identifies the rule in the
    ``RateLimit-Policy`` header and in its Redis key: letters, digits, ``_.-``.
    """

    limit: int
    window: float
    path: str = "/"
    name: str = "default"

    def covers(self, path: str) -> bool:
        prefix = self.path.rstrip("/")
        return not prefix or path == prefix or path.startswith(prefix + "/")


def check_rule(rule: Rule) -> Rule:
    """The rule, validated (raises ``ValueError`` on nonsense)."""
    if isinstance(rule.limit, bool) or not isinstance(rule.limit, int) or rule.limit < 1:
        raise ValueError(f"limit must be a positive integer, not {rule.limit!r}")
    if not isinstance(rule.window, (int, float)) or not 0.001 <= rule.window <= 366 * 86400:
        raise ValueError(f"window must be between 0.001 and 31622400 seconds, not {rule.window!r}")
    if not isinstance(rule.name, str) or not _NAME.match(rule.name):
        raise ValueError(f"rule name must be 1-32 letters, digits or _.- , not {rule.name!r}")
    if not isinstance(rule.path, str) or not rule.path.startswith("/"):
        raise ValueError(f"rule path must start with '/', not {rule.path!r}")
    return rule


def script_args(rules: Sequence[Rule]) -> list[int]:
    args: list[int] = []
    for rule in rules:
        args += (rule.limit, round(rule.window * 1_000_000))
    return args


class Decision(NamedTuple):
    """The script's reply: accepted or not, and per rule the remaining quota and wait."""

    allowed: bool
    remaining: tuple[int, ...]
    waits: tuple[int, ...]  # microseconds until each rule's oldest entry leaves the window


def parse_reply(reply: object, rules: Sequence[Rule]) -> Decision:
    """Decode the script's reply; ``ValueError`` if it is not what the script returns."""
    if not isinstance(reply, list) or len(reply) != 1 + 2 * len(rules):
        raise ValueError(f"unexpected throttle reply {reply!r}")
    values = [int(value) for value in reply]
    return Decision(values[0] == 1, tuple(values[1::2]), tuple(values[2::2]))
