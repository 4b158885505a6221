"""The read side: top members, totals, uniques and series over any range of days, summed in Redis.

Every read is aggregated on the server and in bounded steps (`wsgi_analytics.reading.bounded`,
`wsgi_analytics.reading.topscript`): no command and no round trip runs for long, whatever the
range and however full the day keys, and only the rows a caller asked for cross the network.
`Stats.snapshot` reads everything a page shows in one pipeline when the range's past days are
cached, and in a few more round trips when they are not.

Ranges (`wsgi_analytics.reading.ranges`): ``days=1`` is today in the site's time zone, ``days=N``
today and the N-1 days before, ``days=None`` all time; or ``start``/``end`` dates, inclusive. Days
are the site's: the zone the recorder stored under the prefix (``{prefix:meta}``), read once per
`Stats`, UTC when none is stored. A range is cut at the retention: older day keys have expired.
The retention is the one given to `Stats`, else the one the recorders stored there (the longest
any of them uses), else 90 days.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from types import TracebackType
from typing import Any

from .. import connection
from ..keys import (
    DIMENSIONS,
    PAIR_DIMENSIONS,
    PAIR_FILTERS,
    Keys,
    check_dimension,
    pair_member,
    split_pair,
)
from ..request.clock import SiteClock
from .bounded import Call, Command, PairRead, Step, TableRead, run
from .ranges import Span, day_number, resolve
from .routes import RouteStats, route_rows
from .snapshot import Previous, Series, Snapshot, Table

__all__ = ["FILTERS", "MAX_LIMIT", "PAGE_VIEW_DIMENSIONS", "Series", "Snapshot", "Stats", "Table"]

# The dimensions a read can be filtered by (``where``), and the page-view dimensions a filtered
# read can show: the drill-down pairs the recorder counts (`wsgi_analytics.keys`).
FILTERS = PAIR_FILTERS
PAGE_VIEW_DIMENSIONS = PAIR_DIMENSIONS
_TIMELINE = "timeline"
_LIVE_MAX = 30
MAX_LIMIT = 10_000  # rows a table read returns at most
# The recorder's default ``retention_days``: what a prefix without a stored one keeps (written
# by a version that did not store it).
DEFAULT_RETENTION_DAYS = 90
# A stored retention is read again this often: a worker started since with a longer one raises
# it, and a dashboard runs for weeks. One small command, only when something is read.
_RETENTION_SECONDS = 60.0
_META_FIELDS = ("timezone", "retention_days")
# Filtered reads of past days, remembered in this process (they hardly change): how long, and
# how many (filter member, day) results at most.
_PAIRS_MEMO_SECONDS = 60.0
_PAIRS_MEMO_SIZE = 4096


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _count(value: Any) -> int:
    return 0 if value is None else int(float(_text(value)))


def _check_retention(retention_days: object) -> int:
    if isinstance(retention_days, bool) or not isinstance(retention_days, int):
        raise ValueError(f"retention_days must be a whole number, not {retention_days!r}")
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    return retention_days


def _stored_retention(value: Any) -> int:
    """The retention a recorder stored (`Writer.settle_zone`): decimal digits. Anything else
    (nothing stored, a hand-made HSET, a zero) is the default: a reader never fails on it."""
    text = "" if value is None else _text(value)
    if not text.isascii() or not text.isdigit() or len(text) > 9 or int(text) < 1:
        return DEFAULT_RETENTION_DAYS
    return int(text)


def _check_limit(limit: object) -> int:
    # Bounded: the rows of a table are read in one command, and a range sums at least `limit`
    # members a day (the recorder keeps 10,000 a day by default).
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be a non-negative integer up to {MAX_LIMIT:,}, not {limit!r}")
    return limit


def _check_where(where: object, dimension: str | None = None) -> tuple[str, str] | None:
    if where is None:
        return None
    if (
        not isinstance(where, tuple)
        or len(where) != 2
        or not all(isinstance(part, str) for part in where)
    ):
        raise ValueError(f"where must be a (dimension, member) pair of strings, not {where!r}")
    if where[0] not in FILTERS:
        raise ValueError(f"where can filter by {', '.join(FILTERS)}, not {where[0]!r}")
    if dimension is not None and dimension not in PAGE_VIEW_DIMENSIONS:
        raise ValueError(
            f"a filtered read shows page-view dimensions ({', '.join(PAGE_VIEW_DIMENSIONS)}), "
            f"not {dimension!r}"
        )
    return where[0], where[1]


class Stats:
    """Read the counts: ``Stats(redis_url)`` or ``Stats(client=...)`` (a passed client is not
    closed here); use as a context manager or call `close`.

    ``retention_days``: the recorder's; ranges reaching further back are cut there, because
    older day keys have expired. ``None`` (the default): the one the recorders stored under the
    prefix (``{prefix:meta}``, the longest any of them uses; read with the zone, and again at
    most once a minute), else 90.
    """

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        client: connection.Client | None = None,
        prefix: str = "analytics",
        retention_days: int | None = None,
    ) -> None:
        self._retention = None if retention_days is None else _check_retention(retention_days)
        self.keys = Keys(prefix)
        self.prefix = prefix
        self._owns_client = client is None
        self.client: connection.Client = (
            client if client is not None else connection.connect(redis_url)
        )
        self._clock: SiteClock | None = None
        self._stored_retention = DEFAULT_RETENTION_DAYS
        self._meta_read_at: float | None = None  # `time.monotonic`; None: never read
        self._pairs_memo: dict[tuple[str, str, int], tuple[float, dict[str, int]]] = {}
        # What each kind of table read cost last time (`bounded.TableRead`).
        self._work: dict[str, tuple[int, int]] = {}

    # -- the site's zone ------------------------------------------------------------------------

    @property
    def clock(self) -> SiteClock:
        """The site's clock: the zone stored under the prefix, read once; UTC when none is."""
        if self._clock is None:
            self._read_meta()
        assert self._clock is not None
        return self._clock

    @property
    def retention_days(self) -> int:
        """The retention ranges are cut at: the one given, else the one stored under the
        prefix, else 90 (see the class docstring)."""
        if self._retention is not None:
            return self._retention
        read_at = self._meta_read_at
        if read_at is None or time.monotonic() - read_at >= _RETENTION_SECONDS:
            self._read_meta()
        return self._stored_retention

    @retention_days.setter
    def retention_days(self, days: int | None) -> None:
        # An attribute once: setting it keeps working (None: the stored one again).
        self._retention = None if days is None else _check_retention(days)

    def _read_meta(self) -> None:
        """Read the prefix's settings: both fields in one command, whichever is wanted first.
        The zone is kept from the first read (a day must not change meaning under a reader)."""
        zone, retention = self.client.hmget(self.keys.meta(), _META_FIELDS)
        if self._clock is None:
            try:
                self._clock = SiteClock(_text(zone) if zone else "UTC")
            except ValueError:
                self._clock = SiteClock("UTC")  # a zone this Python does not know
        self._stored_retention = _stored_retention(retention)
        self._meta_read_at = time.monotonic()

    @property
    def zone(self) -> str:
        """The site's IANA time zone name."""
        return self.clock.zone

    def today(self) -> int:
        """Today's day number in the site's zone."""
        return self.clock.today()

    def span(
        self, days: int | None = 1, *, start: date | None = None, end: date | None = None
    ) -> Span:
        """The days a read with these arguments covers (`wsgi_analytics.reading.ranges`)."""
        span = resolve(days, start, end, today=self.today(), retention_days=self.retention_days)
        if span.all_time:
            span = replace(span, first=self._first_recorded(span.last))
        return span

    # -- the A2 contract ----------------------------------------------------------------------

    def top(
        self,
        dimension: str,
        limit: int = 10,
        days: int | None = 1,
        *,
        start: date | None = None,
        end: date | None = None,
        where: tuple[str, str] | None = None,
    ) -> list[tuple[str, int]]:
        """The ``limit`` members with the highest counts, highest first, ties by member.

        ``where=("sources", "Google")``: only the page views whose ``sources`` member is
        ``Google`` (filters: `FILTERS`; ``dimension`` then one of `PAGE_VIEW_DIMENSIONS`).
        """
        check_dimension(dimension)
        limit = _check_limit(limit)
        filter_ = _check_where(where, dimension)
        span = self.span(days, start=start, end=end)
        if filter_ is not None:
            return self._filtered_tables(span, [dimension], limit, filter_)[dimension].rows
        step = self._table_step(dimension, span, limit)
        run(self.client, [step])
        assert step.result is not None
        return step.result.rows

    def total(
        self,
        days: int | None = 1,
        *,
        start: date | None = None,
        end: date | None = None,
        where: tuple[str, str] | None = None,
    ) -> int:
        """Page views in the range (with ``where``: those of that member)."""
        filter_ = _check_where(where)
        span = self.span(days, start=start, end=end)
        if filter_ is not None:
            step = _FilteredDaily(self.keys, span, filter_)
            run(self.client, [step])
            return step.total
        return sum(count for _, count in self._daily(span))

    def uniques(
        self, days: int | None = 1, *, start: date | None = None, end: date | None = None
    ) -> int:
        """Unique visitors in the range (HyperLogLog: about 0.8% standard error)."""
        step = self._uniques_step(self.span(days, start=start, end=end))
        run(self.client, [step])
        return int(step.result)

    def timeline(
        self, days: int | None = 1, *, start: date | None = None, end: date | None = None
    ) -> list[tuple[str, int]]:
        """Page views per hour, oldest first, as ``("2026-12-01T14", n)``, local to the site.

        Zero-filled: every hour from the range's first midnight to its end (or the current
        hour) is present. ``days=None`` starts at the first day with a page view; hours of days
        whose hourly key has expired (older than the retention) are left out rather than shown
        as zeros.
        """
        span = self.span(days, start=start, end=end)
        if span.empty:
            return []
        steps = [
            Command("ZRANGE", self.keys.day(_TIMELINE, day), 0, -1, "WITHSCORES", cost=32)
            for day in span.day_numbers()
        ]
        per_day = self._daily_step(span)
        run(self.client, [*steps, per_day])
        return self._hours(span, [step.result for step in steps], per_day.result)

    def routes(
        self,
        limit: int = 20,
        days: int | None = 1,
        *,
        start: date | None = None,
        end: date | None = None,
    ) -> list[RouteStats]:
        """The ``limit`` routes with the most requests, most first, ties by route, as
        `RouteStats`: requests, 4xx (``client_errors``), 5xx (``errors``) and p50/p95/p99 in
        milliseconds (DDSketch, within 2 % of the exact quantiles; `wsgi_analytics.sketch`)."""
        limit = _check_limit(limit)
        return self._routes(self.span(days, start=start, end=end), limit)

    def live(self, minutes: int = 5) -> int:
        """Unique visitors with a page view in the last ``minutes`` minutes (1 to 30), across
        all workers: the minute buckets from ``minutes - 1`` minutes ago to this one."""
        if isinstance(minutes, bool) or not isinstance(minutes, int):
            raise ValueError(f"minutes must be a whole number from 1 to {_LIVE_MAX}")
        if not 1 <= minutes <= _LIVE_MAX:
            raise ValueError(f"minutes must be from 1 to {_LIVE_MAX}, not {minutes}")
        step = self._live_step(minutes)
        run(self.client, [step])
        return int(step.result)

    # -- what the views need --------------------------------------------------------------------

    def daily(
        self, days: int | None = 7, *, start: date | None = None, end: date | None = None
    ) -> list[tuple[str, int]]:
        """Page views per day, oldest first, zero-filled, as ``("2026-12-01", n)``."""
        return self._daily(self.span(days, start=start, end=end))

    def dimensions(self) -> list[str]:
        """The built-in dimensions, then any custom ones found in Redis (from `Recorder.track`)."""
        found: set[str] = set()
        for key in self.client.scan_iter(match=self.keys.dimension_pattern(), count=1000):
            name = self.keys.dimension_of(_text(key))
            if name is None:
                continue
            try:
                check_dimension(name)
            except ValueError:
                continue
            found.add(name)
        return [*DIMENSIONS, *sorted(found - set(DIMENSIONS) - {"days"})]

    def exists(self) -> bool:
        """Whether anything was ever recorded under this prefix (every request counts a status)."""
        pipe = self.client.pipeline(transaction=False)
        for name in ("statuses", "days"):
            pipe.exists(self.keys.all(name))
        return any(pipe.execute()) or len(self.dimensions()) > len(DIMENSIONS)

    def snapshot(
        self,
        days: int | None = 1,
        limit: int = 10,
        dimensions: Sequence[str] | None = None,
        *,
        start: date | None = None,
        end: date | None = None,
        where: tuple[str, str] | None = None,
        previous: bool = True,
        routes: int = 0,
        live: int | None = None,
    ) -> Snapshot:
        """Everything a page shows, read together: totals, the chart series (hourly for a
        one-day range, daily otherwise), a top-``limit`` table per dimension, and

        - ``where``: the page filtered to one member of a filter dimension: tables of the
          page-view dimensions only, ``uniques`` ``None`` (not counted per member);
        - ``previous``: page views and uniques of the period of the same length just before
          (``None`` for all time, or when that period reaches past the retention or before
          the first day anything was counted);
        - ``routes``: that many `RouteStats` rows (0: none read);
        - ``live``: visitors in the last that many minutes (``None``: not read).
        """
        limit = _check_limit(limit)
        filter_ = _check_where(where)
        names = list(DIMENSIONS if dimensions is None else dimensions)
        for name in names:
            check_dimension(name)
        if live is not None and not (
            isinstance(live, int) and not isinstance(live, bool) and 1 <= live <= _LIVE_MAX
        ):
            raise ValueError(f"live must be from 1 to {_LIVE_MAX} minutes, or None")
        span = self.span(days, start=start, end=end)
        before = None
        if previous:
            # Compared only with a period the site was counted in whole: against the days
            # before its first page view a young site would show "+7,429% vs 7".
            before = span.previous(self.today() - self.retention_days)
            if before is not None and before.first < self._first_recorded(span.last):
                before = None
        # Reads that need a reply before they can go on run first, in their own round trips.
        route_list = self._routes(span, routes) if routes else []
        filtered: dict[str, Table] = {}
        if filter_ is not None:
            shown = [name for name in names if name in PAGE_VIEW_DIMENSIONS]
            filtered = self._filtered_tables(span, shown, limit, filter_, hourly=span.single_day)

        # Everything else together: one pipeline when the range's past days are cached.
        steps: list[Step] = []
        table_steps = {}
        if filter_ is None:
            table_steps = {name: self._table_step(name, span, limit) for name in names}
            steps += table_steps.values()
            daily_step: Step = self._daily_step(span)
            unique_count = self._uniques_step(span)
            uniques_step: Command | None = unique_count
            steps += [daily_step, unique_count]
        else:
            daily_step = _FilteredDaily(self.keys, span, filter_)
            uniques_step = None
            steps.append(daily_step)
        hours_step = None
        if span.single_day and filter_ is None:
            hours_step = Command(
                "ZRANGE", self.keys.day(_TIMELINE, span.last), 0, -1, "WITHSCORES", cost=32
            )
            steps.append(hours_step)
        before_daily: Step | None = None
        before_uniques: Command | None = None
        if before is not None:
            if filter_ is None:
                before_daily, before_uniques = self._daily_step(before), self._uniques_step(before)
                steps.append(before_uniques)
            else:
                before_daily = _FilteredDaily(self.keys, before, filter_)
            steps.append(before_daily)
        live_step = self._live_step(live) if live is not None else None
        if live_step is not None:
            steps.append(live_step)
        run(self.client, steps)

        daily = self._series_of(span, daily_step)
        if filter_ is None:
            tables = {name: step.result for name, step in table_steps.items() if step.result}
            page_views = sum(count for _, count in daily)
        else:
            tables = filtered
            assert isinstance(daily_step, _FilteredDaily)
            page_views = daily_step.total
        if hours_step is not None:
            series = Series("hour", self._hours(span, [hours_step.result], [page_views]))
        elif filter_ is not None and span.single_day:
            hours = tables.pop(_TIMELINE, Table([], 0, 0))
            series = Series("hour", self._hours(span, [hours.rows], None))
        else:
            series = Series("day", daily)
        tables.pop(_TIMELINE, None)
        previous_row = None
        if before is not None and before_daily is not None:
            labels = before.labels()
            previous_row = Previous(
                labels[0],
                labels[-1],
                sum(count for _, count in self._series_of(before, before_daily)),
                None if before_uniques is None else int(before_uniques.result),
            )
        labels = span.labels()
        return Snapshot(
            prefix=self.prefix,
            days=span.days,
            first=labels[0] if labels else None,
            last=self.clock.day_label(span.last),
            generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            page_views=page_views,
            uniques=None if uniques_step is None else int(uniques_step.result),
            series=series,
            tables=tables,
            zone=self.zone,
            dates=span.dates,
            clipped=span.clipped,
            where=filter_,
            previous=previous_row,
            routes=route_list,
            live=None if live_step is None else int(live_step.result),
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _table_step(self, dimension: str, span: Span, limit: int) -> TableRead:
        keys, work = self.keys, self._work
        if span.all_time:
            return TableRead(keys, dimension, [keys.all(dimension)], limit, work=work)
        if span.empty:
            return TableRead(keys, dimension, [], limit)
        sources = [keys.day(dimension, day) for day in span.day_numbers()]
        if len(sources) == 1:
            return TableRead(keys, dimension, sources, limit, work=work)
        # The whole past days of the range go through the range cache; today is read live.
        past_last = min(span.last, self.today() - 1)
        if past_last < span.first:
            return TableRead(keys, dimension, sources, limit, work=work)
        covered = past_last - span.first + 1
        return TableRead(
            keys,
            dimension,
            sources,
            limit,
            cache=(span.first, past_last),
            covered=covered,
            work=work,
        )

    def _uniques_step(self, span: Span) -> Command:
        if span.all_time:
            return _Number("PFCOUNT", self.keys.uniques(None), cost=16)
        if span.empty:
            return _Number("PING")
        keys = [self.keys.uniques(day) for day in span.day_numbers()]
        # PFCOUNT of many keys merges their registers: ~16k units each.
        return _Number("PFCOUNT", *keys, cost=16 * len(keys))

    def _daily_step(self, span: Span) -> Command:
        labels = span.labels() or [self.clock.day_label(span.last)]
        return Command("ZMSCORE", self.keys.all("days"), *labels, cost=len(labels))

    def _daily_rows(self, span: Span, scores: Any) -> list[tuple[str, int]]:
        labels = span.labels()
        if not labels:
            return []
        return [(label, _count(score)) for label, score in zip(labels, scores, strict=True)]

    def _series_of(self, span: Span, step: Step) -> list[tuple[str, int]]:
        """Page views per day from a `_daily_step` or a `_FilteredDaily`."""
        if isinstance(step, _FilteredDaily):
            return step.rows
        assert isinstance(step, Command)
        return self._daily_rows(span, step.result)

    def _daily(self, span: Span) -> list[tuple[str, int]]:
        step = self._daily_step(span)
        run(self.client, [step])
        return self._daily_rows(span, step.result)

    def _live_step(self, minutes: int) -> Command:
        return _Number("PFCOUNT", *self.keys.live_range(minutes, _now()), cost=16 * minutes)

    def _first_recorded(self, last: int) -> int:
        """The first day with a page view (one member a day in the ``days`` key, ordered by
        count: the oldest is found among them all), or an empty range's ``last + 1``."""
        recorded = self.client.zrange(self.keys.all("days"), 0, -1)
        if not recorded:
            return last + 1
        return min(min(day_number(date.fromisoformat(_text(day))) for day in recorded), last)

    def _hours(self, span: Span, hourly: list[Any], per_day: Any) -> list[tuple[str, int]]:
        """Zero-filled local hours of the range's days, up to now; a day with page views but no
        hourly key (expired) is left out."""
        clock = self.clock
        now = time.time()
        views = per_day if per_day is not None else [None] * len(hourly)
        points: list[tuple[str, int]] = []
        for day, rows, day_views in zip(span.day_numbers(), hourly, views, strict=True):
            counts = {_text(member): int(float(score)) for member, score in rows}
            if not counts and _count(day_views) > 0:
                continue
            seen: set[str] = set()
            for t in range(clock.day_start(day), min(clock.day_end(day), int(now) + 1), 3600):
                label = clock.hour_label(t)
                if label not in seen:  # the hour repeated when clocks go back: one label
                    seen.add(label)
                    points.append((label, counts.get(label, 0)))
        return points

    # -- filtered reads (drill-down pairs) --------------------------------------------------------

    def _pair_keys(self, span: Span, filter_: tuple[str, str]) -> list[tuple[int | None, str]]:
        dimension, member = filter_
        pairs = self.keys.pairs
        if span.all_time:
            return [(None, pairs(dimension, None, member))]
        return [(day, pairs(dimension, day, member)) for day in span.day_numbers()]

    def _filtered_tables(
        self,
        span: Span,
        names: Sequence[str],
        limit: int,
        filter_: tuple[str, str],
        *,
        hourly: bool = False,
    ) -> dict[str, Table]:
        """Top tables of ``names`` among the page views of one member, and with ``hourly`` the
        ``timeline`` of one day as a table: from the pair keys of each day, a day already read
        in the last minute remembered here (past days hardly change; today is always read)."""
        dimension, member = filter_
        needle = pair_member(member, "", "")
        found: dict[str, int] = {}
        today = self.today()
        now = time.monotonic()
        reads: list[tuple[int | None, PairRead]] = []
        for day, key in self._pair_keys(span, filter_):
            memo = self._pairs_memo.get((dimension, member, day or -1))
            if memo is not None and memo[0] > now and day is not None and day < today:
                for pair, count in memo[1].items():
                    found[pair] = found.get(pair, 0) + count
                continue
            reads.append((day, PairRead([key], needle)))
        run(self.client, [read for _, read in reads])
        for day, read in reads:
            for pair, count in read.found.items():
                found[pair] = found.get(pair, 0) + count
            if day is not None and day < today:
                self._remember(dimension, member, day, read.found, now)
        per_dimension: dict[str, dict[str, int]] = {}
        own = pair_member(member, "", "").strip("\x1f")
        for pair, count in found.items():
            w, name, d = split_pair(pair)
            if w == own:
                counts = per_dimension.setdefault(name, {})
                counts[d] = counts.get(d, 0) + count
        tables: dict[str, Table] = {}
        for name in [*names, *([_TIMELINE] if hourly else [])]:
            if name == dimension:
                total_step = _FilteredDaily(self.keys, span, filter_)
                run(self.client, [total_step])
                rows = [(member, total_step.total)] if total_step.total else []
                tables[name] = Table(rows=rows[:limit], total=total_step.total, distinct=len(rows))
                continue
            counts = per_dimension.get(name, {})
            ordered = sorted(counts.items(), key=lambda row: (-row[1], row[0]))
            shown = ordered if name == _TIMELINE else ordered[:limit]  # every hour of the chart
            tables[name] = Table(rows=shown, total=sum(counts.values()), distinct=len(counts))
        return tables

    def _remember(
        self, dimension: str, member: str, day: int, found: dict[str, int], now: float
    ) -> None:
        memo = self._pairs_memo
        if len(memo) >= _PAIRS_MEMO_SIZE:
            for key in [key for key, (expires, _) in memo.items() if expires <= now]:
                del memo[key]
            if len(memo) >= _PAIRS_MEMO_SIZE:
                memo.clear()
        memo[dimension, member, day] = (now + _PAIRS_MEMO_SECONDS, dict(found))

    # -- routes -------------------------------------------------------------------------------

    def _routes(self, span: Span, limit: int) -> list[RouteStats]:

        top = self._table_step("routes", span, limit)
        run(self.client, [top])
        assert top.result is not None
        names = [route for route, _ in top.result.rows]
        if not names:
            return []
        if span.all_time:
            days: list[int | None] = [None]
        else:
            days = list(span.day_numbers())
        errors: dict[str, list[Command]] = {"routes_4xx": [], "routes_5xx": []}
        for name, steps in errors.items():
            for day in days:
                key = self.keys.all(name) if day is None else self.keys.day(name, day)
                steps.append(Command("ZMSCORE", key, *names, cost=len(names)))
        sketches: dict[str, list[Command]] = {}
        sketch_key = self.keys.sketch
        for route in names:
            # A route's sketch keys share a slot: ZUNION up to 16 days at a time (448 buckets
            # at most a key, so at most ~7,000 members a command).
            keys = [sketch_key(route, day) for day in days]
            sketches[route] = [
                Command("ZUNION", len(part), *part, "WITHSCORES", cost=448 * len(part))
                for part in (keys[j : j + 16] for j in range(0, len(keys), 16))
            ]
        run(
            self.client,
            [
                *errors["routes_4xx"],
                *errors["routes_5xx"],
                *(s for v in sketches.values() for s in v),
            ],
        )

        def summed(steps: list[Command]) -> dict[str, int]:
            totals = dict.fromkeys(names, 0)
            for step in steps:
                for route, score in zip(names, step.result, strict=True):
                    totals[route] += _count(score)
            return totals

        buckets = {
            route: [
                (_text(index), float(score))
                for step in steps
                for index, score in _pairs_of(step.result)
            ]
            for route, steps in sketches.items()
        }
        return list(
            route_rows(
                top.result.rows,
                summed(errors["routes_4xx"]),
                summed(errors["routes_5xx"]),
                buckets,
                limit,
            )
        )

    def close(self) -> None:
        """Close the client if this `Stats` built it."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Stats:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Stats prefix={self.prefix!r}>"


def _now() -> float:
    """The time `Stats.live` counts back from (a seam for tests)."""
    return time.time()


def _pairs_of(reply: Any) -> list[tuple[Any, Any]]:
    """``WITHSCORES`` replies come as pairs (RESP2 parsed by redis-py) or flat lists."""
    if reply and not isinstance(reply[0], (list, tuple)):
        return [(reply[j], reply[j + 1]) for j in range(0, len(reply), 2)]
    return [(member, score) for member, score in reply]


class _Number(Command):
    """A command whose reply is a count; ``PING`` (nothing to count) reads as 0."""

    def feed(self, replies: list[Any]) -> None:
        reply = replies[0]
        self.result = 0 if isinstance(reply, (bool, str, bytes)) else int(reply)
        self.done = True


class _FilteredDaily(Step):
    """Page views of one member of a filter dimension: its score in each day key of the range
    (`rows`, zero-filled) and in all (`total`: for all time, its all-time score)."""

    def __init__(self, keys: Keys, span: Span, filter_: tuple[str, str]) -> None:
        dimension, self.member = filter_
        self.labels = span.labels()
        self.keys = [keys.day(dimension, day) for day in span.day_numbers()]
        self.all_key = keys.all(dimension) if span.all_time else None
        self.rows: list[tuple[str, int]] = []
        self.total = 0

    def calls(self) -> list[Call]:
        keys = [*self.keys, *([self.all_key] if self.all_key else [])]
        return [Call(("ZSCORE", key, self.member), 2) for key in keys]

    def feed(self, replies: list[Any]) -> None:
        counts = [_count(score) for score in replies]
        self.rows = list(zip(self.labels, counts[: len(self.labels)], strict=True))
        self.total = counts[-1] if self.all_key else sum(counts)
        self.done = True
