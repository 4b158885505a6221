"""The Redis key layout: every key name this package reads or writes is built here, and only here.

``prefix`` defaults to ``analytics``; ``D`` is a dimension, ``DAY`` a date (``YYYY-MM-DD``) in
the site's time zone, ``N`` a day number (days since 1970-01-01 in that zone's calendar: in UTC,
``int(t // 86400)``); "retention" is the recorder's ``retention_days``::

    {prefix:D}:DAY              sorted set, member -> count for that day   (expires after retention)
    {prefix:D}:all              sorted set, member -> all-time count       (trimmed to top members)
    {prefix:timeline}:DAY       sorted set, "YYYY-MM-DDTHH" -> page views  (expires after retention)
    {prefix:days}:all           sorted set, "YYYY-MM-DD" -> page views     (one member a day)
    {prefix:uniques}:DAY        HyperLogLog of visitor hashes              (expires after retention)
    {prefix:uniques}:all        HyperLogLog of visitor hashes, all time
    {prefix:salt}:DAY           the day's random salt for visitor hashes   (gone an hour after DAY)
    {prefix:D}:batch:ID:N       a flush batch's marker: applied once        (expires after minutes)
    {prefix:D}:range:F:L        a read cache: the top members of days F..L (trimmed, expires
                                after a minute; a few per dimension, see reading.topscript)
    {prefix:D}:ranges           hash: "F:L" -> that cache's totals         (expires after a minute)
    {prefix:D}:scratch:ID       a read's scratch key              (deleted by the read, or expires)
    {prefix:throttle}:secret    the throttle's hashing secret (unless the app passes its own)
    {prefix:throttle:HASH}:R    one client's accepted request times for the throttle rule R
    {prefix:meta}               hash: ``timezone`` -> the IANA zone the days and hours are
                                counted in (set once, by the first recorder: ``HSETNX``);
                                ``retention_days`` -> the longest retention of any recorder
                                (raised by each at its first write; readers cut ranges there)
    {prefix:pairs.W}:DAY:B      sorted set, `pair_member` -> page views    (expires after retention)
    {prefix:pairs.W}:all:B      the same, all time (no timeline pairs)     (trimmed to top members)
    {prefix:live}:M             HyperLogLog of visitor hashes with a page view in minute M
                                (minutes since the epoch, UTC)             (expires 35 minutes on)
    {prefix:latency.vV:G}:ROUTE:DAY  sorted set, response-time bucket -> requests of ROUTE
    {prefix:latency.vV:G}:ROUTE:all  the same, all time             (both deleted with ROUTE)
    {prefix:latency.vV:G}:batch:ID:N a flush batch's marker, as above

Routes (DESIGN A3): ``routes`` counts every request by its member ``"METHOD template"``
(``GET /items/{item_id}``), ``routes_4xx`` and ``routes_5xx`` the requests of each route
answered 4xx and 5xx; they are dimensions like the others (``{prefix:routes}:DAY`` ...).

A route's response times are a DDSketch (`wsgi_analytics.sketch`): member = the bucket index as
text (``"312"``), score = the requests whose duration fell in that bucket. ``V`` is
`sketch.SKETCH_VERSION`: bucket numbers depend on the sketch's constants, so changing them
starts new keys instead of misreading old ones. ``ROUTE`` is the ``routes`` member as it is
(``GET /items/{item_id}``: braces after the hash tag are plain text) and ``G`` its group,
`sketch_group`: the CRC-32 of the route modulo `SKETCH_GROUPS`, e.g.
``{analytics:latency.v1:5}:GET /items/{item_id}:2026-12-01``. Why groups: every read of one
route over many days (``ZUNION``) touches one slot, the groups spread over the cluster, and a
flush writes the sketches of all its routes in one command per group and day instead of one per
route (a site of a few hundred pages has a few hundred routes). Find a route's keys with
``SCAN MATCH "{analytics:latency.v1:*}:GET /items/{item_id}:*"``. Bounded: at most 448 members
a key; the day keys expire with the retention, and whenever the writer trims a member off
``routes`` (the day key or the all-time key), it deletes that route's sketch of the same day (or
all time) too, so sketches exist only for routes that survive trimming.

The braces are a Redis Cluster hash tag: every key of one dimension lives in one slot, so the
multi-day reads (``ZUNIONSTORE``, ``PFCOUNT`` over several days) and the flush scripts never cross
slots, while the dimensions spread over the cluster. A throttled client's rules share the slot
of its own hash tag.

Drill-down pairs. For a filter dimension ``W`` (`PAIR_FILTERS`: paths, sources, countries), a
member ``w`` of it, another page-view dimension ``D`` (`PAIR_DIMENSIONS`, ``D != W``) or
``timeline`` (day keys only), and a member ``d`` of ``D``, the score of ``pair_member(w, D, d)``
is the number of page views counted under both ``w`` and ``d``: ``Stats.top("sources",
where=("paths", "/pricing/"))`` reads the ``sources`` pairs of ``/pricing/``. The pairs of one
``w`` all sit in one of `PAIR_BUCKETS` keys per day (``B = pair_bucket(w)``), so a filtered read
scans one small key a day, not every pair of the day; each bucket key is trimmed to its top
``max_members // 16`` members (a page view with no member in ``D``, such as no ``utm_medium``,
has no pair for ``D``). The total of ``w`` is its score in ``W``'s own key, which is exact.

Adding a kind of key: add a line to the table above and a method to `Keys` that builds it from
`Keys.tag` (one hash tag per thing read or written together); never format a key elsewhere.
"""

from __future__ import annotations

import re
import time
import zlib
from datetime import datetime, timezone
from functools import lru_cache

from .sketch import SKETCH_VERSION

__all__ = [
    "ALL_ONLY",
    "DAY_ONLY",
    "DIMENSIONS",
    "LIVE_SECONDS",
    "PAIR_BUCKETS",
    "PAIR_DIMENSIONS",
    "PAIR_FILTERS",
    "PAIR_LIST_SEPARATOR",
    "RESERVED",
    "ROUTE_DIMENSIONS",
    "SKETCH_FAMILY",
    "SKETCH_GROUPS",
    "TIMELINE",
    "Keys",
    "check_dimension",
    "day_label",
    "hour_label",
    "is_sketch",
    "pair_bucket",
    "pair_member",
    "sketch_family",
    "sketch_group",
    "sketch_route",
    "split_pair",
    "today",
]

# The built-in dimensions, in the order reports show them.
DIMENSIONS = (
    "paths",
    "referrers",
    "sources",
    "channels",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "browsers",
    "platforms",
    "devices",
    "countries",
    "bots",
    "not_found",
    "statuses",
    "routes",
    "routes_4xx",
    "routes_5xx",
    "throttled",
)
TIMELINE = "timeline"
# Every request's route, and those answered 4xx and 5xx (member: "METHOD template").
ROUTE_DIMENSIONS = ("routes", "routes_4xx", "routes_5xx")
# Kept per day only (the all-time view of the timeline is `days`) or all time only; neither is
# trimmed (they hold 24 members a day and one member a day).
DAY_ONLY = frozenset({TIMELINE})
ALL_ONLY = frozenset({"days"})
# Names of the layout's own keys, which a custom dimension must not take (nor any ``pairs.*``).
RESERVED = frozenset({TIMELINE, "days", "uniques", "salt", "meta", "live", "throttle"})

# Drill-down pairs (see the module docstring): the dimensions a page can be filtered by, and the
# page-view dimensions counted against each of them (besides the timeline, on day keys).
PAIR_FILTERS = ("paths", "sources", "countries")
PAIR_DIMENSIONS = (
    "paths",
    "referrers",
    "sources",
    "channels",
    "utm_medium",
    "utm_campaign",
    "browsers",
    "platforms",
    "devices",
    "countries",
)
# Keys per filter dimension and day: a filtered read scans one of them a day.
PAIR_BUCKETS = 32
_SEPARATOR = "\x1f"  # ASCII unit separator: between the parts of a pair member
# ASCII record separator: between the members of a list the writer sends in one argument. Neither
# separator is left inside the parts of a pair member: both become U+FFFD.
PAIR_LIST_SEPARATOR = "\x1e"
_STANDIN = "\ufffd"
# How long a live minute's HyperLogLog is kept: `Stats.live` reads up to 30 minutes back.
LIVE_SECONDS = 35 * 60
_DIMENSION_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")  # fullmatch: "$" allows a "\n"
# The name in the hash tag of the routes' response-time sketches, before the group number.
SKETCH_FAMILY = f"latency.v{SKETCH_VERSION}"
# Groups of sketches, each in one slot: a flush writes one command per group and day.
SKETCH_GROUPS = 16


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


@lru_cache(maxsize=4096)
def sketch_family(route: str) -> str:
    """What stands for a dimension name in the pending counts of ``route``'s sketch: the family
    and the route. The flusher counts a sketch's buckets as members of this name; the writer
    turns it back into the route (`sketch_route`) and writes a group's routes together. Never a
    valid `check_dimension` name (it has a ``:``), so no custom dimension can take it."""
    return _SKETCH_HEAD + route


def is_sketch(dimension: str) -> bool:
    """Whether ``dimension`` is a `sketch_family` name."""
    return dimension.startswith(_SKETCH_HEAD)


def sketch_route(family: str) -> str:
    """The route of a `sketch_family` name."""
    return family[len(_SKETCH_HEAD) :]


@lru_cache(maxsize=4096)
def sketch_group(route: str) -> int:
    """The group of ``route``'s sketch keys (0 to `SKETCH_GROUPS` - 1): a stable hash, the same
    in every process (CRC-32 of the UTF-8 route, as ``python -c 'import zlib; ...'`` computes)."""
    return zlib.crc32(route.encode("utf-8", "surrogatepass")) % SKETCH_GROUPS


_SKETCH_HEAD = SKETCH_FAMILY + ":"


def check_dimension(name: str) -> str:
    """Validate a custom dimension name (it becomes part of a Redis key)."""
    if (
        not isinstance(name, str)
        or not _DIMENSION_NAME.fullmatch(name)
        or name in RESERVED
        or name.startswith("pairs.")
    ):
        raise ValueError(
            f"invalid dimension {name!r}: use 1-64 characters of a-z, 0-9, '_', '.', '-', "
            f"not one of {sorted(RESERVED)} nor pairs.*"
        )
    return name


def _pair_part(text: str) -> str:
    if _SEPARATOR in text or PAIR_LIST_SEPARATOR in text:
        return text.replace(_SEPARATOR, _STANDIN).replace(PAIR_LIST_SEPARATOR, _STANDIN)
    return text


def pair_member(w: str, dimension: str, d: str) -> str:
    """The member of a pairs key counting page views with ``w`` (a member of the filter
    dimension) and ``d`` (a member of ``dimension``): ``"D\\x1fw\\x1fd"``. A ``\\x1f`` or
    ``\\x1e`` inside ``w`` or ``d`` is replaced (by U+FFFD), so the three parts always split
    back apart."""
    return f"{dimension}{_SEPARATOR}{_pair_part(w)}{_SEPARATOR}{_pair_part(d)}"


def split_pair(member: str) -> tuple[str, str, str]:
    """``(w, dimension, d)`` of a `pair_member` (``w`` and ``d`` with separators replaced)."""
    dimension, w, d = member.split(_SEPARATOR, 2)
    return w, dimension, d


@lru_cache(maxsize=4096)
def pair_bucket(w: str) -> int:
    """Which of the `PAIR_BUCKETS` keys holds the pairs of ``w``: CRC-32 of its UTF-8 (after the
    separator replacement of `pair_member`), the same in every process and language."""
    data = _pair_part(w).encode("utf-8", "surrogatepass")
    return zlib.crc32(data) % PAIR_BUCKETS


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
            r"^\{"
            + re.escape(prefix)
            + r":(?:[a-z0-9_.-]+|throttle:[0-9a-f]+|latency\.v[0-9]+:[0-9]+)\}"
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
        client input; the timeline's and the days' are a bounded set of labels, a sketch's a
        bounded set of bucket numbers)."""
        return dimension not in DAY_ONLY and dimension not in ALL_ONLY and not is_sketch(dimension)

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

    def meta(self) -> str:
        """The prefix's settings hash (fields ``timezone`` and ``retention_days``)."""
        return self.tag("meta")

    def pairs(self, dimension: str, day: int | None, w: str) -> str:
        """The pairs key holding the pairs of member ``w`` of the filter ``dimension`` on ``day``
        (``None``: all time). Every pairs key of a filter dimension shares one hash slot."""
        bucket = pair_bucket(w)
        when = "all" if day is None else day_label(day)
        return f"{self.tag('pairs.' + dimension)}:{when}:{bucket}"

    def pair_pattern(self, w: str, dimension: str | None = None) -> str:
        """A ``ZSCAN MATCH`` pattern for the pairs of ``w`` (with ``dimension``: of it only)."""
        head = _glob_escape(dimension + _SEPARATOR) if dimension else "*" + _SEPARATOR
        return head + _glob_escape(_pair_part(w) + _SEPARATOR) + "*"

    def live(self, minute: int) -> str:
        """The HyperLogLog of the visitors of one minute (minutes since the epoch, UTC)."""
        return f"{self.tag('live')}:{minute}"

    def live_range(self, minutes: int, now: float | None = None) -> list[str]:
        """The live keys of the last ``minutes`` minutes, this one included (one slot)."""
        current = int((time.time() if now is None else now) // 60)
        return [self.live(current - offset) for offset in range(minutes)]

    def sketch(self, route: str, day: int | None) -> str:
        """The response-time sketch of ``route`` (a ``routes`` member) on ``day``, or all time
        when ``day`` is None. One route's keys share a slot: read any range with one
        ``ZUNION``; `wsgi_analytics.sketch.quantiles` turns the buckets into milliseconds."""
        label = "all" if day is None else day_label(day)
        return f"{self.sketch_tag(sketch_group(route))}:{route}:{label}"

    def sketch_tag(self, group: int) -> str:
        """The hash tag of a group of sketches (`sketch_group`)."""
        return self.tag(f"{SKETCH_FAMILY}:{group}")

    def sketch_batch(self, group: int, batch: str, day: int) -> str:
        """The marker that makes a flush batch of a group's sketches on ``day`` apply once (no
        route's key: a route begins with its method, in capitals)."""
        return f"{self.sketch_tag(group)}:batch:{batch}:{day}"

    # -- the writer's and the readers' own keys -------------------------------------------------

    def batch(self, dimension: str, batch: str, day: int) -> str:
        """The marker that makes a flush batch of ``dimension`` on ``day`` apply once."""
        return f"{self.tag(dimension)}:batch:{batch}:{day}"

    def scratch(self, dimension: str, token: str) -> str:
        """A read's scratch key, in the dimension's slot."""
        return f"{self.tag(dimension)}:scratch:{token}"

    def range_cache(self, dimension: str, first: int, last: int) -> str:
        """A read cache: the top members of ``dimension`` over days ``first..last``."""
        return f"{self.tag(dimension)}:range:{self.range_field(first, last)}"

    @staticmethod
    def range_field(first: int, last: int) -> str:
        """The field of a `range_cache` in its dimension's `range_index`."""
        return f"{day_label(first)}:{day_label(last)}"

    def range_index(self, dimension: str) -> str:
        """The read caches of ``dimension`` that exist, with their totals (a hash)."""
        return f"{self.tag(dimension)}:ranges"

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
