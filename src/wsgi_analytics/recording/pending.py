"""Counts waiting to be written: per (dimension, day, member), plus the day's visitors, each
minute's visitors (live) and the distinct page views the drill-down pairs are made of.

Keyed by member, not by request, so while Redis is down this grows with the number of distinct
members: a million requests to ten pages hold ten entries per dimension. ``max_pending`` bounds
the entries and `MAX_BYTES` their memory (members of 512 four-byte characters are 2 KB each);
what does not fit is dropped, counted in ``dropped`` and logged. The chunk the writer has in
flight (``inflight``, see `wsgi_analytics.recording.writer` for the exactly-once protocol) is
still pending: it counts against the bounds until Redis has answered for it. The drill-down
views (`pairs.PairCounts`) and the live minutes have bounds of their own, so that they never
crowd out the counts themselves.
"""

from __future__ import annotations

import collections
import marshal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from .._log import logger, warn_limited
from ..keys import LIVE_SECONDS
from ..request.agents import Agent
from ..request.documents import is_document
from ..request.facts import Facts
from ..request.identity import client_identity
from ..sketch import bucket
from . import pipeline
from .pairs import PAIRED, PairCounts, View, members_bytes
from .pipeline import release
from .rules import (
    BUCKETS,
    UTC,
    Event,
    Setup,
    by_shape,
    country_of,
    country_pair,
    error_dimension,
    page_own,
    page_view,
    path_dimension,
    route_family,
)

__all__ = [
    "BLOB_BYTES",
    "MAX_BYTES",
    "MAX_VISITOR_BYTES",
    "Count",
    "Entry",
    "Pending",
    "item_bytes",
    "pack",
    "unpack",
]

Entry = tuple[str, int, str]  # (dimension, day number, member)


class Count(NamedTuple):
    """A custom count from `Recorder.track`, as the recorder queues it."""

    time: float  # seconds since the epoch, like `Event.time`
    dimension: str
    member: str
    amount: int


# Memory bounds, estimated from the members' sizes (``sys.getsizeof``) plus what tracemalloc
# measures around them: an entry's key tuple, day and count and its dict slot cost ~150 bytes,
# a visitor's set slot ~40 (both rounded up for the tables' growth steps).
MAX_BYTES = 48 << 20
MAX_VISITOR_BYTES = 24 << 20
_ENTRY_BYTES = 160
_VISITOR_BYTES = 64
# A queued custom count (`count_bytes`): the Count tuple, its day and dimension; its member at
# 4 bytes a character, the most CPython spends on one.
_TRACKED_BYTES = 300
# A bytes object's own header (``sys.getsizeof(b"")``) and the queue's slot for it.
BLOB_BYTES = 48

_dumps, _loads = marshal.dumps, marshal.loads
# Adds 1 to each element's count: what ``Counter.update`` runs, a C loop in CPython (a pure
# Python one elsewhere), a third of the cost of the same loop written in `drain`.
_count_into: Callable[[dict[Any, int], Iterable[Any]], None]
_count_into = collections._count_elements  # type: ignore[attr-defined]


def pack(event: Event) -> bytes:
    """An `Event` as the recorder queues it: ``(time, status, throttled, client_id,
    content_type, route, duration, *facts)`` as one ``marshal`` string (`unpack` reverses).

    ``client_id`` is who the client is, or (as `Recorder.record` queues it) the number of
    trusted proxies, an ``int``, to find out from the facts when the request is drained
    (`resolve_client`: the same answer, off the request path).

    Why bytes: a queued request must be invisible to the garbage collector. Named tuples are
    never untracked, so queued Events were promoted into the oldest generation and brought on a
    full collection of the whole heap (~40 ms on a FastAPI app's) every few seconds; plain
    tuples are untracked at their first young collection, but each one still counted towards
    the next collection, which then promoted whatever the requests in flight held at that
    instant (a few full collections a minute at a few thousand requests a second, every
    request waiting). A bytes object is never tracked at all: the requests leave the
    collector's counts as they found them. It is also the size it says (an exact memory
    bound), and what an offloaded flusher ships as it is (`recording.offload`).
    (`Recorder.record` builds the same bytes inline.)
    """
    head = (
        event.time,
        event.status,
        event.throttled,
        event.client_id,
        event.content_type,
        event.route,
        event.duration,
    )
    packed: bytes = _dumps(head + tuple(event.facts))
    return packed


def unpack(item: bytes) -> Event:
    """The `Event` of a `pack` string (its client resolved)."""
    fields = _loads(item)
    return _event(fields, resolve_client(fields))


def _event(fields: tuple[Any, ...], client: str | None) -> Event:
    return _new(
        Event, (fields[0], _new(Facts, fields[7:]), fields[1], fields[2], client, *fields[4:7])
    )


def resolve_client(fields: tuple[Any, ...]) -> str | None:
    """Who the client of a `pack` string's fields is: its ``client_id`` when resolved, else
    found from the peer and X-Forwarded-For with that many trusted proxies."""
    client = fields[_CLIENT_ID]
    if type(client) is not int:
        return client  # type: ignore[no-any-return]
    return client_identity(fields[_PEER], fields[_FORWARDED], client)


_new = tuple.__new__
# Where `drain` finds what it reads in a `pack` string's fields: the head, then the facts.
_TIME, _STATUS, _THROTTLED, _CLIENT_ID, _CONTENT_TYPE, _ROUTE, _DURATION = range(7)
(
    _METHOD,
    _PATH,
    _HOST,
    _REFERRER,
    _AGENT,
    _PLATFORM,
    _MOBILE,
    _QUERY,
    _COUNTRY,
    _PEER,
    _FORWARDED,
) = (
    7 + Facts._fields.index(name)
    for name in (
        "method",
        "path",
        "host",
        "referrer",
        "user_agent",
        "ch_platform",
        "ch_mobile",
        "query",
        "country",
        "client",
        "forwarded_for",
    )
)
# The longest page (path, query string, referrer and host together) whose own entries `drain`
# remembers: what real traffic repeats, while scanners' long texts would make the memo hold
# megabytes.
_PAGE_TEXT = 512
# The pages `drain` remembers, the first seen of a day: a site's most visited pages come first,
# and the rest are worked out each time. Filled once, not emptied and refilled: what the memo
# holds lives long enough for the garbage collector to promote it into the oldest generation,
# and a memo that churned (cleared whenever full) brought on a full collection of the heap
# every few tens of thousands of requests.
_MAX_PAGES = 4096


def item_bytes(item: bytes) -> int:
    """The memory a queued `pack` string holds: exactly its size."""
    return len(item) + BLOB_BYTES


def count_bytes(count: Count) -> int:
    """The memory a queued `Count` holds, estimated in O(1)."""
    return len(count.member) * 4 + _TRACKED_BYTES


class Pending:
    """Aggregated, unwritten counts. Not thread-safe: the recorder's flush lock guards it."""

    def __init__(
        self,
        max_pending: int,
        max_bytes: int = MAX_BYTES,
        max_visitor_bytes: int = MAX_VISITOR_BYTES,
        *,
        setup: Setup = UTC,
    ) -> None:
        self.max_pending = max_pending
        # The site's clock and country source; the recorder swaps the clock for the zone stored
        # under the prefix once it has read it.
        self.setup = setup
        self.max_bytes = max_bytes
        self.max_visitor_bytes = max_visitor_bytes
        self.bytes = 0  # estimated memory of `counts` and the chunk in flight
        self._inflight_bytes = 0
        self.visitor_bytes = 0
        # Bytes of the queued items drained so far: the recorder compares it with the bytes
        # it queued (two counters with one writer each: no lost updates between threads).
        self.drained_bytes = 0
        self.counts: dict[Entry, int] = {}
        # The writer's chunk in flight: until Redis has answered for it, it is retried as it
        # was, never merged with newer counts (the writer's exactly-once protocol).
        self.inflight: dict[Entry, int] | None = None
        self._overlap = 0  # entries in both `counts` and the chunk in flight
        self.visitors: dict[int, set[str]] = {}
        # Minute (since the epoch) -> its visitors, for `Stats.live`; bounded by an eighth of
        # the visitors' bytes, and by age (`LIVE_SECONDS`).
        self.live: dict[int, set[str]] = {}
        self.live_bytes = 0
        self.pairs = PairCounts(max_pending, max_bytes // 4)
        # What each request shape counts (`by_shape`), kept across drain steps, and the
        # shapes' members in the paired dimensions (by position)
        self._shapes: dict[tuple[Agent, int, str, int, bool, bool], tuple[bool, Any, int]] = {}
        self._paired: list[tuple[View, int]] = []  # (a shape's view part, `members_bytes`)
        # (day, path, query string, referrer, host) of a page view -> (its position in `owns`,
        # its own entries), and by position its view part and `members_bytes`
        self._pages: dict[tuple[int, str, str, str, str], tuple[int, tuple[Entry, ...]]] = {}
        self._owns: list[tuple[View, int]] = []
        self._today = -1  # the day the pages were remembered on
        self._shapes_setup = setup
        self.dropped = 0

    def drain(
        self,
        queue: deque[bytes],
        classify: Callable[[str, str, str], Agent],
        limit: int | None = None,
        deadline: float | None = None,
    ) -> int:
        """Pop and count the queued requests (at most ``limit``, and none past ``deadline``, a
        `time.perf_counter` value): the `pack` strings the recorder queues. Returns how many
        were taken.

        The counts of `increments` on each event (a test checks it), at a fraction of the cost:
        the `by_shape` pairs are counted once per distinct shape in the batch (a shape holds a
        minute, in which the day and the hour are one), a visitor once per distinct (client,
        agent) and day or minute, a page view's drill-down pairs once per distinct view (see
        `pairs`); per request there are only the `by_request` increments. Those are made from
        the packed fields as they are (no `Event` unless a shape is new), a page's own entries
        are remembered per page and day, and the increments go in with Counter's C loop.
        """
        counts, add, setup = self.counts, self.add, self.setup
        day_of = setup.clock.day
        known_shapes, paired = self._shapes, self._paired
        pages, owns = self._pages, self._owns
        today = day_of(time.time())
        if len(known_shapes) > 4096 or self._shapes_setup is not setup or today != self._today:
            # A flusher moves on minute by minute; the zone may have been settled meanwhile;
            # a page's entries hold its day.
            known_shapes.clear()
            paired.clear()
            pages.clear()
            owns.clear()
            self._shapes_setup = setup
            self._today = today
        room_for_pages = len(pages) < _MAX_PAGES
        # shape -> [(whether its requests are page views, its `by_shape` pairs, its position in
        # `paired`), requests of that shape in this call, its day]
        shapes: dict[tuple[Agent, int, str, int, bool, bool], list[Any]] = {}
        days: dict[int, int] = {}  # minute -> day
        seen: dict[int, set[str]] = {}
        live: dict[int, set[str]] = {}
        # (day, shape position, the page (its position in `owns`, or its own pairs when not
        # remembered: too long, or the memo full), country) -> page views: a small key to hash
        views: dict[tuple[int, int, Any, str | None], int] = {}
        popleft = queue.popleft
        left = len(queue) if limit is None else limit
        drained = 0
        room = self.max_visitor_bytes - self.visitor_bytes
        taken = 0
        clock = time.perf_counter
        while queue and left > 0:
            # a deadline checked every 4 requests: first sights (an agent to parse, a referrer
            # to classify) cost 10-100 times a memo hit, and a step must stay short anyway
            if deadline is not None and not taken & 3 and taken and clock() > deadline:
                break
            taken += 1
            left -= 1
            blob = popleft()
            try:
                drained += len(blob) + BLOB_BYTES  # `item_bytes`, inline
                fields = _loads(blob)
                client = fields[_CLIENT_ID]
                if type(client) is int:  # queued unresolved (`Recorder.record`)
                    client = client_identity(fields[_PEER], fields[_FORWARDED], client)
                agent = classify(fields[_AGENT], fields[_PLATFORM], fields[_MOBILE])
                when = fields[_TIME]
                minute = int(when // 60)
                day = days.get(minute)
                if day is None:
                    day = days[minute] = day_of(when)
                status, throttled = fields[_STATUS], fields[_THROTTLED]
                method, path = fields[_METHOD], fields[_PATH]
                document = is_document(fields[_CONTENT_TYPE], path)
                shape = (agent, minute, method, status, throttled, document)
                slot = shapes.get(shape)
                if slot is None:
                    # What a shape counts is worked out once, not once per drain step (the
                    # recorder drains in steps of a few dozen requests).
                    known = known_shapes.get(shape)
                    if known is None:
                        item = _event(fields, client)
                        viewed = not throttled and page_view(item.facts, status, agent, document)
                        members = tuple(by_shape(item, agent, setup))  # untracked: not a list
                        known = known_shapes[shape] = (viewed, members, len(paired))
                        view = tuple(pair for pair in members if pair[0] in PAIRED)
                        paired.append((view, members_bytes(view)))
                    slot = shapes[shape] = [known, 0, day]
                    # Hold the shape's entries now, in arrival order: added only after the
                    # loop, they would find max_pending already filled by a burst of paths.
                    for dimension, member in known[1]:
                        if (dimension, day, member) not in counts:
                            add(dimension, day, member, 0)
                slot[1] += 1
                # `by_request`, from the fields: the route's pairs first (`route_pairs`)
                route, family = route_family(method, fields[_ROUTE], status, path)
                timed = BUCKETS[bucket(fields[_DURATION])]
                entries = [("routes", day, route), (family, day, timed)]
                if status >= 400:
                    entries.append((error_dimension(status), day, route))
                page = slot[0][0]
                if page:
                    # The page's own pairs (`page_pairs`): its path and how it arrived are
                    # worked out once per page and day, its country per request.
                    query, referrer, host = fields[_QUERY], fields[_REFERRER], fields[_HOST]
                    key = (day, path, query, referrer, host)
                    found: tuple[Any, tuple[Entry, ...]] | None = pages.get(key)
                    if found is None:
                        own = page_own(path, query, referrer, host)
                        # (a tuple, which the collector untracks, not a list it keeps tracking)
                        held = tuple([(dimension, day, member) for dimension, member in own])
                        if (
                            room_for_pages
                            and len(path) + len(query) + len(referrer) + len(host) <= _PAGE_TEXT
                        ):
                            found = pages[key] = (len(owns), held)
                            room_for_pages = len(pages) < _MAX_PAGES
                            kept = tuple(pair for pair in own if pair[0] in PAIRED)
                            owns.append((kept, members_bytes(kept)))
                        else:
                            found = (own, held)
                    entries += found[1]
                    where = country_of(client, fields[_COUNTRY], setup)
                    if where is not None:
                        entries.append(("countries", day, where))
                    view_key = (day, slot[0][2], found[0], where)
                    views[view_key] = views.get(view_key, 0) + 1
                else:
                    counted_in = path_dimension(throttled, method, status)
                    if counted_in is not None:
                        entries.append((counted_in, day, path))
                held_before = len(counts)
                _count_into(counts, entries)  # +1 each, in C
                if len(counts) != held_before:
                    # New members went in unchecked: each is admitted again within the bounds
                    # (`add`). A request's entries are distinct, so a new one counts 1 (no
                    # entry of theirs is held at 0: only the shapes' are).
                    for entry in entries:
                        if counts.get(entry) == 1:
                            del counts[entry]
                            add(entry[0], entry[1], entry[2], 1)
                if page and room > 0:
                    # Hashed with the day's salt when written; no address ever reaches Redis.
                    # (The string is built once, for the day's set and the minute's.)
                    visitor = f"{client or '-'}\n{fields[_AGENT]}"
                    distinct = live.get(minute)
                    if distinct is None:
                        distinct = live[minute] = set()
                    distinct.add(visitor)
                    distinct = seen.get(day)
                    if distinct is None:
                        distinct = seen[day] = set()
                    if visitor not in distinct:
                        # Held until the loop ends: bounded like the visitors it becomes
                        # (beyond it they would be dropped).
                        distinct.add(visitor)
                        room -= _VISITOR_BYTES + 4 * len(visitor)
            except Exception:
                logger.exception("wsgi_analytics: could not count a request; skipped")
        self.drained_bytes += drained
        for (_, members, _), amount, day in shapes.values():
            for dimension, member in members:
                add(dimension, day, member, amount)
        self._add_live(live)
        # A view holds only the paired dimensions (not utm_source, utm_content, utm_term).
        # Shapes of different minutes can hold the same members: `PairCounts.add` adds up
        # their views.
        self.pairs.add(self._views(views))
        for day, distinct in seen.items():
            visitors = self.visitors.setdefault(day, set())
            for visitor in distinct:
                if len(visitors) >= self.max_pending:
                    break
                if visitor in visitors:
                    continue
                size = sys.getsizeof(visitor) + _VISITOR_BYTES
                if self.visitor_bytes + size > self.max_visitor_bytes:
                    break
                visitors.add(visitor)
                self.visitor_bytes += size
        return taken

    def _views(
        self, views: dict[tuple[int, int, Any, str | None], int]
    ) -> Iterator[tuple[tuple[int, View], int, int]]:
        """The drain's views as `PairCounts.add` takes them: the shape's part, the page's,
        its country."""
        paired, owns = self._paired, self._owns
        for (day, position, page, where), amount in views.items():
            view, size = paired[position]
            if type(page) is int:
                own, own_size = owns[page]
            else:
                own = tuple(pair for pair in page if pair[0] in PAIRED)
                own_size = members_bytes(own)
            view += own
            size += own_size
            if where is not None:
                view += (country_pair(where),)
                size += sys.getsizeof(where)
            yield (day, view), amount, size

    def _add_live(self, found: dict[int, set[str]]) -> None:
        # Hashed like the day's visitors when written (the same hash, so a visitor of several
        # minutes counts once).
        live = self.live
        room = self.max_visitor_bytes // 8 - self.live_bytes
        for minute, distinct in found.items():
            visitors = live.setdefault(minute, set())
            for visitor in distinct:
                if visitor in visitors:
                    continue
                size = sys.getsizeof(visitor) + _VISITOR_BYTES
                if size > room:
                    break  # live counts are a glance, not a record: the rest is left out
                visitors.add(visitor)
                room -= size
        self.live_bytes = self.max_visitor_bytes // 8 - room
        if len(live) > LIVE_SECONDS // 60:
            # A minute is read for 30 minutes: one older is no use (after an outage).
            newest = max(live)
            for minute in [m for m in live if m < newest - LIVE_SECONDS // 60]:
                gone = live.pop(minute)
                self.live_bytes -= sum(sys.getsizeof(v) + _VISITOR_BYTES for v in gone)

    def written_live(self) -> None:
        """The live minutes are in Redis: forget them (in steps: `pipeline.release`)."""
        live, self.live = self.live, {}
        self.live_bytes = 0
        for minute in live.values():
            release(minute)

    def drain_counts(self, queue: deque[Count]) -> None:
        """Pop and add every queued custom count."""
        drained = 0
        day_of = self.setup.clock.day
        while queue:
            count = queue.popleft()
            drained += count_bytes(count)
            self.add(count.dimension, day_of(count.time), count.member, count.amount)
        self.drained_bytes += drained

    def add(self, dimension: str, day: int, member: str, amount: int) -> None:
        counts = self.counts
        entry = (dimension, day, member)
        flying = self.inflight
        if entry in counts:
            counts[entry] += amount
        elif flying is not None and entry in flying:
            # Held already, in the chunk in flight: not a new member (and at most one chunk
            # of them, so its bytes may pass the bound a little).
            counts[entry] = amount
            self._overlap += 1
            self.bytes += _ENTRY_BYTES + sys.getsizeof(member)
        else:
            size = _ENTRY_BYTES + sys.getsizeof(member)
            held = len(counts) + (len(flying) if flying else 0) - self._overlap  # `len(self)`
            if held < self.max_pending and self.bytes + size <= self.max_bytes:
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

    def take(self, size: int) -> dict[Entry, int]:
        """The chunk in flight, or the next ``size`` entries as a new one; `done` once written
        (the writer names each new chunk's batch)."""
        if self.inflight is None:
            counts = self.counts
            if len(counts) <= size:
                # The usual case: all of them, without touching each. (Its memory is the
                # counts' own; with no chunk in flight, `bytes` is theirs alone.)
                self.inflight, self.counts = counts, {}
                self._inflight_bytes = self.bytes
            else:
                # From the end: popitem leaves no deleted slots for the next walk over the
                # dict to skip (entries taken from the front made each take slower).
                chunk: dict[Entry, int] = {}
                held, getsizeof = 0, sys.getsizeof
                for step in range(1, min(size, len(counts)) + 1):
                    if not step % 1024:
                        pipeline.pause()  # thousands of entries: ~0.2 ms a thousand
                    entry, amount = counts.popitem()
                    chunk[entry] = amount
                    held += _ENTRY_BYTES + getsizeof(entry[2])
                self.inflight = chunk
                self._inflight_bytes = held
        return self.inflight

    def done(self) -> None:
        """The chunk in flight is written (or given up): its memory is free."""
        chunk, self.inflight = self.inflight, None
        if chunk:
            release(chunk)
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
        chunk = self.inflight
        for entry in entries:
            if chunk.pop(entry, None) is None:
                continue
            size = _ENTRY_BYTES + sys.getsizeof(entry[2])
            self._inflight_bytes -= size
            self.bytes -= size
            if entry in self.counts:
                self._overlap -= 1

    def written_visitors(self) -> None:
        """The visitors are in Redis: forget them (in steps: `pipeline.release`)."""
        visitors, self.visitors = self.visitors, {}
        self.visitor_bytes = 0
        for day in visitors.values():
            release(day)

    def total(self) -> int:
        """Counts held. Safe from any thread: ``list()`` copies a dict's values in one step."""
        inflight = self.inflight
        flying = sum(list(inflight.values())) if inflight else 0
        return sum(list(self.counts.values())) + flying

    def clear(self) -> None:
        self.counts.clear()
        self.inflight = None
        self._overlap = 0
        self.visitors.clear()
        self.written_live()
        self.pairs.clear()
        self.bytes = self._inflight_bytes = self.visitor_bytes = 0

    def __len__(self) -> int:
        """Distinct entries held, in flight included: what ``max_pending`` bounds."""
        flying = len(self.inflight) if self.inflight else 0
        return len(self.counts) + flying - self._overlap
