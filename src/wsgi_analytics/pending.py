"""Counts waiting to be written: per (dimension, day, member), plus the day's visitors.

Keyed by member, not by request, so while Redis is down this grows with the number of distinct
members: a million requests to ten pages hold ten entries per dimension. ``max_pending`` bounds
it; what does not fit is dropped, counted in ``dropped`` and logged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from ._log import warn_limited
from .agents import Agent
from .counting import Event, increments, page_view
from .identity import client_identity

__all__ = ["Pending"]

Entry = tuple[str, int, str]  # (dimension, day number, member)


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
