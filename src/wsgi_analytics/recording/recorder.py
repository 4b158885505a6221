"""The recorder: counts in memory, written to Redis in pipelined batches by a background thread.

The request path does one ``deque.append`` (atomic under the GIL, no lock, no I/O). The flusher
thread turns queued requests into per-member counts (user-agent parsing happens there, off the
request), merges them into the pending counts and writes them with one pipeline of ``ZINCRBY``
per flush. Pending counts are keyed by (dimension, day, member), so while Redis is down they grow
with the number of distinct members, not with the number of requests, up to ``max_pending``.
"""

from __future__ import annotations

import atexit
import marshal
import os
import signal
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from types import FrameType
from typing import Any, Literal

import redis

from .. import connection
from .._log import logger, warn_limited
from ..keys import DIMENSIONS, Keys, check_dimension
from ..request.agents import Agent, default_classifier
from ..request.clock import SiteClock
from ..request.facts import Facts, valid_text
from ..request.geo import Countries, header_environ_key, header_scope_key, open_countries
from . import pipeline
from .offload import CHUNK, Gone, Offload
from .pending import BLOB_BYTES, Count, Pending, count_bytes, item_bytes
from .rules import MAX_MEMBER, Setup
from .writer import Writer, not_now

__all__ = ["Recorder"]

_MAX_BACKOFF = 30.0
# What `track` refuses: the rules' own dimensions (the layout's own keys are refused by
# `check_dimension` already).
_BUILT_IN = frozenset(DIMENSIONS)
# While counts are held (Redis down or refusing) or dropped, one line says so this often, with
# the numbers: the rate-limited warnings alone would show only the first minute.
_SUMMARY_EVERY = 60.0
# The queue of finished requests, in bytes (each request is queued as a `pending.pack` string,
# ~250 bytes for an ordinary one): the 200,000 requests of `_max_queue` come first unless the
# requests carry kilobytes of headers each.
MAX_QUEUE_BYTES = 48 << 20
# The drill-down pairs are written this often by the background flusher, not every flush: a
# page view has ~30 pairs, and the longer they are aggregated the more of them repeat (the
# benchmark's stream: 8 ZINCRBY a page view for 1,000 page views, 3 for 10,000, 0.8 for
# 100,000). Filtered views lag the counts by as much; `flush()` and `close()` write them all.
PAIRS_EVERY = 15.0
_live: weakref.WeakSet[Recorder] = weakref.WeakSet()
_dumps = marshal.dumps
# The flusher's steps (see `Recorder._drain`): about this much CPU each, then a pause
# (`pipeline.pause`) that lets a waiting thread take the interpreter. Cut at 1.5 times that
# whatever the requests cost, so that a first sight or a young collection on top still ends
# a step within a millisecond.
STEP_SECONDS = 0.0003
_MIN_STEP, _MAX_STEP = 32, 4096


class Recorder:
    """Aggregates counts per process and flushes them to Redis.

    ``redis_url`` or ``client`` choose the server (a client passed in is never closed here).
    ``retention_days`` bounds how long per-day keys live; ``max_members`` trims each sorted set to
    its top members; ``max_pending`` bounds the distinct members held while Redis is unreachable
    (beyond it new members are dropped, counted in `dropped` and logged).

    ``timezone``: the IANA zone days and hours are counted in. The first recorder to write under
    a prefix stores it there (``{prefix:meta}``); a recorder configured with another zone for
    that prefix logs an error and counts in the stored one, so that every worker and reader
    agrees on what a day is. ``geoip``: where countries come from (``None``: the bundled
    ``iptocc`` registry data; a ``.mmdb`` path; ``False``: no countries). ``country_header``: a
    header a trusted CDN or proxy sets (``"CF-IPCountry"``), used instead of any lookup and never
    read unless set.

    ``offload=True``: the flusher's work (agents, rules, aggregation, writes: ~25 µs a request)
    runs in a helper process per recorder (`wsgi_analytics.recording.offload`), so that the
    worker's interpreter only ships its queue (~1 µs a request) and is never held by a flush;
    worth it wherever a spare core is (one uvicorn worker a core or fewer). Needs ``redis_url``
    (not ``client``) and the default classifier. Should the helper die, what it held is counted
    in `dropped` and logged, and the recorder flushes in process from then on.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        client: connection.Client | None = None,
        prefix: str = "analytics",
        flush_interval: float = 1.0,
        retention_days: int = 90,
        max_members: int = 10_000,
        max_pending: int = 100_000,
        timezone: str = "UTC",
        geoip: str | os.PathLike[str] | Literal[False] | None = None,
        country_header: str | None = None,
        classifier: Callable[[str, str, str], Agent] | None = None,
        offload: bool = False,
    ) -> None:
        if offload and (client is not None or classifier is not None):
            raise ValueError(
                "offload=True needs redis_url (a client cannot be handed to another process) "
                "and the default classifier"
            )
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        if max_members < 1 or max_pending < 1:
            raise ValueError("max_members and max_pending must be positive")
        clock = SiteClock(timezone)
        # The adapters read the header into `Facts.country` by these keys (None: not at all).
        self.country_header = country_header
        self.country_environ_key: str | None = None
        self.country_scope_key: bytes | None = None
        self._countries: Countries | None = None
        if country_header is not None:
            self.country_environ_key = header_environ_key(country_header)
            self.country_scope_key = header_scope_key(country_header)
        else:
            self._countries = open_countries(geoip)
        self._setup = Setup(
            clock,
            self._countries.lookup if self._countries is not None else None,
            country_header is not None,
        )
        self._zone_settled = False  # whether the zone stored under the prefix has been read
        self._pairs_written_at = time.monotonic()
        self.keys = Keys(prefix)
        self.prefix = prefix
        self.flush_interval = flush_interval
        self.retention_days = retention_days
        self.max_members = max_members
        self.max_pending = max_pending
        self._owns_client = client is None
        self.client: connection.Client = (
            client if client is not None else connection.connect(redis_url)
        )
        self._classify = classifier or default_classifier()
        # What the helper process is told (None: the flusher works in process).
        self._offload_config: dict[str, Any] | None = None
        if offload:
            self._offload_config = {
                "redis_url": connection.resolve_url(redis_url),
                "options": {
                    "prefix": prefix,
                    "flush_interval": flush_interval,
                    "retention_days": retention_days,
                    "max_members": max_members,
                    "max_pending": max_pending,
                    "timezone": timezone,
                    "geoip": os.fspath(geoip) if geoip else geoip,
                    "country_header": country_header,
                },
            }
        # A burst larger than this wakes the flusher early; a queue this deep (or this big:
        # MAX_QUEUE_BYTES) means the flusher is starved or stuck on a stalled Redis, and
        # requests beyond it are dropped and counted rather than held without bound.
        self._flush_at = 20_000
        # Requests drained per write: each adds at most twelve distinct entries of its own
        # (path, referrer, source, channel, five campaign tags, country, route, its duration
        # bucket), so a slice cannot overfill max_pending while Redis answers.
        self._slice = max(1, max_pending // 14)
        self._max_queue = 200_000
        self._step = 64  # queued items drained per step, resized from each step's CPU time
        self._closed = False
        self._refused = False  # whether a count after close() was refused (said once)
        self._reset()
        _live.add(self)
        atexit.register(_close_at_exit, weakref.ref(self))
        _exit_on_sigterm()

    def _reset(self) -> None:
        """Fresh buffers and no flusher: at construction and in a forked child."""
        offload: Offload | None = getattr(self, "_offload", None)
        if offload is not None:
            offload.abandon()  # the parent's helper: this process gets its own
        self._offload: Offload | None = None
        # Two queues, each of one shape: finished requests, and `track` counts.
        self._queue: deque[bytes] = deque()  # `pending.pack` strings
        self._counts: deque[Count] = deque()
        self._pending = Pending(self.max_pending, setup=self._setup)
        self._writer = Writer(
            self.client,
            self.keys,
            retention_days=self.retention_days,
            max_members=self.max_members,
            clock=self._setup.clock,
        )
        self._flush_lock = threading.Lock()
        self._start_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._dropped = 0
        self._received = 0  # requests and counts taken in from a worker (as its helper)
        self.failures = 0
        # Bytes queued (added by request threads) and drained (by the flusher, copied from
        # `Pending.drained_bytes`): one writer each, so their difference is the queue's size.
        self._queued_bytes = 0
        self._drained_bytes = 0
        self._held_since: float | None = None
        self._reported_at = time.monotonic()
        self._reported_dropped = 0

    # -- the request path ------------------------------------------------------------------

    def record(
        self,
        facts: Facts,
        status: int,
        *,
        throttled: bool = False,
        trusted_proxies: int = 0,
        content_type: str | None = None,
        route: str | None = None,
        duration: float = 0.0,
    ) -> None:
        """Queue one finished request. Never blocks, never raises on Redis trouble.

        ``content_type``: the response's (None when it sent none: then the path's extension
        decides whether it is a document); ``route``: the route template the app or its
        framework matched (None: the path's fallback template); ``duration``: its response
        time in seconds.

        ``trusted_proxies``: how many proxies in front of the app append to X-Forwarded-For
        (see `wsgi_analytics.request.identity`), an ``int``; the client is found from the
        facts when the request is drained.
        """
        if self._closed:
            self._refuse()
            return
        # Who the visitor is (the peer, or an address trusted proxies vouch for) is found
        # when the request is drained (`pending.resolve_client`), from the facts queued with
        # it: the same answer, off the request path (~0.15 µs), once per peer in a batch.
        # Bytes, not a tuple: invisible to the garbage collector, and exactly their size
        # (see `pending.pack`, which builds the same).
        head = (time.time(), status, throttled, trusted_proxies, content_type, route, duration)
        item = _dumps(head + facts)  # concatenated: ~0.1 µs less than unpacking the facts
        queue = self._queue
        depth = len(queue)
        queued = self._queued_bytes + len(item) + BLOB_BYTES
        if depth >= self._flush_at or queued - self._drained_bytes > MAX_QUEUE_BYTES:
            if depth >= self._max_queue or queued - self._drained_bytes > MAX_QUEUE_BYTES:
                self._dropped += 1
                warn_limited(
                    "queue",
                    "wsgi_analytics: flusher is behind (%d requests, ~%.0f MB queued); "
                    "dropping requests",
                    depth,
                    (queued - self._drained_bytes) / 1e6,
                )
                self._wake.set()
                return
            self._wake.set()
        # Counted before it is queued, so the flusher never drains what is not counted yet.
        self._queued_bytes = queued
        queue.append(item)
        if self._thread is None:
            self._start()

    def track(self, dimension: str, member: str, amount: int = 1) -> None:
        """Count a custom event (a sign-up, a download...) in ``dimension``, read with `Stats`.

        ``dimension`` is a name of your own: the built-in ones (`keys.DIMENSIONS`) are counted
        by the rules alone, and a ``track("paths", ...)`` would be a fake page view."""
        check_dimension(dimension)
        if dimension in _BUILT_IN:
            raise ValueError(
                f"{dimension!r} is a built-in dimension: track into a name of your own"
            )
        if not isinstance(amount, int) or amount < 1:
            raise ValueError("amount must be a positive integer")
        if self._closed:
            self._refuse(amount)
            return
        # A lone surrogate (Flask's get_json() returns "\ud800" as is) cannot be sent to Redis.
        member = valid_text(str(member)[:MAX_MEMBER])
        self._queue_count(Count(time.time(), dimension, member, amount))

    def _queue_count(self, count: Count) -> None:
        self._queued_bytes += count_bytes(count)
        self._counts.append(count)
        if self._thread is None:
            self._start()

    def _refuse(self, amount: int = 1) -> None:
        """Counts that arrive after `close` could never be written: dropped, and said once."""
        self._dropped += amount
        if not self._refused:
            self._refused = True
            logger.warning(
                "wsgi_analytics: recorder for prefix %r is closed; later counts are dropped",
                self.prefix,
            )

    # -- flushing ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Write everything recorded so far; raises the Redis error if that fails.

        Pending counts stay pending on failure and are retried by the next flush.
        """
        offload = self._offload
        if offload is not None:
            with self._flush_lock:
                try:
                    self._ship(offload)
                    offload.flush(timeout=max(30.0, self.flush_interval * 4))
                    return
                except Gone:
                    pass  # counted and logged by `_helper_gone`; flushed here instead
        self._flush(pairs=True)

    # -- offloading (see `wsgi_analytics.recording.offload`) ------------------------------------

    def _ship(self, offload: Offload) -> None:
        """Hand every queued request and count to the helper process, in chunks with pauses.
        Called with the flush lock held."""
        queue, popleft = self._queue, self._queue.popleft
        # The queue's bytes: what was counted in before this point is all the helper's once
        # the queue is empty (a request counted and not yet appended, an instant's worth, is
        # left to the next round's count: the estimate errs by a request or two at most).
        counted = self._queued_bytes
        pipeline.hurry(len(queue) >= self._flush_at // 2)
        while queue:
            chunk = [popleft() for _ in range(min(len(queue), CHUNK))]
            offload.ship("requests", chunk)
            pipeline.pause()
        counts = self._counts
        if counts:
            offload.ship("counts", [tuple(counts.popleft()) for _ in range(len(counts))])
        self._drained_bytes = max(self._drained_bytes, counted)

    def _start_offload(self) -> None:
        config = self._offload_config
        if config is None or self._offload is not None:
            return
        try:
            self._offload = Offload(config, self._helper_gone)
        except Exception as error:
            self._offload_config = None
            logger.error(
                "wsgi_analytics: could not start the offload process (%s); flushing in process",
                error,
            )

    def _helper_gone(self, offload: Offload) -> None:
        """The helper died (or closed before it could say so): what it held is lost."""
        if self._stopping or offload is not self._offload:
            return
        status = offload.status
        in_pipe = max(0, offload.shipped - status.get("received", 0))
        lost = in_pipe + status.get("queued", 0) + status.get("pending", 0)
        self._dropped += lost
        self._offload = None
        self._offload_config = None
        logger.error(
            "wsgi_analytics: the offload process exited (status %s); %d counts it held are "
            "lost; flushing in process from now on",
            offload.process.poll(),
            lost,
        )

    def _take_in(self, items: list[bytes]) -> None:
        """The helper's side of `_ship`: queue requests a worker recorded, within the same
        bounds as `record` (a helper that cannot keep up must not grow without end: the
        worker's bound only holds what it has not shipped yet)."""
        self._received += len(items)
        room = self._max_queue - len(self._queue)
        size = sum(map(item_bytes, items))
        if room < len(items) or self._queued_bytes + size - self._drained_bytes > MAX_QUEUE_BYTES:
            # The oldest that fit are kept, the rest given up whole (a chunk is 512 at most).
            budget = MAX_QUEUE_BYTES - (self._queued_bytes - self._drained_bytes)
            keep = 0
            for item in items[: max(0, room)]:
                budget -= item_bytes(item)
                if budget < 0:
                    break
                keep += 1
            self._dropped += len(items) - keep
            warn_limited(
                "queue",
                "wsgi_analytics: the offload process is behind (%d requests queued); "
                "dropping requests",
                len(self._queue),
            )
            items = items[:keep]
            size = sum(map(item_bytes, items))
            self._wake.set()
        self._queued_bytes += size
        self._queue.extend(items)
        if len(self._queue) >= self._flush_at:
            self._wake.set()
        if self._thread is None:
            self._start()

    def _take_in_count(self, count: Count) -> None:
        """The helper's side of `_ship` for a custom count."""
        self._received += 1
        self._queue_count(count)

    def _offload_status(self) -> dict[str, int]:
        return {
            "received": self._received,
            "queued": self.queued,
            "pending": self.pending,
            "pending_entries": self.pending_entries,
            "pending_visitors": self.pending_visitors,
            "dropped": self.dropped,
            "failures": self.failures,
        }

    def _flush(self, *, pairs: bool) -> None:
        """`flush`; ``pairs``: the drill-down pairs too (the background flusher writes them
        every `PAIRS_EVERY` seconds, or sooner when many are held)."""
        with self._flush_lock:
            # In slices, each written before the next is drained: a burst of more distinct
            # members than max_pending is written whole while Redis answers. When it does not,
            # the rest is still aggregated (memory grows with members, not requests) and the
            # error raised once the queue is empty.
            failure: Exception | None = None
            left = len(self._queue)  # what was recorded so far; later requests wait their turn
            # Behind (half the depth that wakes the flusher early, a process at more than
            # ~10,000 requests a second): no pauses between the steps (`pipeline.hurry`).
            pipeline.hurry(left >= self._flush_at // 2)
            # At the first write: a recorder that never counts leaves no trace in Redis.
            if not self._zone_settled and (left or self._counts):
                try:
                    self._settle_zone()
                except Exception as error:
                    if not not_now(error):
                        raise
                    # Counted in the configured zone until Redis answers (the usual case is
                    # the same zone); the writes below fail the same way and are retried.
                    failure = error
            pending = self._pending
            pending.drain_counts(self._counts)
            while True:
                part = min(left, self._slice)
                self._drain(part)
                self._drained_bytes = pending.drained_bytes
                if self._queued_bytes < self._drained_bytes:
                    # Request threads racing on `+=` can lose an update (rarely): never let
                    # the estimate drift below what was drained.
                    self._queued_bytes = self._drained_bytes
                left -= part
                if failure is None:
                    try:
                        self._writer.write(pending, pairs=pairs or pending.pairs.full())
                    except Exception as error:
                        if not not_now(error):
                            raise
                        failure = error
                if left <= 0:
                    break
            if failure is not None:
                raise failure
            if pairs:
                self._pairs_written_at = time.monotonic()

    def _drain(self, count: int) -> None:
        """Drain ``count`` queued items in steps of about `STEP_SECONDS` of CPU each, with a
        short sleep between steps.

        Why: the flusher shares the interpreter with the request threads (or the event loop).
        Draining a second's worth of requests in one go held the GIL for 10-20 ms, and every
        request arriving meanwhile waited that long (CPython only forces a switch after 5 ms,
        and then hands the GIL straight back). A sleep really gives it away; the steps are
        sized from the last one's cost, so they stay short whatever the request mix.
        """
        pending, queue, classify = self._pending, self._queue, self._classify
        clock = time.thread_time  # CPU time: a step preempted by a request is not shortened
        step = self._step
        while count > 0:
            size = min(count, step)
            began = clock()
            # sized to take STEP_SECONDS; cut at 1.5 times that whatever the requests cost
            taken = pending.drain(
                queue, classify, size, deadline=time.perf_counter() + 1.5 * STEP_SECONDS
            )
            spent = clock() - began
            count -= taken
            if not taken:
                break  # the queue is empty
            if spent > 0:
                step = max(_MIN_STEP, min(_MAX_STEP, int(taken * STEP_SECONDS / spent)))
            # Behind (a queue deep enough to wake the flusher early), throughput comes first:
            # each pause can cost the flusher a GIL switch interval when requests keep the
            # interpreter busy.
            if count > 0 and 0 < len(queue) < self._flush_at:
                pipeline.pause()
        self._step = step

    @property
    def timezone(self) -> str:
        """The zone days and hours are counted in: the one stored under the prefix once it has
        been read, else the configured one."""
        return self._setup.clock.zone

    def _settle_zone(self) -> None:
        """Store the configured zone under the prefix unless one is there, and count in the
        stored one."""
        configured = self._setup.clock
        stored = self._writer.settle_zone(configured.zone)
        self._zone_settled = True
        if stored == configured.zone:
            return
        try:
            clock = SiteClock(stored)
        except ValueError:
            logger.error(
                "wsgi_analytics: prefix %r stores the unknown time zone %r; counting in %r",
                self.prefix,
                stored,
                configured.zone,
            )
            return
        logger.error(
            "wsgi_analytics: prefix %r counts days in %r, not in the configured timezone=%r; "
            "using %r (to change it: HSET %s timezone <zone>, then restart every worker)",
            self.prefix,
            stored,
            configured.zone,
            stored,
            self.keys.meta(),
        )
        self._setup = self._setup._replace(clock=clock)
        self._pending.setup = self._setup
        self._writer.clock = clock

    def close(self) -> None:
        """Flush, stop the background flusher and close the client if this recorder made it."""
        if self._closed:
            return
        self._closed = True
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.flush_interval + 10.0)
        offload = self._offload
        if offload is not None:
            try:
                with self._flush_lock:
                    self._ship(offload)
                if offload.close(timeout=self.flush_interval + 20.0):
                    self._offload = None
            except Gone:
                pass
            if self._offload is None:
                # written by the helper (its own logs say what it could not write)
                self._shut()
                return
            self._offload = None
            logger.error("wsgi_analytics: the offload process failed at shutdown")
        try:
            try:
                self.flush()
            except Exception as error:  # a shutdown must not fail because Redis did
                logger.error(
                    "wsgi_analytics: final flush failed, %d counts and %d visitors lost: %s",
                    self._pending.total(),
                    self.pending_visitors,
                    error,
                )
                return
            try:
                self._writer.trim_remaining()
            except Exception as error:
                # Nothing is lost: a later flush of any process trims the keys.
                logger.info("wsgi_analytics: keys left untrimmed at shutdown: %s", error)
        finally:
            self._shut()

    def _shut(self) -> None:
        if self._countries is not None:
            self._countries.close()
        _live.discard(self)
        if self._owns_client:
            self.client.close()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self._stopping:
                return
            thread = threading.Thread(
                target=self._run, name=f"wsgi_analytics-flush-{os.getpid()}", daemon=True
            )
            self._thread = thread
            thread.start()

    def _run(self) -> None:
        self._start_offload()
        delay = self.flush_interval
        while not self._stopping:
            self._wake.wait(delay)
            self._wake.clear()
            if self._stopping:
                return
            offload = self._offload
            if offload is not None:
                try:
                    with self._flush_lock:
                        self._ship(offload)
                    continue
                except Gone:
                    pass  # counted and logged by `_helper_gone`; what is left flushes here
            failure: Exception | None = None
            try:
                now = time.monotonic()
                self._flush(pairs=now - self._pairs_written_at >= PAIRS_EVERY)
            except Exception as error:
                if not not_now(error):
                    logger.exception("wsgi_analytics: flush failed")
                    delay = self.flush_interval
                    continue
                failure = error
                self.failures += 1
                delay = min(self.flush_interval * 2**self.failures, _MAX_BACKOFF)
            else:
                self.failures = 0
                delay = self.flush_interval
            self._summarise(failure, delay)

    def _summarise(self, failure: Exception | None, delay: float) -> None:
        """Say, at once and then once a minute, that counts are held or dropped, with numbers."""
        now = time.monotonic()
        dropped = self.dropped
        since = dropped - self._reported_dropped
        if failure is None:
            if self._held_since is not None:
                logger.warning(
                    "wsgi_analytics: Redis is back after %.0f s, pending counts written "
                    "(%d counts dropped meanwhile, %d in all)",
                    now - self._held_since,
                    since,
                    dropped,
                )
                self._held_since = None
            elif since and now - self._reported_at >= _SUMMARY_EVERY:
                logger.warning(
                    "wsgi_analytics: %d counts dropped in the last %.0f s (%d in all): the "
                    "queue or the pending buffer was full, or Redis refused them",
                    since,
                    now - self._reported_at,
                    dropped,
                )
            else:
                return
        else:
            if self._held_since is None:
                self._held_since = now
            elif now - self._reported_at < _SUMMARY_EVERY:
                return
            pending = self._pending
            logger.warning(
                "wsgi_analytics: Redis %s for %.0f s (%s: %s); holding %d counts of %d "
                "members and %d visitors (~%.1f MB), retry in %.0f s; %d counts dropped "
                "since the last report, %d in all",
                "refusing writes" if isinstance(failure, redis.ResponseError) else "unreachable",
                now - self._held_since,
                type(failure).__name__,
                failure,
                pending.total(),
                len(pending),
                sum(len(day) for day in pending.visitors.values()),
                (pending.bytes + pending.visitor_bytes) / 1e6,
                delay,
                since,
                dropped,
            )
        self._reported_at = now
        self._reported_dropped = dropped

    @property
    def pending(self) -> int:
        """Counts aggregated and not yet written (while Redis is down or refusing, say)."""
        return self._pending.total() + self._helper("pending")

    def _helper(self, name: str) -> int:
        """A figure of the helper process, as it last reported it (0 when not offloading)."""
        offload = self._offload
        return offload.status.get(name, 0) if offload is not None else 0

    @property
    def pending_entries(self) -> int:
        """Distinct entries (dimension, day, member) counted but not yet in Redis: what
        ``max_pending`` bounds. Requests still queued for the flusher are not in it yet."""
        return len(self._pending) + self._helper("pending_entries")

    @property
    def pending_visitors(self) -> int:
        """Distinct visitors counted but not yet in Redis."""
        return sum(len(day) for day in self._pending.visitors.values()) + self._helper(
            "pending_visitors"
        )

    @property
    def queued_bytes(self) -> int:
        """The estimated memory of what is queued (bounded by ``MAX_QUEUE_BYTES``)."""
        return self._queued_bytes - self._drained_bytes

    @property
    def queued(self) -> int:
        """Requests and custom counts recorded but not yet taken in by the flusher."""
        return len(self._queue) + len(self._counts) + self._helper("queued")

    @property
    def dropped(self) -> int:
        """Counts dropped because the queue or the pending buffer was full, because Redis
        refused them for good, or because they arrived after `close`."""
        return self._dropped + self._pending.dropped + self._helper("dropped")

    def __repr__(self) -> str:
        return f"<Recorder prefix={self.prefix!r} pending={self.pending_entries}>"


def _exit_on_sigterm() -> None:
    """Make SIGTERM a normal exit, so that ``atexit`` (and the final flush) runs.

    Python's default action for SIGTERM ends the process at once, skipping ``atexit``: under
    ``flask run``, waitress or a plain ``python app.py`` a stop lost everything counted since
    the last flush. Only when SIGTERM still has that default action, and only from the main
    thread (where handlers run): a server with a handler of its own (gunicorn, uvicorn) stops
    through its own path, and its handler is never replaced.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _sigterm_exit)
    except (ValueError, OSError):  # an embedded interpreter that keeps signals to itself
        pass


def _sigterm_exit(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM (a supervisor losing patience) ends the process at once, as before.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _multiprocessing_child():
        # A multiprocessing child (a Pool's worker, made with the recorder's handler in place
        # or forked from a parent that had it) leaves through os._exit, never through atexit:
        # a normal exit gains nothing there, and raising SystemExit wherever the worker was
        # (waiting on its pool's task lock) once hung a worker at exit, and its pool with it.
        os.kill(os.getpid(), signum)
        return
    # 128 + 15: the status a shell reports for a process that SIGTERM ended.
    sys.exit(128 + signum)


def _multiprocessing_child() -> bool:
    # Not imported for this: a process that never imported multiprocessing is not its child.
    found = sys.modules.get("multiprocessing")
    parent = getattr(found, "parent_process", None)
    return parent is not None and parent() is not None


def _close_at_exit(ref: weakref.ref[Recorder]) -> None:
    recorder = ref()
    if recorder is not None:
        recorder.close()


def _after_fork_in_child() -> None:
    # The child inherits the parent's buffers and a dead flusher thread: it must neither re-send
    # the parent's counts nor wait on locks the parent's threads held at fork time.
    for recorder in list(_live):
        recorder._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
