"""What one request counts: the counting rules. Pure: no I/O, and no key names (`..keys`).

`increments` is the reference: the (dimension, member) pairs one request adds 1 to. The recorder
counts the same pairs in batches, split by what they depend on (`by_shape`, `by_request`).

A page view (DESIGN A3) is a GET answered 2xx or 304, not from a bot, not throttled, whose
response is a document (`wsgi_analytics.request.documents`). Every counted request has a route
(``routes``, and ``routes_4xx`` / ``routes_5xx`` by status) and adds its duration to its
route's sketch: the pair (`keys.sketch_family` of the route, the bucket number). What a site
configures (its time zone, where countries come from) is a `Setup`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from ..keys import sketch_family
from ..request.agents import Agent
from ..request.clock import SiteClock, day_label
from ..request.documents import is_document
from ..request.facts import MAX_PATH, Facts
from ..request.geo import UNKNOWN, country_from_header
from ..request.hosts import strip_port
from ..request.routes import UNMATCHED, route_member, template
from ..request.sources import acquisition
from ..sketch import MAX_INDEX, bucket

__all__ = [
    "BUCKETS",
    "DIRECT",
    "MAX_MEMBER",
    "UTC",
    "Event",
    "Setup",
    "arrival",
    "by_request",
    "by_shape",
    "country",
    "country_of",
    "country_pair",
    "document",
    "error_dimension",
    "increments",
    "page_own",
    "page_pairs",
    "page_view",
    "path_dimension",
    "referrer_host",
    "route_family",
    "route_of",
    "route_pairs",
    "viewed",
]

MAX_MEMBER = MAX_PATH
DIRECT = "(direct)"


class Event(NamedTuple):
    """One finished request as the recorder queues it; labels are derived later, off the request."""

    time: float  # when it finished, in seconds since the epoch
    facts: Facts
    status: int
    throttled: bool
    client_id: str | None  # who the client is (`request.identity.client_identity`), if known
    # The response's Content-Type (None: it sent none), the route template the app or its
    # framework named (None: the path's fallback template), and the seconds from the
    # middleware's call to the last body chunk handed to the server.
    content_type: str | None = None
    route: str | None = None
    duration: float = 0.0


# Bucket numbers as members, made once: a duration's member is ``BUCKETS[bucket(duration)]``.
BUCKETS = [str(index) for index in range(MAX_INDEX + 1)]


def referrer_host(referrer: str, own_host: str) -> str | None:
    """The referring site's host (lower-case, no ``www.``), ``(direct)``, or ``None`` for a
    self-referral, which is navigation inside the site and not a source of traffic."""
    if len(referrer) + len(own_host) <= 512 and referrer.isascii():
        return _cached_referrer_host(referrer, own_host)
    # Not memoised: 4,096 referrers of 2,048 four-byte characters would hold 40 MB.
    return _referrer_host(referrer, own_host)


def _referrer_host(referrer: str, own_host: str) -> str | None:
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
    own = strip_port(own_host.rpartition("@")[2].lower()).rstrip(".")
    if own.startswith("www."):
        own = own[4:]
    if host == own or (own.startswith("[") and host == own[1:-1]):
        return None
    return host or None


# Bounded, and hit by every repeat visit from a source.
_cached_referrer_host = lru_cache(maxsize=4096)(_referrer_host)


class Setup(NamedTuple):
    """What a site configures about counting."""

    clock: SiteClock  # the site's time zone: which day and hour a request counts in
    # address -> ISO code (`request.geo.Countries.lookup`), or None: no countries
    countries: Callable[[str], str] | None = None
    # countries come from `Facts.country` (a CDN's header) instead of a lookup
    country_header: bool = False


UTC = Setup(SiteClock("UTC"))


def country(event: Event, setup: Setup) -> str | None:
    """The country a page view counts in, or ``None`` when the site counts no countries. The
    client's address (the identity the throttle and the uniques use) is looked up in memory."""
    return country_of(event.client_id, event.facts.country, setup)


def country_of(client_id: str | None, header: str, setup: Setup) -> str | None:
    """`country` from the fields it reads: the client's identity and the country header's
    value (`Facts.country`)."""
    if setup.country_header:
        return country_from_header(header)
    lookup = setup.countries
    if lookup is None:
        return None
    return lookup(client_id) if client_id else UNKNOWN


def arrival(query: str, referrer: str, own_host: str) -> tuple[tuple[str, str], ...]:
    """How a page view arrived, as pairs: its ``referrers``, ``sources``, ``channels`` and
    campaign tags (``utm_*``), each when it has one."""
    if len(query) + len(referrer) + len(own_host) <= 512 and referrer.isascii():
        return _cached_arrival(query, referrer, own_host)
    # Not memoised: long or non-ASCII texts would make the cache hold megabytes.
    return _arrival(query, referrer, own_host)


def _arrival(query: str, referrer: str, own_host: str) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    host = referrer_host(referrer, own_host)
    if host is not None:
        pairs.append(("referrers", host))
    source, channel, campaign = acquisition(query, referrer, own_host)
    if source is not None and channel is not None:
        pairs += (("sources", source), ("channels", channel))
    return (*pairs, *campaign)


# Every repeat visit from a source with the same tags hits it: one look-up for four rules.
_cached_arrival = lru_cache(maxsize=4096)(_arrival)


@lru_cache(maxsize=512)
def country_pair(code: str) -> tuple[str, str]:
    """The ``countries`` pair of a code (one tuple object per code)."""
    return ("countries", code)


def page_view(facts: Facts, status: int, agent: Agent, document: bool) -> bool:
    """GET answered 2xx or 304, from a person, of a document: redirects, errors, bots and the
    assets a page pulls in (stylesheets, scripts, images, feeds, JSON) are not page views."""
    return (
        document
        and facts.method == "GET"
        and (200 <= status < 300 or status == 304)
        and agent.bot is None
    )


def document(event: Event) -> bool:
    """Whether the response is a document: its Content-Type, else its path's extension."""
    return is_document(event.content_type, event.facts.path)


def viewed(event: Event, agent: Agent) -> bool:
    """Whether ``event`` is a page view (`page_view`, and not throttled)."""
    return not event.throttled and page_view(event.facts, event.status, agent, document(event))


def by_shape(event: Event, agent: Agent, setup: Setup = UTC) -> list[tuple[str, str]]:
    """The (dimension, member) pairs that depend only on the request's shape: its agent, minute,
    method, status, whether it was throttled and whether it is a document. A batch of requests
    counts them once per shape.
    """
    pairs = [("statuses", str(event.status))]
    if agent.bot is not None:
        pairs.append(("bots", agent.bot[:MAX_MEMBER]))
    if viewed(event, agent):
        pairs += [
            ("browsers", agent.browser[:MAX_MEMBER]),
            ("platforms", agent.platform[:MAX_MEMBER]),
            ("devices", agent.device),
            ("timeline", setup.clock.hour_label(event.time)),
            ("days", day_label(setup.clock.day(event.time))),
        ]
    return pairs


def route_of(event: Event) -> str:
    """The ``routes`` member: ``"METHOD template"``. The template is the one the app or its
    framework named, else ``(unmatched)`` for a 404 (scanners cannot mint routes), else the
    path with its ids collapsed (`wsgi_analytics.request.routes.template`)."""
    return _route(event)[0]


def _route(event: Event) -> tuple[str, str]:
    return route_family(event.facts.method, event.route, event.status, event.facts.path)


def route_family(method: str, route: str | None, status: int, path: str) -> tuple[str, str]:
    """The ``routes`` member and its sketch's family (`keys.sketch_family`), from the fields
    `route_of` reads; memoised for the ASCII routes and paths real traffic repeats (like
    `referrer_host`, the memo keeps out long four-byte text)."""
    if route is not None:
        return _cached_route(method, route) if route.isascii() else _route_pair(method, route)
    if status == 404:
        return _cached_route(method, UNMATCHED)
    if path.isascii():
        return _cached_fallback(method, path)
    return _route_pair(method, template(path))


def _route_pair(method: str, route: str) -> tuple[str, str]:
    member = route_member(method, route)[:MAX_MEMBER]
    if not member.isascii():
        # It also names the route's sketch keys: a lone surrogate (a path an ASGI server
        # decoded by hand) could not be sent to Redis at all.
        member = member.encode("utf-8", "replace").decode("utf-8")
    return member, sketch_family(member)


_cached_route = lru_cache(maxsize=2048)(_route_pair)


@lru_cache(maxsize=2048)
def _cached_fallback(method: str, path: str) -> tuple[str, str]:
    return _route_pair(method, template(path))


def route_pairs(event: Event) -> list[tuple[str, str]]:
    """The pairs of the request's route: ``routes``, its duration's sketch bucket, and
    ``routes_4xx`` / ``routes_5xx`` by status."""
    route, family = _route(event)
    status = event.status
    pairs = [("routes", route), (family, BUCKETS[bucket(event.duration)])]
    if status >= 400:
        pairs.append((error_dimension(status), route))
    return pairs


def error_dimension(status: int) -> str:
    """Where a route's error response (a status of 400 or more) is counted."""
    return "routes_4xx" if status < 500 else "routes_5xx"


def page_pairs(event: Event, setup: Setup = UTC) -> tuple[tuple[str, str], ...]:
    """The pairs a page view carries of its own: its path, how it arrived (`arrival`), its
    country."""
    facts = event.facts
    own = page_own(facts.path, facts.query, facts.referrer, facts.host)
    where = country(event, setup)
    return own if where is None else (*own, country_pair(where))


def page_own(path: str, query: str, referrer: str, host: str) -> tuple[tuple[str, str], ...]:
    """`page_pairs` but the country: the page's path and how it arrived (`arrival`)."""
    return (("paths", path), *arrival(query, referrer, host))


def by_request(event: Event, page: bool, setup: Setup = UTC) -> list[tuple[str, str]]:
    """The pairs that carry the request's own path, referrer, query string, address, route or
    duration; ``page``: it is a page view (`viewed`), which depends on the shape alone."""
    facts = event.facts
    pairs = route_pairs(event)
    if page and not event.throttled:
        pairs += page_pairs(event, setup)
    else:
        dimension = path_dimension(event.throttled, facts.method, event.status)
        if dimension is not None:
            pairs.append((dimension, facts.path))
    return pairs


def path_dimension(throttled: bool, method: str, status: int) -> str | None:
    """Where a request that is not a page view counts its path: ``throttled`` (refused by
    the throttle), ``not_found`` (a GET answered 404), else nowhere."""
    if throttled:
        return "throttled"
    if method == "GET" and status == 404:
        return "not_found"
    return None


def increments(event: Event, agent: Agent, setup: Setup = UTC) -> list[tuple[str, str]]:
    """The (dimension, member) pairs one request adds 1 to: the reference the recorder's
    batched counting is tested against."""
    return by_shape(event, agent, setup) + by_request(event, viewed(event, agent), setup)
