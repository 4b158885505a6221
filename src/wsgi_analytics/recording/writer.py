"""Writing pending counts to Redis: batched ``ZINCRBY``, trims, expiries and ``PFADD``.

One ``pipeline(transaction=False)`` per chunk of pending entries: counters need no atomicity, and
a cluster client splits such a pipeline by node. The increments of one dimension and day go in
one ``EVAL`` of `INCREMENT`, which runs the ``ZINCRBY`` of every member on the day key and the
all-time key (one hash slot): one command sent per dimension and flush instead of two per member,
and a fraction of the client CPU, while Redis runs the same ``ZINCRBY`` as before.

Exactly once, not at least once, across retries. The whole protocol is here, in `Writer.write`:

1. A chunk is taken from `Pending` (``pending.take``) and named with a fresh batch id.
2. Every ``EVAL`` of the chunk carries the batch's marker key (`Keys.batch`); the script applies
   its increments only if it can create the marker, so Redis applies each batch once.
3. Only when the pipeline has answered is the chunk done (``pending.done``). A connection lost
   mid-flush (a reply lost, a stall past the socket timeout) leaves the chunk in flight, and the
   next try sends it again under the same id: Redis finds the markers of what it already
   applied and skips those. What Redis answered for is settled (``pending.settle``) so that a
   partly refused chunk is retried without it. Newer counts wait in ``pending.counts``; they
   are never merged into the chunk in flight.

The drill-down pairs (`pairs`) follow the same protocol with chunks of their own, written after
the counts in one pipeline with the day's visitors and the live minutes (`Writer._write_rest`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis

from .. import connection
from .._log import logger, warn_limited
from ..keys import LIVE_SECONDS, Keys, is_sketch, sketch_group, sketch_route
from ..request.clock import SiteClock
from . import pairs as pairs_module
from . import pipeline
from .pending import Entry, Pending
from .pipeline import Pipeline

__all__ = ["Writer", "not_now"]

# Entries handled between two pauses of the flusher (~0.3 ms; see `recording.pipeline`).
STEP_ENTRIES = 256
_CHUNK = 4096  # pending entries per pipeline, so a long outage drains in bounded batches
# Drill-down views per pipeline: larger, because a pair shared by views of two chunks is sent
# twice (a 15 s window of a busy site is ~7,000 views; their pairs, ~20,000 members, go in
# EVALs of at most 4,096 each).
_VIEWS_CHUNK = 16_384
# KEYS: the sorted sets of one dimension and day (one slot), then this batch's marker key;
# ARGV: the marker's lifetime, then member, amount, member, ... A batch is applied once: a retry
# of a pipeline whose reply was lost (Redis stalled past the socket timeout, a connection cut
# after the send) finds its marker and does nothing. The marker is the script's first write:
# a server that refuses writes (OOM under noeviction, READONLY, MISCONF) refuses it, and the
# script fails having applied nothing; once it is written Redis lets the rest of the script
# write too (a script is atomic). pcall: a key of the wrong type fails alone, as a separate
# command would; the reply is then {amount lost, error} instead of the number of members.
INCREMENT = """
local marker = KEYS[#KEYS]
if not redis.call('SET', marker, '1', 'NX', 'EX', ARGV[1]) then return 0 end
local failed, lost = nil, 0
for i = 2, #ARGV, 2 do
  for k = 1, #KEYS - 1 do
    local reply = redis.pcall('ZINCRBY', KEYS[k], ARGV[i + 1], ARGV[i])
    if type(reply) == 'table' and reply.err then
      failed = reply.err
      lost = lost + tonumber(ARGV[i + 1])
    end
  end
end
if failed then return {lost, failed} end
return (#ARGV - 1) / 2
"""
# The sketches of a group of routes on one day (`Keys.sketch`, one slot), as `INCREMENT` does for
# a dimension. KEYS: each route's day key and all-time key, then the batch's marker; ARGV: the
# marker's lifetime, then per route the number of its buckets and bucket, amount, bucket, ...
SKETCHES = """
local marker = KEYS[#KEYS]
if not redis.call('SET', marker, '1', 'NX', 'EX', ARGV[1]) then return 0 end
local failed, lost, a = nil, 0, 2
for k = 1, #KEYS - 1, 2 do
  local n = tonumber(ARGV[a])
  a = a + 1
  for i = 1, n do
    for j = k, k + 1 do
      local reply = redis.pcall('ZINCRBY', KEYS[j], ARGV[a + 1], ARGV[a])
      if type(reply) == 'table' and reply.err then
        failed = reply.err
        lost = lost + tonumber(ARGV[a + 1])
      end
    end
    a = a + 2
  end
end
if failed then return {lost, failed} end
return (#KEYS - 1) / 2
"""
# Trims a ``routes`` key as ZREMRANGEBYRANK does and returns the members it removed: the writer
# then deletes their response-time sketches (`Keys.sketch`, other slots). ARGV[1]: the last
# rank to remove (negative: all but the top members).
TRIM_ROUTES = """
local gone = redis.call('ZRANGE', KEYS[1], 0, ARGV[1])
if #gone > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, ARGV[1]) end
return gone
"""
# The retention readers cut ranges at (`Stats.retention_days`), kept in the meta hash as the
# longest any recorder of the prefix uses. Not HSETNX, as for the zone (there the first
# recorder's zone becomes everyone's), nor a plain HSET (the last worker to start would win):
# workers of one site can be configured differently, mid-deploy or by mistake, and a day key
# lives until the last EXPIREAT any of them set, so a reader cutting at a shorter retention
# would hide days that still exist. A script, because reading and raising the value must be one
# step: two workers starting together would both read "none", and the shorter one could write
# last. One key: one slot in a cluster. What is not decimal digits (a hand-made HSET, a zero) is
# replaced. KEYS[1]: the meta hash; ARGV[1]: this recorder's retention_days. Returns what is
# stored afterwards.
RETENTION = """
local stored = redis.call('HGET', KEYS[1], 'retention_days')
local days = stored and #stored <= 9 and string.match(stored, '^%d+$') and tonumber(stored)
if days and days >= tonumber(ARGV[1]) then return stored end
redis.call('HSET', KEYS[1], 'retention_days', ARGV[1])
return ARGV[1]
"""
# How long a batch's marker outlives it: a retry later than this (a partition that heals after
# five minutes, just after Redis applied the batch) could count it twice. Markers cost about
# 100 bytes each, one per dimension and day a flush writes.
DEDUP_SECONDS = 300
_MAX_TRACKED = 10_000  # keys whose untrimmed writes are tracked; beyond it all are trimmed
# Expiries are queued once per key, then again after this many seconds: a Redis that restarted
# without its data gets them back on the keys it recreates.
_EXPIRY_REFRESH = 60.0
# Error replies that mean "not now" rather than "never": out of memory under noeviction (OOM),
# a replica since a failover (READONLY), a long script running (BUSY), a restart loading its
# data (LOADING), a replica cut off from its primary (MASTERDOWN), writes stopped after a failed
# save (MISCONF), too few replicas (NOREPLICAS), a cluster in flux (CLUSTERDOWN, TRYAGAIN), a
# permission or login missing until someone fixes it (NOPERM, NOAUTH). The command that got
# one applied nothing, so the counts stay pending and are retried like an outage. Older
# servers wrap a script's error ("ERR Error running script ...: -OOM ..."): hence the search.
_NOT_NOW = re.compile(
    r"(?:^|\s-)(?:OOM|READONLY|BUSY|LOADING|MASTERDOWN|MISCONF|NOREPLICAS|CLUSTERDOWN|TRYAGAIN"
    r"|NOSCRIPT|NOPERM|NOAUTH)\b"
)


def not_now(error: BaseException) -> bool:
    """Whether counts that met ``error`` stay pending: Redis unreachable, slow, or refusing
    for now (see `_NOT_NOW`). Anything else is permanent for the command that got it."""
    if isinstance(error, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return True
    if isinstance(error, redis.ResponseError):
        # redis-py moves a known code into ``status_code`` and out of the message.
        code = getattr(error, "status_code", None)
        return _NOT_NOW.search(f"{code} {error}" if code else str(error)) is not None
    return False


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


class Writer:
    """Writes a `Pending` for one key prefix; remembers salts and which keys have an expiry."""

    def __init__(
        self,
        client: connection.Client,
        keys: Keys,
        *,
        retention_days: int,
        max_members: int,
        clock: SiteClock | None = None,
    ) -> None:
        self.client = client
        self.keys = keys
        self.retention_days = retention_days
        self.max_members = max_members
        self.clock = clock or SiteClock("UTC")  # when a day ends: expiries of day keys, salts
        self.pair_limit = pairs_module.pair_limit(max_members)
        # A key is trimmed once this process has written `trim_slack` members to it since its
        # last trim, not on every flush: a key holds at most max_members plus the slack of each
        # live worker, and `trim_remaining` at shutdown leaves nothing over the limit.
        self.trim_slack = max(1, max_members // 8)
        self._untrimmed: dict[str, int] = {}
        self._pairs_untrimmed: dict[str, int] = {}  # the same for the pairs keys
        # The untrimmed ``routes`` keys and their day (None: all time): a route trimmed off one
        # loses its sketch of that day too, so only routes that survive trimming keep one.
        self._route_days: dict[str, int | None] = {}
        self._trimmed_routes: list[tuple[int | None, list[Any]]] = []
        self._salts: dict[int, bytes] = {}
        self._stored_salts: dict[int, bytes] = {}  # as stored in Redis, to propose again
        self._expiring: set[str] = set()
        self._expiring_since = time.monotonic()
        self._batch = ""  # the id of the chunk in flight (``pending.inflight``)

    def write(self, pending: Pending, *, pairs: bool = True) -> None:
        """Write everything pending (``pairs``: the drill-down pairs too). Raises when Redis
        cannot be reached or refuses for now (`not_now`), leaving the counts pending; a
        permanent refusal drops what it concerns, counted in ``pending.dropped`` and logged, so
        that it never blocks the rest."""

        while len(pending):
            if pending.inflight is None:
                self._batch = secrets.token_hex(8)  # a new chunk: a new batch
            batch, chunk = self._batch, pending.take(_CHUNK)
            groups: dict[tuple[str, int], list[Entry]] = {}
            unwritable: list[Entry] = []
            for index, entry in enumerate(chunk):
                if index and not index % STEP_ENTRIES:
                    pipeline.pause()  # let the request threads in (see recording.pipeline)
                # Repaired where text comes in (facts, track); a member that still cannot be
                # encoded would fail its whole pipeline on every retry.
                if not entry[2].isascii() and not _encodable(entry[2]):
                    unwritable.append(entry)
                    continue
                place = (entry[0], entry[1])
                group = groups.get(place)
                if group is None:
                    group = groups[place] = []
                group.append(entry)
            if unwritable:
                self._drop(pending, unwritable, "cannot be encoded as UTF-8")
            pipe = Pipeline(self.client)  # packed in steps, with pauses
            # What each command of the pipeline stands for, to read its reply.
            sent: list[tuple[str, Any]] = []
            written: dict[str, int] = {}
            days: dict[str, int] = {}
            keys = self.keys
            budget = STEP_ENTRIES
            sketches: dict[tuple[int, int], list[tuple[str, list[Entry]]]] = {}
            for (dimension, day), entries in groups.items():
                if is_sketch(dimension):
                    budget -= 8  # a route's sketch (a site of many routes: thousands)
                    if budget <= 0:
                        budget = STEP_ENTRIES
                        pipeline.pause()
                    route = sketch_route(dimension)
                    sketches.setdefault((sketch_group(route), day), []).append((route, entries))
                    days[keys.sketch(route, day)] = day
                    continue
                # a group's command costs about as much as a few of its entries
                budget -= len(entries) + 8
                if budget <= 0:
                    budget = STEP_ENTRIES
                    pipeline.pause()
                targets = keys.targets(dimension, day)
                marker = keys.batch(dimension, batch, day)
                members: list[Any] = []
                for start in range(0, len(entries), STEP_ENTRIES):
                    if start:
                        pipeline.pause()  # a dimension of thousands of members
                    for entry in entries[start : start + STEP_ENTRIES]:
                        members += (entry[2], chunk[entry])
                # EVAL, not EVALSHA: nothing to reload after a restart; Redis caches the script.
                pipe.execute_command(
                    "EVAL", INCREMENT, len(targets) + 1, *targets, marker, DEDUP_SECONDS, *members
                )
                sent.append(("increment", entries))
                if keys.trimmed(dimension):
                    for key in targets:
                        written[key] = written.get(key, 0) + len(entries)
                    if dimension == "routes":
                        self._route_days[keys.day(dimension, day)] = day
                        self._route_days[keys.all(dimension)] = None
                expiring_key = keys.expiring(dimension, day)
                if expiring_key is not None:
                    days[expiring_key] = day
            for (number, day), routes in sketches.items():
                pipeline.pause()
                sent.append(self._sketches(pipe, chunk, number, day, routes, batch))
            pipeline.pause()
            sent += [self._trim(pipe, key) for key in self._due_for_trim(written)]
            sent += [("expire", key) for key in self._expire(pipe, days)]
            pipeline.pause()
            try:
                replies = pipe.execute(raise_on_error=False) if sent else []
            except (UnicodeError, redis.DataError) as error:
                # Nothing of ours should get here (members are checked above); if something
                # does, it would fail the same way forever.
                self._drop(pending, list(chunk), f"could not be sent ({error})")
                pending.done()
                continue
            pipeline.pause()
            retry = self._read_replies(pending, chunk, sent, replies)
            self._delete_sketches()
            if retry is not None:
                raise retry
            pending.done()
            pipeline.pause()
        while (pairs and len(pending.pairs)) or pending.visitors or pending.live:
            self._write_rest(pending, pairs=pairs)

    def settle_zone(self, zone: str) -> str:
        """Store ``zone`` as the prefix's time zone unless one is stored, and ``retention_days``
        as its retention unless a longer one is (`RETENTION`); return the stored zone.

        Called once, at a recorder's first write: the retention rides in the zone's round trip,
        so that readers learn it at no cost to any request."""
        key = self.keys.meta()
        pipe = self.client.pipeline(transaction=False)
        pipe.hsetnx(key, "timezone", zone)
        pipe.hget(key, "timezone")
        pipe.execute_command("EVAL", RETENTION, 1, key, self.retention_days)
        for reply in (replies := pipe.execute(raise_on_error=False)):
            if isinstance(reply, Exception):
                raise reply  # as Redis said it: `not_now` tells a busy server from a bad key
        kept = _text(replies[2])
        if kept.isdigit() and int(kept) > self.retention_days:
            # Readers keep cutting at the longest retention ever stored: after the site's
            # retention was lowered, only the operator can say the longer one is gone.
            logger.warning(
                "wsgi_analytics: prefix %r stores retention_days=%s, longer than this "
                "recorder's %d (another worker's, or an earlier setting): readers cut ranges "
                "there; if every worker now keeps %d days: HSET %s retention_days %d",
                self.keys.prefix,
                kept,
                self.retention_days,
                self.retention_days,
                key,
                self.retention_days,
            )
        stored = replies[1]
        if isinstance(stored, bytes):
            stored = stored.decode("utf-8", "replace")
        return stored if isinstance(stored, str) and stored else zone

    def _sketches(
        self,
        pipe: Any,
        chunk: dict[Entry, int],
        group: int,
        day: int,
        routes: list[tuple[str, list[Entry]]],
        batch: str,
    ) -> tuple[str, list[Entry]]:
        """Queue the sketches of a group's routes on ``day``: one command, however many routes
        (a command per route would be most of a flush's work on a site of many pages)."""
        keys = self.keys
        targets: list[str] = []
        arguments: list[Any] = []
        entries: list[Entry] = []
        for number, (route, buckets) in enumerate(routes, 1):
            if not number % 64:
                pipeline.pause()  # a site of many routes: thousands of arguments
            targets += (keys.sketch(route, day), keys.sketch(route, None))
            arguments.append(len(buckets))
            for entry in buckets:
                arguments += (entry[2], chunk[entry])
            entries += buckets
        marker = keys.sketch_batch(group, batch, day)
        pipe.execute_command(
            "EVAL", SKETCHES, len(targets) + 1, *targets, marker, DEDUP_SECONDS, *arguments
        )
        return ("increment", entries)

    def _read_replies(
        self,
        pending: Pending,
        chunk: dict[Entry, int],
        sent: list[tuple[str, Any]],
        replies: list[Any],
    ) -> BaseException | None:
        """Settle a chunk from its pipeline's replies; the error to retry on, if any."""
        retry: BaseException | None = None
        applied: list[Entry] = []
        for (kind, what), reply in zip(sent, replies, strict=True):
            failed = isinstance(reply, redis.ResponseError)
            if kind == "increment":
                if failed and not_now(reply):
                    retry = retry or reply
                    continue
                applied += what
                if failed:
                    self._drop(pending, what, f"refused by Redis ({reply})")
                elif isinstance(reply, list):  # some keys refused (WRONGTYPE): {lost, error}
                    lost = int(reply[0])
                    pending.dropped += lost
                    warn_limited(
                        "refused",
                        "wsgi_analytics: Redis refused %d counts of %s: %s",
                        lost,
                        what[0][0],
                        _text(reply[1]),
                    )
            elif failed and not_now(reply):
                continue  # a trim or an expiry: queued again by a later flush
            elif kind == "trim":
                self._untrimmed.pop(what, None)
                if not failed and what in self._route_days:
                    self._trimmed_routes.append((self._route_days.pop(what), reply))
            else:
                self._expiring.add(what)
            if failed and kind != "increment":
                warn_limited("command", "wsgi_analytics: Redis refused a command: %s", reply)
        if retry is not None:
            # Written already (or never writable): a retry sends only the rest.
            pending.settle(applied)
        return retry

    def _drop(self, pending: Pending, entries: list[Entry], why: str) -> None:
        """Give up ``entries`` of the chunk in flight, counted in ``dropped`` and logged."""
        chunk = pending.inflight or {}
        lost = sum(chunk.get(entry, 0) for entry in entries)
        pending.dropped += lost
        pending.settle(entries)
        dimension, _, member = entries[0]
        logger.error(
            "wsgi_analytics: %d counts of %d members dropped, e.g. %s %r: %s",
            lost,
            len(entries),
            dimension,
            member[:80],
            why,
        )

    def _due_for_trim(self, written: dict[str, int]) -> list[str]:
        """The keys to trim now, counting members written since each key's last trim (a
        member counted again is harmless: it only brings the trim forward)."""
        untrimmed, due = self._untrimmed, []
        for key, count in written.items():
            total = untrimmed.get(key, 0) + count
            untrimmed[key] = total
            if total >= self.trim_slack:
                due.append(key)
        if len(untrimmed) > _MAX_TRACKED:
            due = list(untrimmed)
        return due

    def trim_remaining(self) -> None:
        """Trim every key written since its last trim: at shutdown, so that no key stays over
        ``max_members`` because its process left before the slack filled up."""
        if self._pairs_untrimmed:
            pipe = self.client.pipeline(transaction=False)
            for key in self._pairs_untrimmed:
                pipe.zremrangebyrank(key, 0, -self.pair_limit - 1)
            for reply in pipe.execute(raise_on_error=False):
                if isinstance(reply, redis.ResponseError):
                    warn_limited("command", "wsgi_analytics: Redis refused a command: %s", reply)
            self._pairs_untrimmed.clear()
        if not self._untrimmed:
            return
        pipe = self.client.pipeline(transaction=False)
        sent = [self._trim(pipe, key) for key in self._untrimmed]
        for (_, key), reply in zip(sent, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(reply, redis.ResponseError):
                warn_limited("command", "wsgi_analytics: Redis refused a command: %s", reply)
            elif key in self._route_days:
                self._trimmed_routes.append((self._route_days.pop(key), reply))
        self._untrimmed.clear()
        self._delete_sketches()

    def _trim(self, pipe: Any, key: str) -> tuple[str, str]:
        """Queue the trim of ``key`` to its top ``max_members``: a scanner's million random URLs
        cannot grow a key. A ``routes`` key's trim returns the routes it removed."""
        if key in self._route_days:
            pipe.execute_command("EVAL", TRIM_ROUTES, 1, key, -self.max_members - 1)
        else:
            pipe.zremrangebyrank(key, 0, -self.max_members - 1)
        return ("trim", key)

    def _delete_sketches(self) -> None:
        """Delete the response-time sketches of the routes trims removed (`TRIM_ROUTES`), each
        of the day it was trimmed from. Best effort: a sketch left behind by a failure (or
        written again by another worker meanwhile) expires with its day, and an all-time one
        goes at the route's next trim."""
        if not self._trimmed_routes:
            return
        trimmed, self._trimmed_routes = self._trimmed_routes, []
        pipe = self.client.pipeline(transaction=False)
        deletes = 0
        for day, gone in trimmed:
            for member in gone if isinstance(gone, list) else ():
                route = member.decode("utf-8", "replace") if isinstance(member, bytes) else member
                pipe.delete(self.keys.sketch(str(route), day))
                deletes += 1
        if not deletes:
            return
        try:
            replies = pipe.execute(raise_on_error=False)
        except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
            warn_limited("command", "wsgi_analytics: trimmed routes' sketches kept: %s", error)
            return
        for reply in replies:
            if isinstance(reply, redis.ResponseError):
                warn_limited("command", "wsgi_analytics: Redis refused a command: %s", reply)

    def _write_rest(self, pending: Pending, *, pairs: bool) -> None:
        """One pipeline: a chunk of the drill-down pairs (each on its day key and its all-time
        key), the days' visitors and the live minutes. Raises when Redis is away or refuses
        for now (`not_now`), keeping them all: the pairs' batch markers make a retry apply
        them once, the rest is idempotent."""
        views = pending.pairs
        pipe = Pipeline(self.client)  # packed in steps, with pauses
        sent: list[tuple[str, Any]] = []
        groups: dict[pairs_module.Group, dict[pairs_module.Target, dict[str, int]]] = {}
        if pairs and len(views):
            if not views.flying:
                views.batch = secrets.token_hex(8)  # a new chunk: a new batch
            groups = pairs_module.expand(views.take(_VIEWS_CHUNK).items(), self.keys)
            sent += self._queue_pairs(pipe, groups, views.batch)
            pipeline.pause()
        hashes = _Hashes(self._salt)  # a visitor of the day and of a live minute: hashed once
        sent += self._queue_visitors(pipe, pending.visitors, hashes)
        sent += self._queue_live(pipe, pending.live, hashes)
        try:
            replies = pipe.execute(raise_on_error=False) if sent else []
        except (UnicodeError, redis.DataError) as error:
            # Members are repaired where text comes in; should one still not be sendable, it
            # would fail this pipeline forever: give up the pairs chunk, keep the visitors.
            lost = sum(views.flying.values())
            logger.error(
                "wsgi_analytics: drill-down pairs of %d page views dropped: %s", lost, error
            )
            views.dropped += lost
            views.landed()
            return
        retry: BaseException | None = None
        for step, (reply, (kind, what)) in enumerate(zip(replies, sent, strict=True), 1):
            if not step % STEP_ENTRIES:
                pipeline.pause()
            if not isinstance(reply, redis.ResponseError):
                if kind == "pairs trim":
                    self._pairs_untrimmed.pop(what, None)
                elif kind == "expire":
                    self._expiring.add(what)
                continue
            if not_now(reply):
                retry = retry or reply
            elif kind == "pairs":
                warn_limited("refused", "wsgi_analytics: Redis refused drill-down pairs: %s", reply)
            else:
                warn_limited("command", "wsgi_analytics: Redis refused a command: %s", reply)
        if retry is not None:
            raise retry
        # Freeing what was written is work too (a chunk's views, its members and the day's
        # visitors are tens of thousands of objects): in pieces, each followed by a pause.
        pipeline.pause()
        if views.flying:
            views.landed()
            pipeline.pause()
        pending.written_visitors()
        pipeline.pause()
        pending.written_live()
        del groups, hashes
        pipeline.pause()

    def _queue_pairs(
        self,
        pipe: Any,
        groups: dict[pairs_module.Group, dict[pairs_module.Target, dict[str, int]]],
        batch: str,
    ) -> list[tuple[str, Any]]:
        """Queue the pair increments of ``groups`` (`pairs.expand`), their trims and the day
        keys' expiries; returns what each command stands for (`_write_rest` reads the
        replies)."""
        keys = self.keys
        sent: list[tuple[str, Any]] = []
        written: dict[str, int] = {}
        days: dict[str, int] = {}
        for (dimension, day), targets in groups.items():
            marker = keys.batch(f"pairs.{dimension}", batch, day)
            for call_keys, args, counts in pairs_module.increment_args(targets, marker):
                pipeline.pause()  # each call's members were grouped and joined: thousands
                pipe.execute_command(
                    "EVAL",
                    pairs_module.INCREMENT_PAIRS,
                    len(call_keys),
                    *call_keys,
                    DEDUP_SECONDS,
                    *args,
                )
                sent.append(("pairs", None))
                for key, count in counts.items():
                    written[key] = written.get(key, 0) + count
            for day_key, _ in targets:
                days[day_key] = day
        # Trimmed like any key, each to its own (smaller) size.
        untrimmed, slack = self._pairs_untrimmed, max(1, self.pair_limit // 8)
        for key, count in written.items():
            total = untrimmed[key] = untrimmed.get(key, 0) + count
            if total >= slack:
                pipe.zremrangebyrank(key, 0, -self.pair_limit - 1)
                sent.append(("pairs trim", key))
        sent += [("expire", key) for key in self._expire(pipe, days)]
        return sent

    def _queue_visitors(
        self, pipe: Any, visitors: dict[int, set[str]], hashes: _Hashes
    ) -> list[tuple[str, Any]]:
        """PFADD each day's visitors (PFADD and PFMERGE are idempotent: a retry sends all of
        them again)."""
        sent: list[tuple[str, Any]] = []
        for day, entries in visitors.items():
            digests = hashes.of(day, entries)
            for start in range(0, len(digests), _CHUNK):
                pipe.pfadd(self.keys.uniques(day), *digests[start : start + _CHUNK])
                sent.append(("visitors", None))
            # The all-time HyperLogLog is the union of the days': merging the day's registers
            # into it (one command, same hash slot) counts exactly what adding every visitor
            # again would, without sending them twice.
            # (Sent raw: redis-py refuses pfmerge() in a cluster pipeline, though both keys share
            # a slot and the cluster routes the command by its first key.)
            pipe.execute_command("PFMERGE", self.keys.uniques(None), self.keys.uniques(day))
            sent.append(("visitors", None))
            sent += [("expire", key) for key in self._expire(pipe, {self.keys.uniques(day): day})]
        return sent

    def _queue_live(
        self, pipe: Any, live: dict[int, set[str]], hashes: _Hashes
    ) -> list[tuple[str, Any]]:
        """PFADD each minute's visitors (the uniques' hashes, so a visitor seen in several
        minutes of a day counts once) to the minute's key, kept `LIVE_SECONDS`."""
        sent: list[tuple[str, Any]] = []
        now = time.time()
        for minute, entries in live.items():
            expires = minute * 60 + LIVE_SECONDS
            if expires <= now or not entries:
                continue  # too old to be read (a flush after an outage): not worth a key
            digests = hashes.of(self.clock.day(minute * 60), entries)
            key = self.keys.live(minute)
            for start in range(0, len(digests), _CHUNK):
                pipe.pfadd(key, *digests[start : start + _CHUNK])
                sent.append(("live", None))
            pipe.expireat(key, expires)
            sent.append(("live", None))
        return sent

    def _salt(self, day: int) -> bytes:
        """The day's salt, shared by every worker through Redis (the first to ask creates it).

        Read again at every flush that has visitors (one small round trip, off the request
        path): a worker that kept its salt while Redis restarted empty, and one started since
        with a new salt, would hash each visitor twice, counting them twice. The salt this
        worker knows is what it proposes (``SET NX``), so whoever asks first after a restart
        puts theirs back and the others adopt it.
        """
        key = self.keys.salt(day)
        known = self._stored_salts.get(day)
        pipe = self.client.pipeline(transaction=False)
        # Kept one hour past the day's end for late flushes, then gone: the day's visitor
        # hashes can no longer be linked to an address. A flush later still (after a long
        # outage) gets a salt for one more hour: an expiry in the past would delete the key as
        # it is set, and the day's visitors could never be written.
        proposal = known or secrets.token_hex(16).encode()
        expires = max(self.clock.day_end(day) + 3600, int(time.time()) + 3600)
        pipe.set(key, proposal, nx=True, exat=expires)
        pipe.get(key)
        created, stored = pipe.execute(raise_on_error=False)
        if isinstance(stored, str):  # a client passed in may decode responses
            stored = stored.encode()
        if not isinstance(stored, bytes):
            # No salt, and Redis refused to store one (OOM, READONLY...): try later.
            for reply in (created, stored):
                if isinstance(reply, Exception):
                    raise reply
            raise redis.ResponseError(f"TRYAGAIN the salt {key} vanished")
        salt = self._salts.get(day)
        if salt is None or stored != known:
            salt = hashlib.blake2b(stored, digest_size=32).digest()
            self._stored_salts = {d: v for d, v in self._stored_salts.items() if d >= day - 1}
            self._salts = {d: v for d, v in self._salts.items() if d >= day - 1}
            self._stored_salts[day] = stored
            self._salts[day] = salt
        return salt

    def _expire(self, pipe: Any, days: dict[str, int]) -> list[str]:
        """Queue each day key's expiry once per process (``EXPIREAT`` is idempotent, so a
        worker that repeats it after a restart does no harm); returns the keys queued."""
        now = time.monotonic()
        if len(self._expiring) > 10_000 or now - self._expiring_since >= _EXPIRY_REFRESH:
            self._expiring.clear()
            self._expiring_since = now
        queued = [key for key in days if key not in self._expiring]
        for number, key in enumerate(queued, 1):
            if not number % STEP_ENTRIES:
                pipeline.pause()  # the first flush of a site of many routes: thousands
            pipe.expireat(key, self.clock.day_end(days[key]) + self.retention_days * 86400)
        return queued


class _Hashes:
    """The visitors' hashes of one write, with each day's salt (read once a write)."""

    def __init__(self, salt: Callable[[int], bytes]) -> None:
        self._salt = salt
        self._keyed: dict[int, Any] = {}
        self._known: dict[int, dict[str, bytes]] = {}

    def of(self, day: int, entries: set[str]) -> list[bytes]:
        known = self._known.setdefault(day, {})
        keyed = self._keyed.get(day)
        out = []
        for index, entry in enumerate(entries):
            if index and not index % STEP_ENTRIES:
                pipeline.pause()
            digest = known.get(entry)
            if digest is None:
                if keyed is None:
                    # Copying a keyed hash is cheaper than keying a new one (0.3 vs 0.5 µs a
                    # visitor); the digests are the same.
                    keyed = self._keyed[day] = hashlib.blake2b(key=self._salt(day), digest_size=8)
                    pipeline.pause()  # the salt's round trip
                visitor = keyed.copy()
                # Only hashed, never stored: any stable encoding will do, and "surrogatepass"
                # cannot fail on a lone surrogate a server left in the user agent.
                visitor.update(entry.encode("utf-8", "surrogatepass"))
                digest = known[entry] = visitor.digest()
            out.append(digest)
        return out


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
