"""Counts waiting to be written: per (dimension, day, member), plus the day's visitors.

Keyed by member, not by request, so while Redis is down this grows with the number of distinct
members: a million requests to ten pages hold ten entries per dimension. ``max_pending`` bounds
it; what does not fit is dropped, counted in ``dropped`` and logged.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from typing import Any

from ._log import logger, warn_limited
from .agents import Agent
from .counting import Event, increments, page_view, referrer_host
from .identity import client_identity

__all__ = ["Pending"]

Entry = tuple[str, int, str]  # (dimension, day number, member)
# The dimensions whose member depends only on a request's shape (agent, hour, method, status,
# throttled): `Pending.drain` counts them once per shape and batch. The others (paths, referrers,
# not_found, throttled) carry the request's own path or referrer and are counted per request.
_SHAPE_DIMENSIONS = frozenset(
    {"statuses", "bots", "browsers", "platforms", "devices", "timeline", "days"}
)


class Pending:
    """Aggregated, unwritten counts. Not thread-safe: the recorder's flush lock guards it."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.counts: dict[Entry, int] = {}
        self.visitors: dict[int, set[str]] = {}
        self.dropped = 0

    def absorb(self, event: Event, classify: Callable[[str, str, str], Agent]) -> None:
        """Add what one finished request counts."""
        facts = event.facts
        agent = classify(facts.user_agent, facts.ch_platform, facts.ch_mobile)
        day = event.hour // 24
        for dimension, member in increments(event, agent):
            self.add(dimension, day, member, 1)
        if not event.throttled and page_view(facts, event.status, agent):
            who = client_identity(facts.client, facts.forwarded_for, event.trusted_proxies)
            visitors = self.visitors.setdefault(day, set())
            if len(visitors) < self.max_pending:
                # Hashed with the day's salt when written; no address ever reaches Redis.
                visitors.add(f"{who or '-'}\n{facts.user_agent}")

    def drain(self, queue: deque[Any], classify: Callable[[str, str, str], Agent]) -> None:
        """Pop and absorb everything queued: `Event` objects and ``(dimension, day, member,
        amount)`` tuples from ``Recorder.track``.

        The same counts as `absorb` on each event (tests check it against `increments`), at a
        fraction of the cost: the shape dimensions are counted once per distinct shape in the
        batch, a visitor once per distinct (client, agent), and the per-request work left is a
        few dictionary increments.
        """
        counts, add = self.counts, self.add
        shapes: dict[tuple[Agent, int, str, int, bool], list[Any]] = {}
        seen: dict[int, set[tuple[str | None, str, int, str]]] = {}
        popleft = queue.popleft
        while queue:
            item = popleft()
            try:
                if type(item) is not Event:
                    add(*item)
                    continue
                hour, facts, status, throttled, proxies = item
                agent = classify(facts.user_agent, facts.ch_platform, facts.ch_mobile)
                shape = (agent, hour, facts.method, status, throttled)
                slot = shapes.get(shape)
                day = hour // 24
                if slot is None:
                    shapes[shape] = [item, 1]
                    # Hold the shape's entries now, in arrival order: added only after the
                    # loop, they would find max_pending already filled by a burst of paths.
                    for dimension, member in increments(item, agent):
                        if (
                            dimension in _SHAPE_DIMENSIONS
                            and (dimension, day, member) not in counts
                        ):
                            add(dimension, day, member, 0)
                else:
                    slot[1] += 1
                if throttled:
                    entry = ("throttled", day, facts.path)
                elif facts.method != "GET":
                    continue
                elif status == 404:
                    entry = ("not_found", day, facts.path)
                elif page_view(facts, status, agent):
                    source = referrer_host(facts.referrer, facts.host)
                    if source is not None:
                        entry = ("referrers", day, source)
                        found = counts.get(entry)
                        if found is None:
                            add("referrers", day, source, 1)
                        else:
                            counts[entry] = found + 1
                    raw = seen.get(day)
                    if raw is None:
                        raw = seen[day] = set()
                    raw.add((facts.client, facts.forwarded_for, proxies, facts.user_agent))
                    entry = ("paths", day, facts.path)
                else:
                    continue
                found = counts.get(entry)
                if found is None:
                    add(entry[0], day, entry[2], 1)
                else:
                    counts[entry] = found + 1
            except Exception:
                logger.exception("wsgi_analytics: could not count a request; skipped")
        for (agent, hour, *_), (event, amount) in shapes.items():
            day = hour // 24
            for dimension, member in increments(event, agent):
                if dimension in _SHAPE_DIMENSIONS:
                    add(dimension, day, member, amount)
        for day, distinct in seen.items():
            visitors = self.visitors.setdefault(day, set())
            for peer, forwarded_for, proxies, user_agent in distinct:
                if len(visitors) >= self.max_pending:
                    break
                who = client_identity(peer, forwarded_for, proxies)
                visitors.add(f"{who or '-'}\n{user_agent}")

    def add(self, dimension: str, day: int, member: str, amount: int) -> None:
        counts = self.counts
        entry = (dimension, day, member)
        if entry in counts:
            counts[entry] += amount
        elif len(counts) < self.max_pending:
            counts[entry] = amount
        else:
            self.dropped += amount
            warn_limited(
                "pending",
                "wsgi_analytics: %d distinct members pending (max_pending); dropping new ones",
                len(counts),
            )

    def chunk(self, size: int) -> dict[Entry, int]:
        """The first ``size`` entries, to write; `forget` them once written."""
        return dict(itertools.islice(self.counts.items(), size))

    def forget(self, written: dict[Entry, int]) -> None:
        for entry in written:
            del self.counts[entry]

    def total(self) -> int:
        return sum(self.counts.values())

    def clear(self) -> None:
        self.counts.clear()
        self.visitors.clear()

    def __len__(self) -> int:
        return len(self.counts)
