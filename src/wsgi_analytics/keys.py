"""The Redis key layout: every key name this package reads or writes is built here, and only here.

``prefix`` defaults to ``analytics``; ``D`` is a dimension, ``DAY`` a UTC date (``YYYY-MM-DD``),
``N`` a day number; "retention" is the recorder's ``retention_days``::

    {prefix:D}:DAY              sorted set, member -> count for that day   (expires after retention)
    {prefix:D}:all              sorted set, member -> all-time count       (trimmed to top members)
    {prefix:timeline}:DAY       sorted set, "YYYY-MM-DDTHH" -> page views  (expires after retention)
    {prefix:days}:all           sorted set, "YYYY-MM-DD" -> page views     (one member a day)
    {prefix:uniques}:DAY        HyperLogLog of visitor hashes              (expires after retention)
    {prefix:uniques}:all        HyperLogLog of visitor hashes, all time
    {prefix:salt}:DAY           the day's random salt for visitor hashes   (gone an hour after DAY)
    {prefix:D}:batch:ID:N       a flush batch's marker: applied once        (expires after minutes)
    {prefix:D}:cache:K:DAY      a read cache: the union of K-1 past days   (expires after a minute)
    {prefix:D}:scratch:ID       a read's scratch key                       (deleted by the read)
    {prefix:throttle}:secret    the throttle's hashing secret (unless the app passes its own)
    {prefix:throttle:HASH}:R    one client's accepted request times for the throttle rule R

The braces are a Redis Cluster hash tag: every key of one dimension lives in one slot, so the
multi-day reads (``ZUNIONSTORE``, ``PFCOUNT`` over several days) and the flush scripts never cross
slots, while the dimensions spread over the cluster. A throttled client's rules share the slot
of its own hash tag.

Adding a kind of key: add a line to the table above and a method to `Keys` that builds it from
`Keys.tag` (one hash tag per thing read or written together); never format a key elsewhere.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from functools import lru_cache

__all__ = [
    "ALL_ONLY",
    "DAY_ONLY",
    "DIMENSIONS",
    "RESERVED",
    "Keys",
    "check_dimension",
    "day_label",
    "hour_label",
    "today",
]

# The built-in dimensions, in the order reports show them.
DIMENSIONS = (
    "paths",
    "referrers",
    "browsers",
    "platforms",
    "devices",
    "bots",
    "not_found",
    "statuses",
    "throttled",
)
# Kept per day only (the all-time view of the timeline is `days`) or all time only; neither is
# trimmed (they hold 24 members a day and one member a day).
DAY_ONLY = frozenset({"timeline"})
ALL_ONLY = frozenset({"days"})
# Names of the layout's own keys, which a custom dimension must not take.
RESERVED = frozenset({"timeline", "days", "uniques", "salt"})
_DIMENSION_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


# The label functions are pure and see a handful of distinct arguments a day (strftime costs
# ~1.5 µs a call).
@lru_cache(maxsize=64)
def hour_label(hour: int) -> str:
    """``YYYY-MM-DDTHH`` for an hour number (hours since the epoch, UTC)."""
    return datetime.fromtimestamp(hour * 3600, timezone.utc).strftime("%Y-%m-%dT%H")


@lru_cache(maxsize=256)
def day_label(day: int) -> str:
    """``YYYY-MM-DD`` for a day number (days since the epoch, UTC)."""
    return datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")


def today(now: float | None = None) -> int:
    """Today's day number (UTC)."""
    return int((time.time() if now is None else now) // 86400)


def check_dimension(name: str) -> str:
    """Validate a custom dimension name (it becomes part of a Redis key)."""
    if not isinstance(name, str) or not _DIMENSION_NAME.match(name) or name in RESERVED:
        raise ValueError(
            f"invalid dimension {name!r}: use 1-64 characters of a-z, 0-9, '_', '.', '-', "
            f"not one of {sorted(RESERVED)}"
        )
    return name


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


class Keys:
    """Key names for one prefix (see the module docstring for the layout)."""

    def __init__(self, prefix: str = "analytics") -> None:
        if not isinstance(prefix, str) or not prefix or any(c in prefix for c in "{}\r\n "):
            raise ValueError(f"invalid prefix {prefix!r}: no braces, spaces or newlines")
        self.prefix = prefix
        # The demo (and anyone clearing a prefix) must find this prefix's keys and no one
        # else's: "{shop:paths}" is ours, "{shop:eu:paths}" belongs to the prefix "shop:eu".
        self._own = re.compile(
            r"^\{" + re.escape(prefix) + r":(?:[a-z0-9_.-]+|throttle:[0-9a-f]+)\}"
        )

    # -- counts -------------------------------------------------------------------------------

    def tag(self, dimension: str) -> str:
        """The hash tag every key of ``dimension`` starts with (one cluster slot)."""
        return f"{{{self.prefix}:{dimension}}}"

    def day(self, dimension: str, day: int) -> str:
        return f"{self.tag(dimension)}:{day_label(day)}"

    def all(self, dimension: str) -> str:
        return f"{self.tag(dimension)}:all"

    def targets(self, dimension: str, day: int) -> tuple[str, ...]:
        """The keys one increment of ``dimension`` on ``day`` goes to."""
        if dimension in DAY_ONLY:
            return (self.day(dimension, day),)
        if dimension in ALL_ONLY:
            return (self.all(dimension),)
        return (self.day(dimension, day), self.all(dimension))

    def expiring(self, dimension: str, day: int) -> str | None:
        """The key of ``dimension`` on ``day`` that expires after the retention, if any."""
        return None if dimension in ALL_ONLY else self.day(dimension, day)

    def trimmed(self, dimension: str) -> bool:
        """Whether the keys of ``dimension`` are trimmed to the top members (their members are
        client input; the timeline's and the days' are a bounded set of labels)."""
        return dimension not in DAY_ONLY and dimension not in ALL_ONLY

    def range(self, dimension: str, days: int | None, now: float | None = None) -> list[str]:
        """The keys a read over ``days`` (1 = today, None = all time) looks at, newest first."""
        if days is None:
            return [self.all(dimension)]
        if days < 1:
            raise ValueError(f"days must be at least 1 or None, not {days!r}")
        first = today(now)
        return [self.day(dimension, first - offset) for offset in range(days)]

    def uniques(self, day: int | None) -> str:
        return self.all("uniques") if day is None else self.day("uniques", day)

    def salt(self, day: int) -> str:
        return self.day("salt", day)

    # -- the writer's and the readers' own keys -------------------------------------------------

    def batch(self, dimension: str, batch: str, day: int) -> str:
        """The marker that makes a flush batch of ``dimension`` on ``day`` apply once."""
        return f"{self.tag(dimension)}:batch:{batch}:{day}"

    def scratch(self, dimension: str, token: str) -> str:
        """A read's scratch key, in the dimension's slot."""
        return f"{self.tag(dimension)}:scratch:{token}"

    def cache(self, dimension: str, days: int, day: int) -> str:
        """The cached union of the ``days - 1`` days before ``day`` (named by range and day, so
        that it rolls over at midnight)."""
        return f"{self.tag(dimension)}:cache:{days}:{day_label(day)}"

    def dimension_pattern(self) -> str:
        """A ``SCAN MATCH`` pattern for the all-time key of every dimension of this prefix."""
        return _glob_escape(f"{{{self.prefix}:") + "*}:all"

    def dimension_of(self, key: str) -> str | None:
        """The dimension whose all-time key ``key`` is, or ``None``."""
        head, tail = f"{{{self.prefix}:", "}:all"
        if not (key.startswith(head) and key.endswith(tail)):
            return None
        return key[len(head) : -len(tail)] or None

    def own_pattern(self) -> str:
        """A ``SCAN MATCH`` pattern that finds every key of this prefix (and some of others:
        filter them with `owns`)."""
        return _glob_escape(f"{{{self.prefix}:") + "*"

    def owns(self, key: str) -> bool:
        """Whether ``key`` belongs to this prefix's layout."""
        return self._own.match(key) is not None

    # -- the throttle ---------------------------------------------------------------------------

    def throttle_secret(self) -> str:
        return f"{self.tag('throttle')}:secret"

    def throttle_bucket(self, client_hash: str, rule: str) -> str:
        """One client's accepted requests under ``rule``. The client's hash is in the hash tag:
        all its rules share a slot (one script, many keys, cluster-safe) while clients spread."""
        return f"{self.tag('throttle:' + client_hash)}:{rule}"
