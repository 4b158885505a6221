"""What one request counts: the counting rules. Pure: no I/O, and no key names (`..keys`).

`increments` is the reference: the (dimension, member) pairs one request adds 1 to. The recorder
counts the same pairs in batches, split by what they depend on (`by_shape`, `by_request`).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from ..keys import day_label, hour_label
from ..request.agents import Agent
from ..request.facts import MAX_PATH, Facts

__all__ = [
    "DIRECT",
    "MAX_MEMBER",
    "Event",
    "by_request",
    "by_shape",
    "increments",
    "page_view",
    "referrer_host",
]

MAX_MEMBER = MAX_PATH
DIRECT = "(direct)"


class Event(NamedTuple):
    """One finished request as the recorder queues it; labels are derived later, off the request."""

    hour: int  # hours since the epoch, UTC
    facts: Facts
    status: int
    throttled: bool
    trusted_proxies: int


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


# Bounded, and hit by every repeat visit from a source.
_cached_referrer_host = lru_cache(maxsize=4096)(_referrer_host)


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
