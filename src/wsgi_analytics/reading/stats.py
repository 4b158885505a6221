"""The read side: top members, totals, uniques and series over a range of days, summed in Redis.

Every read is aggregated on the server: a range of day keys of one dimension (all in one hash
slot, see `wsgi_analytics.keys`) is added up by one Lua script with ``ZUNIONSTORE`` into a
scratch key of the same slot, which the script reads and deletes before it returns. Only the
``limit`` rows a caller asked for cross the network, never the members of a set. `Stats.snapshot`
reads everything a page shows in one pipeline, whatever the range.

Ranges: ``days=1`` is today (UTC), ``days=N`` today and the N-1 days before, ``days=None`` all
time (the all-time keys; per-day keys older than the recorder's retention have expired).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from types import TracebackType
from typing import Any

from redis.exceptions import NoScriptError

from .. import connection
from ..keys import DIMENSIONS, Keys, check_dimension, day_label, hour_label, today
from .snapshot import Series, Snapshot, Table
from .topscript import TOP

__all__ = ["Series", "Snapshot", "Stats", "Table"]

# Past days of a range are summed once per this many milliseconds (see `topscript`).
CACHE_MS = 60_000
_EPOCH = date(1970, 1, 1).toordinal()


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _count(value: Any) -> int:
    return 0 if value is None else int(float(_text(value)))


def _check_days(days: int | None) -> int | None:
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 1):
        raise ValueError(f"days must be a positive integer or None (all time), not {days!r}")
    return days


class Stats:
    """Read the counts: ``Stats(redis_url)`` or ``Stats(client=...)`` (a passed client is not
    closed here); use as a context manager or call `close`."""

    def __init__(
        self,
        redis_url: str | None = None,
        *,
        client: connection.Client | None = None,
        prefix: str = "analytics",
    ) -> None:
        self.keys = Keys(prefix)
        self.prefix = prefix
        self._owns_client = client is None
        self.client: connection.Client = (
            client if client is not None else connection.connect(redis_url)
        )
        self._top_script = self.client.register_script(TOP)

    # -- the A2 contract ----------------------------------------------------------------------

    def top(self, dimension: str, limit: int = 10, days: int | None = 1) -> list[tuple[str, int]]:
        """The ``limit`` members with the highest counts, highest first, ties by member."""
        table = self._table_result(self._top_script(*self._top_call(dimension, limit, days)))
        return table.rows

    def total(self, days: int | None = 1) -> int:
        """Page views in the range."""
        return sum(count for _, count in self.daily(days))

    def uniques(self, days: int | None = 1) -> int:
        """Unique visitors in the range (HyperLogLog: about 0.8% standard error)."""
        return int(self.client.pfcount(*self._unique_keys(_check_days(days))))

    def timeline(self, days: int | None = 1) -> list[tuple[str, int]]:
        """Page views per hour, oldest first, as ``("2026-12-01T14", n)``.

        Zero-filled: every hour from the range's first midnight to the current hour is present.
        ``days=None`` starts at the first day with a page view; hours of days whose hourly key
        has expired (older than the retention) are left out rather than shown as zeros.
        """
        first, last = self._day_span(_check_days(days))
        pipe = self.client.pipeline(transaction=False)
        for day in range(first, last + 1):
            pipe.zrange(self.keys.day("timeline", day), 0, -1, withscores=True)
        if first > last:
            return []
        pipe.zmscore(self.keys.all("days"), [day_label(d) for d in range(first, last + 1)])
        *hourly, per_day = pipe.execute()
        return _hours(first, last, hourly, per_day)

    # -- what the views need --------------------------------------------------------------------

    def daily(self, days: int | None = 7) -> list[tuple[str, int]]:
        """Page views per day, oldest first, zero-filled, as ``("2026-12-01", n)``."""
        first, last = self._day_span(_check_days(days))
        labels = [day_label(day) for day in range(first, last + 1)]
        if not labels:
            return []
        scores = self.client.zmscore(self.keys.all("days"), labels)
        return [(label, _count(score)) for label, score in zip(labels, scores, strict=True)]

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
    ) -> Snapshot:
        """Everything a page shows, read in one pipeline: totals, the chart series (hourly for
        ``days=1``, daily otherwise) and a top-``limit`` table per dimension."""
        days = _check_days(days)
        names = list(DIMENSIONS if dimensions is None else dimensions)
        first, last = self._day_span(days)
        labels = [day_label(day) for day in range(first, last + 1)]
        calls = [self._top_call(name, limit, days) for name in names]

        def queue(pipe: Any) -> None:
            # execute_command: redis-py's cluster pipeline refuses the EVALSHA and PFCOUNT
            # methods because they *may* span slots; ours never do (one hash tag per call), and
            # the cluster pipeline routes each by the slot of its keys.
            for keys, args in calls:
                pipe.execute_command("EVALSHA", self._top_script.sha, len(keys), *keys, *args)
            pipe.execute_command("PFCOUNT", *self._unique_keys(days))
            # ZMSCORE needs at least one member; an empty all-time range asks for today's.
            pipe.zmscore(self.keys.all("days"), labels or [day_label(last)])
            if days == 1:
                pipe.zrange(self.keys.day("timeline", last), 0, -1, withscores=True)

        results = self._execute(queue)
        tables = {
            name: self._table_result(result)
            for name, result in zip(names, results[: len(names)], strict=True)
        }
        uniques, per_day = int(results[len(names)]), results[len(names) + 1]
        daily = (
            [(label, _count(n)) for label, n in zip(labels, per_day, strict=True)] if labels else []
        )
        if days == 1:
            series = Series("hour", _hours(first, last, [results[-1]], per_day))
        else:
            series = Series("day", daily)
        return Snapshot(
            prefix=self.prefix,
            days=days,
            first=labels[0] if labels else None,
            last=day_label(last),
            generated_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            page_views=sum(count for _, count in daily),
            uniques=uniques,
            series=series,
            tables=tables,
        )

    # -- plumbing ---------------------------------------------------------------------------

    def _top_call(
        self, dimension: str, limit: int, days: int | None
    ) -> tuple[list[str], list[int]]:
        check_dimension(dimension)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"limit must be a non-negative integer, not {limit!r}")
        scratch = self.keys.scratch(dimension, uuid.uuid4().hex)
        keys = self.keys.range(dimension, _check_days(days))
        if len(keys) > 1:
            # The past days' union (see `wsgi_analytics.reading.topscript`).
            keys.insert(0, self.keys.cache(dimension, len(keys), today()))
        return [scratch, *keys], [limit, CACHE_MS]

    def _table_result(self, result: Any) -> Table:
        distinct, total, flat = result
        rows = [(_text(flat[i]), _count(flat[i + 1])) for i in range(0, len(flat), 2)]
        rows.sort(key=lambda row: (-row[1], row[0]))
        return Table(rows=rows, total=_count(total), distinct=int(distinct))

    def _unique_keys(self, days: int | None) -> list[str]:
        if days is None:
            return [self.keys.uniques(None)]
        return [self.keys.uniques(today() - offset) for offset in range(days)]

    def _day_span(self, days: int | None) -> tuple[int, int]:
        """First and last day number of a range; all time starts at the first recorded day."""
        last = today()
        if days is not None:
            return last - days + 1, last
        # One member a day, ordered by count, not by date: the oldest is found among them all.
        recorded = self.client.zrange(self.keys.all("days"), 0, -1)
        if not recorded:
            return last + 1, last  # nothing recorded: an empty range
        first = date.fromisoformat(min(_text(day) for day in recorded)).toordinal() - _EPOCH
        return min(first, last), last

    def _execute(self, queue: Callable[[Any], None]) -> list[Any]:
        """Run the commands ``queue`` puts in a pipeline, EVALSHA calls among them. A server
        that lost the script (restart, ``SCRIPT FLUSH``, a new cluster node) gets it loaded and
        the commands run once more: the script leaves nothing behind, so a rerun is safe."""
        for attempt in (1, 2):
            pipe = self.client.pipeline(transaction=False)
            queue(pipe)
            results = pipe.execute(raise_on_error=False)
            if attempt == 1 and any(isinstance(result, NoScriptError) for result in results):
                self.client.script_load(TOP)
                continue
            for result in results:
                if isinstance(result, Exception):
                    raise result
            break
        return list(results)

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


def _hours(first: int, last: int, hourly: list[Any], per_day: list[Any]) -> list[tuple[str, int]]:
    """Zero-filled hours of days ``first..last`` up to now; a day with page views but no hourly
    key (expired) is left out."""
    now_hour = int(time.time() // 3600)
    points: list[tuple[str, int]] = []
    for day, rows, views in zip(range(first, last + 1), hourly, per_day, strict=True):
        counts = {_text(member): int(score) for member, score in rows}
        if not counts and _count(views) > 0:
            continue
        for hour in range(day * 24, min(day * 24 + 24, now_hour + 1)):
            label = hour_label(hour)
            points.append((label, counts.get(label, 0)))
    return points
