"""Reads in bounded steps: table reads as series of `topscript.READ` calls, packed a few to a
round trip so that Redis never runs one client's work for long.

Why round trips matter as well as commands: Redis runs every command a client has sent before it
reads from another client, so a pipeline of a hundred 5 ms scripts holds everyone else up for
half a second although no command is slow. Each round trip here carries at most `TRIP_BUDGET`
units of work (a unit is about one member read or written; 1 µs to 2 µs of server time), and
each script call is given a budget it never goes past: at most `CALL_BUDGET`, at least the
largest piece of work it does whole (a day's top ``M`` members, a copy of a range cache).

A `Step` is one read made of such calls: `calls` gives what to send next (the calls that do not
depend on one another's replies), `feed` takes the replies. `run` drives a list of steps until
all are done. Scripts are sent with ``EVALSHA`` and loaded when a server does not know them (a
restart, ``SCRIPT FLUSH``, a new cluster node); a call refused with ``NOSCRIPT`` did nothing and is
sent again.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from .. import connection
from ..keys import Keys
from .snapshot import Table
from .topscript import PAIRS, READ

__all__ = [
    "CACHE_KEEP",
    "CACHE_MS",
    "CALL_BUDGET",
    "TRIP_BUDGET",
    "Call",
    "Command",
    "PairRead",
    "Step",
    "TableRead",
    "run",
    "shape",
]

# Work per script call and per round trip (see the module docstring): a unit costs 1 µs to
# 2 µs of server time, so a round trip holds Redis for 8 ms to 16 ms (measured on a two-core
# machine at a load of 6: `benchmarks/bench_read.py`).
CALL_BUDGET = 4096
TRIP_BUDGET = 8192
# A range's past days are summed once per CACHE_MS; only CACHE_KEEP ranges a dimension are kept.
CACHE_MS = 60_000
CACHE_KEEP = 3
# Scratch accumulators vanish after this even when their reader died half-way.
SCRATCH_MS = 30_000
# Members taken from each day key (M) and kept in an accumulator (K), at least; see `topscript`.
TOP_PER_DAY = 1024
KEEP_MEMBERS = 2048
_CHUNK = 256  # tail members summed per chunk


def shape(limit: int) -> tuple[int, int]:
    """``(M, K)`` for a read of ``limit`` rows: enough that the rows asked for are in reach."""
    return max(TOP_PER_DAY, limit), max(KEEP_MEMBERS, 2 * limit)


@dataclass
class Call:
    """One command to send: a script (by its source) or a plain command, and its cost."""

    args: tuple[Any, ...]
    cost: int
    script: str | None = None


class Step:
    """A read made of calls; see the module docstring."""

    done: bool = False

    def calls(self) -> list[Call]:
        raise NotImplementedError

    def feed(self, replies: list[Any]) -> None:
        raise NotImplementedError


class Command(Step):
    """One plain command (``PFCOUNT``, ``ZMSCORE``...): its reply in `result`."""

    def __init__(self, *args: Any, cost: int = 64) -> None:
        self.args, self.cost = args, cost
        self.result: Any = None

    def calls(self) -> list[Call]:
        return [Call(self.args, self.cost)]

    def feed(self, replies: list[Any]) -> None:
        self.result, self.done = replies[0], True


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _count(value: Any) -> int:
    return 0 if value is None else int(float(_text(value)))


class TableRead(Step):
    """The top ``limit`` rows of one dimension over some keys, with its total and distinct
    members (`topscript.READ`): one key read directly, or several summed into a scratch
    accumulator, the leading ``covered`` of them through the range cache ``cache_id``."""

    def __init__(
        self,
        keys: Keys,
        dimension: str,
        sources: Sequence[str],
        limit: int,
        *,
        cache: tuple[int, int] | None = None,
        covered: int = 0,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        work: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        direct = len(sources) == 1 and cache is None
        top, keep = shape(limit)
        self.limit = limit
        self.result: Table | None = None
        if not sources:
            self.result, self.done = Table(rows=[], total=0, distinct=0), True
            return
        if cache is None:
            cache_key, field_name, covered = keys.scratch(dimension, "none"), "", 0
        else:
            cache_key = keys.range_cache(dimension, *cache)
            field_name = keys.range_field(*cache)
        self._keys = [
            keys.scratch(dimension, uuid.uuid4().hex),
            cache_key,
            keys.range_index(dimension),
            *sources,
        ]
        self._fixed = [
            limit,
            0 if direct else top,
            keep,
            _CHUNK,
            SCRATCH_MS,
            CACHE_MS,
            CACHE_KEEP,
            field_name,
            covered,
        ]
        self._now_ms = now_ms
        self._state: list[Any] = [0, -1, 0, 0, 0, 0]
        # The work the next call may do: a guess from an earlier read of the same kind (small
        # dimensions cost little, and many fit in one round trip), else the full budget.
        self._work = work
        self._kind = f"{dimension} {'direct' if direct else 'range'}"
        # The largest piece of work a call does whole: a day's top part or a copy of the range
        # cache (range reads), a chunk of a key's tail (direct reads). A call is given at least
        # that, and the script starts no piece that would take it past what it was given, so a
        # call never does more than its budget (plus the rows at the end).
        # An earlier read of the same kind tells how big the keys are: a small dimension's
        # calls then ask for little, and many share a round trip.
        self._top, self._keep, self._direct = top, keep, direct
        known = None if work is None else work.get(self._kind)
        if known is None:
            self._unit = max(2 * top, keep) if not direct else _CHUNK + 2
            self.estimate = CALL_BUDGET
        else:
            self._unit = known[1] if not direct else _CHUNK + 2
            self.estimate = max(64, min(known[0], CALL_BUDGET))
        self.spent = 0
        self.hit = False

    def calls(self) -> list[Call]:
        budget = max(self.estimate, self._unit)
        head = ("EVALSHA", len(self._keys), *self._keys, *self._fixed[:3], budget)
        args = (*head, *self._fixed[3:], self._now_ms(), *self._state)
        return [Call(args, budget + 2 * self.limit, READ)]

    def feed(self, replies: list[Any]) -> None:
        done, i, r, total, bound, maxcard, truncated, distinct, flat, hit, spent = replies[0]
        self._state = [int(i), int(r), _text(total), _text(bound), int(maxcard), int(truncated)]
        self.hit = self.hit or bool(hit)
        self.spent += int(spent)
        if not int(done):
            self.estimate = CALL_BUDGET
            return
        rows = [(_text(flat[j]), _count(flat[j + 1])) for j in range(0, len(flat), 2)]
        rows.sort(key=lambda row: (-row[1], row[0]))
        self.result = Table(
            rows=rows[: self.limit],
            total=_count(total),
            distinct=int(distinct),
            error_bound=_count(bound),
        )
        self.done = True
        if self._work is not None:
            if len(self._work) > 1024:
                self._work.clear()
            # The biggest piece: a day's top part (two units a member), or the cache's copy.
            card = min(int(maxcard), self._top)
            unit = max(2 * card, min(int(distinct), self._keep)) + 64
            self._work[self._kind] = (self.spent + 64, unit)


@dataclass
class PairRead(Step):
    """The pairs of one member ``w`` in some pair keys (`topscript.PAIRS`): ``found`` maps each
    pair member to its count, summed over the keys."""

    keys: list[str]
    needle: str
    found: dict[str, int] = field(default_factory=dict)
    per_key: list[dict[str, int]] = field(default_factory=list)
    _at: int = 0
    _rank: int = 0

    def __post_init__(self) -> None:
        self.per_key = [{} for _ in self.keys]
        self.done = not self.keys

    def calls(self) -> list[Call]:
        key = self.keys[self._at]
        return [Call(("EVALSHA", 1, key, self.needle, self._rank, CALL_BUDGET), CALL_BUDGET, PAIRS)]

    def feed(self, replies: list[Any]) -> None:
        rank, flat = replies[0]
        here = self.per_key[self._at]
        for j in range(0, len(flat), 2):
            member, count = _text(flat[j]), _count(flat[j + 1])
            here[member] = here.get(member, 0) + count
            self.found[member] = self.found.get(member, 0) + count
        if int(rank) < 0:
            self._at, self._rank = self._at + 1, 0
            self.done = self._at >= len(self.keys)
        else:
            self._rank = int(rank)


def _hash_of(script: str) -> str:
    return hashlib.sha1(script.encode(), usedforsecurity=False).hexdigest()


_SHA = {READ: _hash_of(READ), PAIRS: _hash_of(PAIRS)}


def run(client: connection.Client, steps: Sequence[Step], *, budget: int | None = None) -> int:
    """Drive ``steps`` until all are done, at most ``budget`` (`TRIP_BUDGET`) units of work
    per round trip (always at least one call). Returns the number of round trips."""
    budget = TRIP_BUDGET if budget is None else budget
    trips = 0
    pending = [step for step in steps if not step.done]
    while pending:
        batch: list[tuple[Step, list[Call]]] = []
        spent = 0
        for step in pending:
            calls = step.calls()
            cost = sum(call.cost for call in calls)
            if batch and spent + cost > budget:
                continue  # next round trip
            batch.append((step, calls))
            spent += cost
        replies = _execute(client, [call for _, calls in batch for call in calls])
        trips += 1
        at = 0
        for step, calls in batch:
            answers = replies[at : at + len(calls)]
            at += len(calls)
            if any(answer is _RETRY for answer in answers):
                continue  # a script was missing and is loaded now: the same calls again
            step.feed(answers)
        pending = [step for step in pending if not step.done]
    return trips


_RETRY = object()


def _execute(client: connection.Client, calls: list[Call]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for call in calls:
        if call.script is None:
            # execute_command: redis-py's cluster pipeline refuses PFCOUNT and friends because
            # they *may* span slots; ours never do (one hash tag per call).
            pipe.execute_command(*call.args)
        else:
            pipe.execute_command(call.args[0], _SHA[call.script], *call.args[1:])
    replies = pipe.execute(raise_on_error=False)
    missing = {
        call.script
        for call, reply in zip(calls, replies, strict=True)
        if call.script is not None and isinstance(reply, NoScriptError)
    }
    for script in missing:
        client.script_load(script)
    out: list[Any] = []
    for call, reply in zip(calls, replies, strict=True):
        if call.script is not None and isinstance(reply, NoScriptError):
            out.append(_RETRY)
        elif isinstance(reply, ResponseError | Exception):
            raise reply
        else:
            out.append(reply)
    return out
