"""Drill-down pair counts: page views counted per distinct page view, expanded into pairs when
written.

A page view is counted once in each of its dimensions (``paths``, ``sources``, ``browsers``...).
For the filtered reads (``Stats.top("sources", where=("paths", "/pricing/"))``) it is also counted
in pairs: for each filter dimension ``W`` (`PAIR_FILTERS`) and each other member ``(D, d)`` of
the same page view, one increment of ``pair_member(w, D, d)`` (the layout is in `..keys`).

That is about thirty increments a page view, so they are not made per page view. The flusher
counts each distinct *view* (the tuple of a page view's members in the paired dimensions) in
`PairCounts`; page views that share every member (the same page, source, country, agent and hour)
are one entry. `expand` turns the views into pairs only when they are written, once per distinct
view, and `increment_args` groups them into one ``EVAL`` of `INCREMENT_PAIRS` per filter
dimension and day (the pairs of one filter dimension share a hash slot), the members of one key
and amount sent as one argument.

The longer views are aggregated, the more pairs repeat, so they are written on a schedule of
their own (`recorder.PAIRS_EVERY`, 15 s). Each pair goes to its day key and its all-time key in
the same call (the timeline's to the day key alone): the members are built and sent once for
both, and the all-time keys cost the client nothing more. (They were once held back and written
every five minutes, to spare Redis half its pair increments; holding them cost the flusher
about 3 µs a request, more than the writes it saved.) On the benchmark's stream a page view
costs 1.3 pair increments of each kind over a 15 s window of 1,000 requests a second, against
3.9 flushed every second.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from operator import itemgetter
from sys import getsizeof
from typing import Any

from .._log import warn_limited
from ..keys import (
    PAIR_DIMENSIONS,
    PAIR_FILTERS,
    PAIR_LIST_SEPARATOR,
    TIMELINE,
    Keys,
    pair_member,
)
from . import pipeline  # pipeline.pause, looked up at each call (benchmarks time the steps)
from .pipeline import release

__all__ = [
    "INCREMENT_PAIRS",
    "PAIRED",
    "PairCounts",
    "View",
    "expand",
    "increment_args",
    "members_bytes",
    "pair_limit",
]

# The dimensions whose members make up a view, in the order the rules produce them.
PAIRED = frozenset((*PAIR_DIMENSIONS, TIMELINE))
View = tuple[tuple[str, str], ...]  # a page view's (dimension, member) in PAIRED dimensions
Group = tuple[str, int]  # (filter dimension, day)
# (a key, a second key given the same increments or None): `increment_args` takes both shapes
Target = tuple[str, str | None]


def pair_limit(max_members: int) -> int:
    """How many members each pairs key keeps (the top ones): a sixteenth of ``max_members``.

    With `PAIR_BUCKETS` (32) keys per filter dimension and day, a day keeps up to twice
    ``max_members`` pairs per filter dimension (20,000 by default): the full breakdown of the top
    few hundred pages, sources or countries, the top rows of every other one. A filtered read
    scans one key a day (at most 625 members by default), less than the unfiltered read of the
    same page, which reads every dimension's day key (up to ``max_members`` each).
    """
    return max(16, max_members // 16)


# A view's own tuples, its key and dict slot, measured with tracemalloc; its members on top,
# each counted in full though most are shared (the same "Chrome" and "Google" objects): a
# scanner's distinct paths and referrers must not hide in the estimate.
_VIEW_BYTES = 300


def members_bytes(pairs: Iterable[tuple[str, str]]) -> int:
    """The memory of the members of ``pairs`` (a view's, or a part of one), for
    `PairCounts.add`: a view's parts are measured once, where they are made."""
    return sum(map(getsizeof, map(_member, pairs)))


_member = itemgetter(1)


class PairCounts:
    """Distinct views waiting to be written, with their counts, bounded by ``limit`` views and
    about ``max_bytes`` of memory (beyond them new views are left out of the pairs, counted in
    ``dropped``: the page views themselves are counted all the same).

    Like `Pending`, the chunk the writer has in flight (``flying``, under batch id ``batch``)
    is retried as it is until Redis has answered for it, never merged with newer counts.
    Not thread-safe: the recorder's flush lock guards it.
    """

    def __init__(self, limit: int, max_bytes: int) -> None:
        self.limit = limit
        self.max_bytes = max_bytes
        self.bytes = 0
        self.counts: dict[tuple[int, View], int] = {}
        self.flying: dict[tuple[int, View], int] = {}
        self._flying_bytes = 0
        self.batch = ""
        self.dropped = 0  # page views left out of the pairs because a bound was reached

    def add(self, views: Iterable[tuple[tuple[int, View], int, int]]) -> None:
        """Merge one drain step's views: ``((day, view), page views, members_bytes(view))``."""
        counts = self.counts
        # The room left, in views and bytes, kept in locals while the views go in.
        room = self.limit - len(self)
        held = self.bytes
        for entry, amount, members in views:
            found = counts.get(entry)
            if found is not None:
                counts[entry] = found + amount
                continue
            size = _VIEW_BYTES + members
            if room > 0 and held + size <= self.max_bytes:
                counts[entry] = amount
                room -= 1
                held += size
                continue
            self.dropped += amount
            warn_limited(
                "pairs",
                "wsgi_analytics: %d distinct page views (%.0f MB) pending for the drill-down "
                "pairs; leaving new ones out of the pairs",
                len(self),
                held / 1e6,
            )
        self.bytes = held

    def take(self, size: int) -> dict[tuple[int, View], int]:
        """The chunk in flight, or the next ``size`` views as a new one (`landed` once
        written; the writer names each new chunk's batch)."""
        if not self.flying:
            counts = self.counts
            held = len(counts)
            if held <= size:  # the usual case: all of them, without touching each
                self.flying, self.counts = counts, {}
                self._flying_bytes = self.bytes
            else:
                # From the end: popitem hashes nothing (a view is a tuple of tuples, hashed
                # anew at each look-up) and leaves no deleted slots for the next walk over the
                # dict to skip. Their memory in proportion, as the estimate it is.
                chunk: dict[tuple[int, View], int] = {}
                for step in range(1, size + 1):
                    if not step % _VIEWS_A_TAKE:
                        pipeline.pause()
                    view, amount = counts.popitem()
                    chunk[view] = amount
                self.flying = chunk
                self._flying_bytes = self.bytes * size // held
        return self.flying

    def landed(self) -> None:
        """The chunk in flight is written (or given up): its memory is free."""
        self.bytes -= self._flying_bytes
        self._flying_bytes = 0
        flying, self.flying = self.flying, {}
        release(flying)

    def full(self) -> bool:
        """Whether half the bounds are used: time to write, whatever the schedule."""
        return len(self) * 2 >= self.limit or self.bytes * 2 >= self.max_bytes

    def clear(self) -> None:
        self.counts.clear()
        self.flying = {}
        self.bytes = self._flying_bytes = 0

    def __len__(self) -> int:
        return len(self.counts) + len(self.flying)


def expand(
    views: Iterable[tuple[tuple[int, View], int]], keys: Keys
) -> dict[Group, dict[Target, dict[str, int]]]:
    """The pair increments of ``views``: per (filter dimension, day), per target (the day key
    and the all-time key given the same increments; the timeline's on the day key alone),
    member -> amount. Deterministic (the same views in the same order give the same result),
    so a retried chunk is written under the same batch markers.

    In two steps, so that a member string is built once per distinct pair, not once per view:
    first the (dimension, member) tuples of the views (the rules' own tuple objects) are tallied
    per filter member, then each distinct pair becomes its member. A view holds its filter
    member too (``("paths", "/")`` in the tally of ``/``): tallied with the rest, cheaper than
    a test per pair, and left out when the members are built.
    """
    tallies: dict[tuple[str, int, str], dict[tuple[str, str], int]] = {}
    filters = _FILTERS
    for number, ((day, view), amount) in enumerate(views, 1):
        if number % _VIEWS_A_STEP == 0:
            pipeline.pause()  # a chunk is thousands of views: let the request threads in
        for pair in view:
            if pair[0] not in filters:
                continue
            slot = (pair[0], day, pair[1])
            tally = tallies.get(slot)
            if tally is None:
                tally = tallies[slot] = {}
            for other in view:
                tally[other] = tally.get(other, 0) + amount
    groups: dict[Group, dict[Target, dict[str, int]]] = {}
    budget = _PAIRS_A_STEP  # counted per pair: the tally of "/" alone can hold thousands
    for (filter_dimension, day, w), tally in tallies.items():
        targets = groups.setdefault((filter_dimension, day), {})
        day_key = keys.pairs(filter_dimension, day, w)
        both = targets.setdefault((day_key, keys.pairs(filter_dimension, None, w)), {})
        hours = targets.setdefault((day_key, None), {})  # hours of all time: no use
        for (dimension, d), amount in tally.items():
            budget -= 1
            if budget <= 0:
                budget = _PAIRS_A_STEP
                pipeline.pause()
            if dimension == filter_dimension:
                continue  # the filter member itself
            (hours if dimension == TIMELINE else both)[pair_member(w, dimension, d)] = amount
    return groups


_FILTERS = frozenset(PAIR_FILTERS)
_VIEWS_A_TAKE = 512  # views taken between two pauses: ~0.3 ms
_VIEWS_A_STEP = 48  # views tallied between two pauses: ~0.3 ms
_PAIRS_A_STEP = 512  # tallied pairs made members between two pauses: ~0.3 ms

# KEYS: pairs keys of one filter dimension (one slot), then the batch's marker key. ARGV: the
# marker's lifetime, then groups of four: the index in KEYS of a day key, of its all-time key (0:
# none), an amount, and the members that get that amount, joined by PAIR_LIST_SEPARATOR (one
# argument: a fraction of the client's cost of one argument per member). Applied once per
# marker, like `writer.INCREMENT`, with the same pcall reporting.
INCREMENT_PAIRS = """
local marker = KEYS[#KEYS]
if not redis.call('SET', marker, '1', 'NX', 'EX', ARGV[1]) then return 0 end
local failed, count = nil, 0
for i = 2, #ARGV, 4 do
  local first, second, amount = KEYS[tonumber(ARGV[i])], tonumber(ARGV[i + 1]), ARGV[i + 2]
  second = second > 0 and KEYS[second] or nil
  for member in string.gmatch(ARGV[i + 3], '[^\\30]+') do
    local reply = redis.pcall('ZINCRBY', first, amount, member)
    if type(reply) == 'table' and reply.err then failed = reply.err end
    if second then
      reply = redis.pcall('ZINCRBY', second, amount, member)
      if type(reply) == 'table' and reply.err then failed = reply.err end
    end
    count = count + 1
  end
end
if failed then return redis.error_reply(failed) end
return count
"""
_PER_EVAL = 4096  # members per EVAL: a busy flush never holds Redis for long


def increment_args(
    targets: dict[Target, dict[str, int]], marker: str
) -> Iterator[tuple[list[str], list[Any], dict[str, int]]]:
    """``(KEYS, ARGV after the lifetime, written)`` of each `INCREMENT_PAIRS` call for one
    group; ``marker`` gets a ``.N`` suffix per call. ``written``: members sent per key."""
    keys: list[str] = []
    index: dict[str, int] = {}
    args: list[Any] = []
    written: dict[str, int] = {}
    sent = part = 0
    budget = _PAIRS_A_STEP
    for (day_key, all_key), members in targets.items():
        by_amount: dict[int, list[str]] = {}
        for member, amount in members.items():
            budget -= 1
            if budget <= 0:
                budget = _PAIRS_A_STEP
                pipeline.pause()  # the members of "/" or Google alone: thousands
            same = by_amount.get(amount)
            if same is None:
                by_amount[amount] = [member]
            else:
                same.append(member)
        for amount, same in by_amount.items():
            for start in range(0, len(same), _PER_EVAL):
                piece = same[start : start + _PER_EVAL]
                for key in (day_key, all_key):
                    if key is not None and key not in index:
                        keys.append(key)
                        index[key] = len(keys)
                args += (
                    index[day_key],
                    index[all_key] if all_key is not None else 0,
                    amount,
                    PAIR_LIST_SEPARATOR.join(piece),
                )
                written[day_key] = written.get(day_key, 0) + len(piece)
                if all_key is not None:
                    written[all_key] = written.get(all_key, 0) + len(piece)
                sent += len(piece)
                if sent >= _PER_EVAL:
                    yield [*keys, f"{marker}.{part}"], args, written
                    keys, index, args, written, sent = [], {}, [], {}, 0
                    part += 1
    if args:
        yield [*keys, f"{marker}.{part}"], args, written
