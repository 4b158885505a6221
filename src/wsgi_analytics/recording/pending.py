"""Counts waiting to be written: per (dimension, day, member), plus the day's visitors.

Keyed by member, not by request, so while Redis is down this grows with the number of distinct
members: a million requests to ten pages hold ten entries per dimension. ``max_pending`` bounds
it; what does not fit is dropped, counted in ``dropped`` and logged.
"""

from __future__ import annotations

import itertools
import secrets
from collections import deque
from collections.abc import Callable
from typing import Any

from .._log import logger, warn_limited
from ..request.agents import Agent
from ..request.identity import client_identity
from .rules import Event, by_request, by_shape, page_view

__all__ = ["Pending"]

Entry = tuple[str, int, str]  # (dimension, day number, member)


class Pending:
    """Aggregated, unwritten counts. Not thread-safe: the recorder's flush lock guards it."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self.counts: dict[Entry, int] = {}
        # A chunk being written, with its batch id: until Redis has answered for it, it is
        # retried as it was, never merged with newer counts, so that Redis can tell a retry of
        # a batch it already applied from new work (see `writer.INCREMENT`).
        self.inflight: tuple[str, dict[Entry, int]] | None = None
        self._overlap = 0  # entries in both `counts` and the chunk in flight
        self.visitors: dict[int, set[str]] = {}
        self.dropped = 0

    def drain(
        self,
        queue: deque[Any],
        classify: Callable[[str, str, str], Agent],
        limit: int | None = None,
    ) -> None:
        """Pop and count what is queued (at most ``limit`` items): `Event` objects and
        ``(dimension, day, member, amount)`` tuples from ``Recorder.track``.

        The counts of `increments` on each event (a test checks it), at a fraction of the cost:
        the `by_shape` pairs are counted once per distinct shape in the batch, a visitor once
        per distinct (client, agent); per request there are only the `by_request` increments.
        """
        counts, add = self.counts, self.add
        # shape -> [its first event, requests of that shape, whether they are page views]
        shapes: dict[tuple[Agent, int, str, int, bool], list[Any]] = {}
        seen: dict[int, set[tuple[str | None, str, int, str]]] = {}
        popleft = queue.popleft
        left = len(queue) if limit is None else limit
        while queue and left > 0:
            left -= 1
            item = popleft()
            try:
                if type(item) is not Event:
                    add(*item)
                    continue
                facts = item.facts
                agent = classify(facts.user_agent, facts.ch_platform, facts.ch_mobile)
                day = item.hour // 24
                shape = (agent, item.hour, facts.method, item.status, item.throttled)
                slot = shapes.get(shape)
                if slot is None:
                    viewed = not item.throttled and page_view(facts, item.status, agent)
                    slot = shapes[shape] = [item, 0, viewed]
                    # Hold the shape's entries now, in arrival order: added only after the
                    # loop, they would find max_pending already filled by a burst of paths.
                    for dimension, member in by_shape(item, agent):
                        if (dimension, day, member) not in counts:
                            add(dimension, day, member, 0)
                slot[1] += 1
                for dimension, member in by_request(item, slot[2]):
                    entry = (dimension, day, member)
                    found = counts.get(entry)
                    if found is None:
                        add(dimension, day, member, 1)
                    else:
                        counts[entry] = found + 1
                if slot[2]:
                    distinct = seen.get(day)
                    if distinct is None:
                        distinct = seen[day] = set()
                    distinct.add(
                        (facts.client, facts.forwarded_for, item.trusted_proxies, facts.user_agent)
                    )
            except Exception:
                logger.exception("wsgi_analytics: could not count a request; skipped")
        for (agent, hour, *_), (event, amount, _) in shapes.items():
            for dimension, member in by_shape(event, agent):
                add(dimension, hour // 24, member, amount)
        for day, distinct in seen.items():
            visitors = self.visitors.setdefault(day, set())
            for peer, forwarded_for, proxies, user_agent in distinct:
                if len(visitors) >= self.max_pending:
                    break
                # Hashed with the day's salt when written; no address ever reaches Redis.
                who = client_identity(peer, forwarded_for, proxies)
                visitors.add(f"{who or '-'}\n{user_agent}")

    def add(self, dimension: str, day: int, member: str, amount: int) -> None:
        counts = self.counts
        entry = (dimension, day, member)
        if entry in counts:
            counts[entry] += amount
        elif self.inflight is not None and entry in self.inflight[1]:
            counts[entry] = amount  # held already, in the chunk in flight: not a new member
            self._overlap += 1
        elif len(self) < self.max_pending:
            counts[entry] = amount
        else:
            self.dropped += amount
            warn_limited(
                "pending",
                "wsgi_analytics: %d distinct members pending (max_pending); dropping new ones",
                len(counts),
            )

    def take(self, size: int) -> tuple[str, dict[Entry, int]]:
        """The chunk in flight, or the next ``size`` entries as a new one; `done` once written."""
        if self.inflight is None:
            chunk = dict(itertools.islice(self.counts.items(), size))
            for entry in chunk:
                del self.counts[entry]
            self.inflight = (secrets.token_hex(8), chunk)
        return self.inflight

    def done(self) -> None:
        self.inflight = None
        self._overlap = 0

    def held(self, entry: Entry) -> int:
        """How much of ``entry`` is not yet in Redis."""
        flying = self.inflight[1].get(entry, 0) if self.inflight else 0
        return self.counts.get(entry, 0) + flying

    def total(self) -> int:
        flying = sum(self.inflight[1].values()) if self.inflight else 0
        return sum(self.counts.values()) + flying

    def clear(self) -> None:
        self.counts.clear()
        self.inflight = None
        self._overlap = 0
        self.visitors.clear()

    def __len__(self) -> int:
        """Distinct entries held, in flight included: what ``max_pending`` bounds."""
        flying = len(self.inflight[1]) if self.inflight else 0
        return len(self.counts) + flying - self._overlap
