"""What one request counts, and where the counts live in Redis. Pure: no I/O.

Key layout (``prefix`` defaults to ``analytics``, ``D`` is a dimension, ``DAY`` a UTC date)::

    {prefix:D}:DAY          sorted set, member -> count for that day   (expires after retention)
    {prefix:D}:all          sorted set, member -> all-time count       (trimmed to the top members)
    {prefix:timeline}:DAY   sorted set, "YYYY-MM-DDTHH" -> page views   (expires after retention)
    {prefix:days}:all       sorted set, "YYYY-MM-DD" -> page views      (one member a day)
    {prefix:uniques}:DAY    HyperLogLog of visitor hashes              (expires after retention)
    {prefix:uniques}:all    HyperLogLog of visitor hashes, all time
    {prefix:salt}:DAY       the day's random salt for visitor hashes   (deleted after two days)

The braces are a Redis Cluster hash tag: every key of one dimension lives in one slot, so the
multi-day reads (``ZUNIONSTORE``, ``PFCOUNT`` over several days) never cross slots, while the
dimensions spread over the cluster.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timezone
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from .agents import Agent
from .facts import MAX_PATH, Facts

__all__ = [
    "DIMENSIONS",
    "MAX_MEMBER",
    "Event",
    "Keys",
    "by_request",
    "by_shape",
    "check_dimension",
    "day_label",
    "hour_label",
    "increments",
    "page_view",
    "referrer_host",
]

MAX_MEMBER = MAX_PATH
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
# Dimensions kept per day only (timeline: the all-time view is `days`) or all-time only.
DAY_ONLY = frozenset({"timeline"})
ALL_ONLY = frozenset({"days"})
RESERVED = frozenset({"timeline", "days", "uniques", "salt"})
DIRECT = "(direct)"
_DIMENSION_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


class Event(NamedTuple):
    """One finished request as the recorder queues it; labels are derived later, off the request."""

    hour: int  # hours since the epoch, UTC
    facts: Facts
    status: int
    throttled: bool
    trusted_proxies: int


# The label functions are pure and see a handful of distinct arguments a day (strftime costs
# ~1.5 µs a call); the referrer cache is bounded and hit by every repeat visit from a source.
@lru_cache(maxsize=64)
def hour_label(hour: int) -> str:
    return datetime.fromtimestamp(hour * 3600, timezone.utc).strftime("%Y-%m-%dT%H")


@lru_cache(maxsize=256)
def day_label(day: int) -> str:
    """``YYYY-MM-DD`` for a day number (days since the epoch, UTC)."""
    return datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")


def today(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 86400)


def check_dimension(name: str) -> str:
    """Validate a custom dimension name (it becomes part of a Redis key)."""
    if not isinstance(name, str) or not _DIMENSION_NAME.match(name) or name in RESERVED:
        raise ValueError(
            f"invalid dimension {name!r}: use 1-64 characters of a-z, 0-9, '_', '.', '-', "
            f"not one of {sorted(RESERVED)}"
        )
    return name


@lru_cache(maxsize=4096)
def referrer_host(referrer: str, own_host: str) -> str | None:
    """The referring site's host (lower-case, no ``www.``), ``(direct)``, or ``None`` for a
    self-referral, which is navigation inside the site and not a source of traffic."""
    if not referrer:
        return DIRECT
    try:
        host = urlsplit(referrer).hostname
    except ValueError:
        return None
    if not host:
        # "android-app://com.google.android.gm/" and the like have a host; junk has none.
        return None
    host = host.rstrip(".")[:253]
    if host.startswith("www."):
        host = host[4:]
    own = own_host.rpartition("@")[2].lower()
    if own.startswith("["):
        own = own.partition("]")[0] + "]"
    elif own.count(":") == 1:
        own = own.partition(":")[0]
    own = own.rstrip(".")
    if own.startswith("www."):
        own = own[4:]
    if host == own or (own.startswith("[") and host == own[1:-1]):
        return None
    return host or None


def page_view(facts: Facts, status: int, agent: Agent) -> bool:
    """GET answered 2xx or 304, from a person: redirects, errors and bots are not page views."""
    return facts.method == "GET" and (200 <= status < 300 or status == 304) and agent.bot is None


def by_shape(event: Event, agent: Agent) -> list[tuple[str, str]]:
    """The (dimension, member) pairs that depend only on the request's shape: its agent, hour,
    method, status and whether it was throttled. A batch of requests counts them once per shape.
    """
    facts, status = event.facts, event.status
    pairs = [("statuses", str(status))]
    if agent.bot is not None:
        pairs.append(("bots", agent.bot[:MAX_MEMBER]))
    if not event.throttled and page_view(facts, status, agent):
        pairs += [
            ("browsers", agent.browser[:MAX_MEMBER]),
            ("platforms", agent.platform[:MAX_MEMBER]),
            ("devices", agent.device),
            ("timeline", hour_label(event.hour)),
            ("days", day_label(event.hour // 24)),
        ]
    return pairs


def by_request(event: Event, viewed: bool) -> list[tuple[str, str]]:
    """The pairs that carry the request's own path or referrer; ``viewed``: it is a page view
    (`page_view`, and not throttled), which depends on the shape alone."""
    facts = event.facts
    if event.throttled:
        return [("throttled", facts.path)]
    if viewed:
        source = referrer_host(facts.referrer, facts.host)
        if source is None:
            return [("paths", facts.path)]
        return [("paths", facts.path), ("referrers", source)]
    if facts.method == "GET" and event.status == 404:
        return [("not_found", facts.path)]
    return []


def increments(event: Event, agent: Agent) -> list[tuple[str, str]]:
    """The (dimension, member) pairs one request adds 1 to: the reference the recorder's
    batched counting is tested against."""
    viewed = not event.throttled and page_view(event.facts, event.status, agent)
    return by_shape(event, agent) + by_request(event, viewed)


class Keys:
    """Key names for one prefix (see the module docstring for the layout)."""

    def __init__(self, prefix: str = "analytics") -> None:
        if not prefix or any(c in prefix for c in "{}\r\n "):
            raise ValueError(f"invalid prefix {prefix!r}: no braces, spaces or newlines")
        self.prefix = prefix

    def tag(self, dimension: str) -> str:
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

    def uniques(self, day: int | None) -> str:
        return self.all("uniques") if day is None else self.day("uniques", day)

    def salt(self, day: int) -> str:
        return self.day("salt", day)

    def range(self, dimension: str, days: int | None, now: float | None = None) -> list[str]:
        """The keys a read over ``days`` (1 = today, None = all time) looks at, newest first."""
        if days is None:
            return [self.all(dimension)]
        if days < 1:
            raise ValueError(f"days must be at least 1 or None, not {days!r}")
        first = today(now)
        return [self.day(dimension, first - offset) for offset in range(days)]
