"""Which days a read covers: ``days=N``, ``start``/``end`` dates or all time, in the site's zone,
cut at the retention. Pure: today's day number comes in, a `Span` goes out.

Rules (the ones `Stats` documents):

- ``days=1`` is today in the site's zone, ``days=N`` today and the N-1 days before, ``days=None``
  all time (the all-time keys, which outlive the retention).
- ``start``/``end`` are `datetime.date` values, inclusive, local to the site's zone. They replace
  ``days``: passing them with ``days`` other than its default of 1 is an error (which one wins
  would be a guess). ``start`` alone runs to today; ``end`` alone is an error (from when?).
  ``end`` before ``start`` is an error; an ``end`` after today is cut to today (the future has
  no counts yet), and a range wholly in the future is empty.
- Every range is cut at the retention: day keys older than ``retention_days`` days have expired,
  so a read of 400 days reads the ``retention_days + 1`` days that exist. `Span.clipped` says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ..request.clock import day_label

__all__ = ["MAX_DAYS", "Span", "day_number", "resolve"]

_EPOCH = date(1970, 1, 1).toordinal()
# A bound on ``days`` itself, so that arithmetic on it stays small; the retention cuts far
# earlier. About 27 years.
MAX_DAYS = 10_000


def day_number(value: date) -> int:
    """The day number (days since 1970-01-01) of a calendar date."""
    return value.toordinal() - _EPOCH


@dataclass(frozen=True)
class Span:
    """The days of one read: ``first..last`` inclusive (day numbers), or all time.

    ``days`` is what the caller asked for (``None``: all time; for dates, the number of days
    from ``start`` to ``end``); ``dates`` whether it was asked as dates. ``first > last`` is an
    empty range (a range in the future, or wholly beyond the retention).
    """

    first: int
    last: int
    days: int | None
    dates: bool = False
    clipped: bool = False

    @property
    def all_time(self) -> bool:
        return self.days is None

    @property
    def empty(self) -> bool:
        return self.first > self.last

    def day_numbers(self) -> range:
        return range(self.first, self.last + 1)

    def labels(self) -> list[str]:
        return [day_label(day) for day in self.day_numbers()]

    @property
    def single_day(self) -> bool:
        """One day's keys answer the read (``days=1``, or ``start == end``)."""
        return not self.all_time and self.first == self.last

    def previous(self, oldest: int) -> Span | None:
        """The period of the same length just before (``None`` for all time, for an empty
        range, and when part of it is older than ``oldest``, the first day still kept: a
        comparison against half a period would mislead)."""
        if self.all_time or self.empty:
            return None
        length = self.last - self.first + 1
        first, last = self.first - length, self.first - 1
        if first < oldest:
            return None
        return Span(first, last, length, dates=True)


def _check_date(name: str, value: object) -> date | None:
    if value is None:
        return None
    # datetime is a date subclass: a datetime here is a caller mixing up instants and days.
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"{name} must be a datetime.date (a calendar day), not {value!r}")
    return value


def check_days(days: object) -> int | None:
    if days is not None and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS
    ):
        raise ValueError(
            f"days must be a whole number from 1 to {MAX_DAYS}, or None (all time), not {days!r}"
        )
    return days


def resolve(
    days: int | None,
    start: date | None,
    end: date | None,
    *,
    today: int,
    retention_days: int,
) -> Span:
    """The `Span` for a read's arguments (see the module docstring); `ValueError` when they
    contradict each other."""
    start, end = _check_date("start", start), _check_date("end", end)
    oldest = today - retention_days
    if start is None and end is None:
        days = check_days(days)
        if days is None:
            return Span(oldest, today, None)
        first = today - days + 1
        return Span(max(first, oldest), today, days, clipped=first < oldest)
    if days != 1:
        raise ValueError("give either days or start/end, not both")
    if start is None:
        raise ValueError("end needs a start")
    first = day_number(start)
    last = today if end is None else day_number(end)
    if last < first:
        raise ValueError(f"end ({end}) is before start ({start})")
    length = last - first + 1
    if length > MAX_DAYS:
        raise ValueError(f"a range is at most {MAX_DAYS} days, not {length}")
    cut_first, cut_last = max(first, oldest), min(last, today)
    return Span(cut_first, cut_last, length, dates=True, clipped=cut_first > first)
