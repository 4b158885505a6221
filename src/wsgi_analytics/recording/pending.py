"""Counts waiting to be written: per (dimension, day, member), plus the day's visitors.

Keyed by member, not by request, so while Redis is down this grows with the number of distinct
members: a million requests to ten pages hold ten entries per dimension. ``max_pending`` bounds
the entries and `MAX_BYTES` their memory (members of 512 four-byte characters are 2 KB each);
what does not fit is dropped, counted in ``dropped`` and logged.
"""

from __future__ import annotations

import itertools
import secrets
import sys
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from .._log import logger, warn_limited
from ..request.agents import Agent
from ..request.documents import is_document
from ..request.identity import client_identity
from .rules import Event, by_request, by_shape, page_view

__all__ = ["MAX_BYTES", "MAX_VISITOR_BYTES", "Pending", "queued_bytes"]

Entry = tuple[str, int, str]  # (dimension, day number, member)

# Memory bounds, estimated from the members' sizes (``sys.getsizeof``) plus what tracemalloc
# measures around them: an entry's key tuple, day and count and its dict slot cost ~150 bytes,
# a visitor's set slot ~40 (both rounded up for the tables' growth steps).
MAX_BYTES = 48 << 20
MAX_VISITOR_BYTES = 24 << 20
_ENTRY_BYTES = 160
_VISITOR_BYTES = 64
# A queued request (see `queued_bytes`): the Event and Facts tuples, the hour, the method and
# peer strings and the string headers measure ~760 bytes with tracemalloc; its longer texts
# are counted at 4 bytes a character, the most CPython spends on one (an ASCII header costs 1,
# so the estimate is pessimistic for ordinary traffic, near exact for the worst; the fields of
# at most 8 characters, Sec-CH-UA-Mobile and the country header, are left to the constant).
_EVENT_BYTES = 900  # with the response's Content-Type and the duration (~100 bytes)
_TRACKED_BYTES = 300


def queued_bytes(item: Any) -> int:
    """The memory a queued item holds, estimated in O(1) from its capped strings.

    `Recorder.record` inlines the same sum on the request path; both must agree, or the
    queue's byte count drifts (a test drains a queue and checks it returns to zero).
    """
    if type(item) is Event:
        facts = item.facts
        return (
            len(facts.path)
            + len(facts.host)
            + len(facts.referrer)
            + len(facts.user_agent)
            + len(facts.forwarded_for)
            + len(facts.query)
            + len(facts.ch_platform)
        ) * 4 + _EVENT_BYTES
    return len(item[2]) * 4 + _TRACKED_BYTES


class Pending:
    """Aggregated, unwritten counts. Not thread-safe: the recorder's flush lock guards it."""

    def __init__(
        self,
        max_pending: int,
        max_bytes: int = MAX_BYTES,
        max_visitor_bytes: int = MAX_VISITOR_BYTES,
    ) -> None:
        self.max_pending = max_pending
        self.max_bytes = max_bytes
        self.max_visitor_bytes = max_visitor_bytes
        self.bytes = 0  # estimated memory of `counts` and the chunk in flight
        self._inflight_bytes = 0
        self.visitor_bytes = 0
        # Bytes of the queued items drained so far: the recorder compares it with the bytes
        # it queued (two counters with one writer each: no lost updates between threads).
        self.drained_bytes = 0
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
        shapes: dict[tuple[Agent, int, str, int, bool, bool], list[Any]] = {}
        seen: dict[int, set[tuple[str | None, str, int, str]]] = {}
        popleft = queue.popleft
        left = len(queue) if limit is None else limit
        drained = 0
        room = self.max_visitor_bytes - self.visitor_bytes
        while queue and left > 0:
            left -= 1
            item = popleft()
            try:
                drained += queued_bytes(item)
                if type(item) is not Event:
                    add(*item)
                    continue
                facts = item.facts
                agent = classify(facts.user_agent, facts.ch_platform, facts.ch_mobile)
                day = item.hour // 24
                document = is_document(item.content_type, facts.path)
                shape = (agent, item.hour, facts.method, item.status, item.throttled, document)
                slot = shapes.get(shape)
                if slot is None:
                    viewed = not item.throttled and page_view(facts, item.status, agent, document)
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
                if slot[2] and room > 0:
                    distinct = seen.get(day)
                    if distinct is None:
                        distinct = seen[day] = set()
                    client = (
                        facts.client,
                        facts.forwarded_for,
                        item.trusted_proxies,
                        facts.user_agent,
                    )
                    if client not in distinct:
                        # Held until the loop ends, with the strings it refers to: bounded
                        # like the visitors it becomes (beyond it they would be dropped).
                        distinct.add(client)
                        room -= _VISITOR_BYTES + 4 * (
                            len(facts.forwarded_for) + len(facts.user_agent)
                        )
            except Exception:
                logger.exception("wsgi_analytics: could not count a request; skipped")
        self.drained_bytes += drained
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
                visitor = f"{who or '-'}\n{user_agent}"
                if visitor in visitors:
                    continue
                size = sys.getsizeof(visitor) + _VISITOR_BYTES
                if self.visitor_bytes + size > self.max_visitor_bytes:
                    break
                visitors.add(visitor)
                self.visitor_bytes += size

    def add(self, dimension: str, day: int, member: str, amount: int) -> None:
        counts = self.counts
        entry = (dimension, day, member)
        if entry in counts:
            counts[entry] += amount
        elif self.inflight is not None and entry in self.inflight[1]:
            # Held already, in the chunk in flight: not a new member (and at most one chunk
            # of them, so its bytes may pass the bound a little).
            counts[entry] = amount
            self._overlap += 1
            self.bytes += _ENTRY_BYTES + sys.getsizeof(member)
        else:
            size = _ENTRY_BYTES + sys.getsizeof(member)
            if len(self) < self.max_pending and self.bytes + size <= self.max_bytes:
                counts[entry] = amount
                self.bytes += size
                return
            self.dropped += amount
            warn_limited(
                "pending",
                "wsgi_analytics: %d distinct members (%.0f MB) pending, the most max_pending "
                "and the memory bound allow; dropping new ones",
                len(counts),
                self.bytes / 1e6,
            )

    def take(self, size: int) -> tuple[str, dict[Entry, int]]:
        """The chunk in flight, or the next ``size`` entries as a new one; `done` once written."""
        if self.inflight is None:
            chunk = dict(itertools.islice(self.counts.items(), size))
            for entry in chunk:
                del self.counts[entry]
            self.inflight = (secrets.token_hex(8), chunk)
            self._inflight_bytes = sum(_ENTRY_BYTES + sys.getsizeof(m) for _, _, m in chunk)
        return self.inflight

    def done(self) -> None:
        """The chunk in flight is written (or given up): its memory is free."""
        self.inflight = None
        self._overlap = 0
        self.bytes -= self._inflight_bytes
        self._inflight_bytes = 0

    def settle(self, entries: Iterable[Entry]) -> None:
        """Take ``entries`` out of the chunk in flight: Redis applied them, or never will.

        When only part of a chunk failed, the rest is retried without what is settled: a
        retry much later (past the batch markers' lifetime) must not apply those twice.
        """
        if self.inflight is None:
            return
        chunk = self.inflight[1]
        for entry in entries:
            if chunk.pop(entry, None) is None:
                continue
            size = _ENTRY_BYTES + sys.getsizeof(entry[2])
            self._inflight_bytes -= size
            self.bytes -= size
            if entry in self.counts:
                self._overlap -= 1

    def written_visitors(self) -> None:
        """The visitors are in Redis: forget them."""
        self.visitors.clear()
        self.visitor_bytes = 0

    def held(self, entry: Entry) -> int:
        """How much of ``entry`` is not yet in Redis."""
        flying = self.inflight[1].get(entry, 0) if self.inflight else 0
        return self.counts.get(entry, 0) + flying

    def total(self) -> int:
        """Counts held. Safe from any thread: ``list()`` copies a dict's values in one step."""
        inflight = self.inflight
        flying = sum(list(inflight[1].values())) if inflight else 0
        return sum(list(self.counts.values())) + flying

    def clear(self) -> None:
        self.counts.clear()
        self.inflight = None
        self._overlap = 0
        self.visitors.clear()
        self.bytes = self._inflight_bytes = self.visitor_bytes = 0

    def __len__(self) -> int:
        """Distinct entries held, in flight included: what ``max_pending`` bounds."""
        flying = len(self.inflight[1]) if self.inflight else 0
        return len(self.counts) + flying - self._overlap
