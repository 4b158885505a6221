"""The site's time zone: which day and which hour an instant is counted in.

Day numbers are days since 1970-01-01 *in the zone's calendar*: the instant's local date minus
the epoch's date. In UTC that is exactly ``int(t // 86400)``, the number the UTC-only versions
wrote into every key, so existing data keeps its days.

Everything here is called per request or per flushed event, so every answer is memoised: the
zone's UTC offset per UTC hour, labels per local hour and per day, day bounds per day.

Why an hourly offset cache is exact: real zones change their offset at most once in any hour,
but not always on the hour (Lord Howe at :30 UTC, Chatham at :45 local, Gaza at 00:01 local,
and before the 1970s offsets of odd seconds). So each UTC hour's offset is checked at both ends:
an hour whose ends agree has one offset throughout (no zone has changed and changed back within
an hour); an hour whose ends disagree holds a transition, and its instants are worked out one
by one (a handful of hours a year).
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["SiteClock", "day_label"]

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MIXED = object()  # an hour with a transition inside it
_CACHE = 4096  # entries per memo: months of hours, years of days
# Names of plain UTC: the default, and the zone of all data written before zones existed.
_UTC_NAMES = frozenset(
    {
        "UTC",
        "Etc/UTC",
        "UCT",
        "Etc/UCT",
        "Universal",
        "Etc/Universal",
        "Zulu",
        "Etc/Zulu",
        "GMT",
        "Etc/GMT",
        "GMT0",
        "Etc/GMT0",
        "GMT+0",
        "Etc/GMT+0",
        "GMT-0",
        "Etc/GMT-0",
        "Greenwich",
        "Etc/Greenwich",
    }
)


@lru_cache(maxsize=_CACHE)
def day_label(day: int) -> str:
    """``"YYYY-MM-DD"`` of a day number (the same in every zone: it is a calendar date)."""
    return date.fromordinal(_EPOCH_ORDINAL + day).isoformat()


class SiteClock:
    """Days and hours in one IANA time zone.

    >>> clock = SiteClock("America/Los_Angeles")
    >>> clock.day_label(clock.day(1_700_000_000))
    '2023-11-14'
    >>> clock.hour_label(1_700_000_000)
    '2023-11-14T14'

    A day with a daylight-saving change lasts 23 or 25 hours (``day_end - day_start``). The
    hour repeated when clocks go back is one label (its two hours share a bucket); the hour
    skipped when they go forward has none.
    """

    __slots__ = ("_hour_labels", "_offsets", "_starts", "_tz", "_utc", "zone")

    def __init__(self, zone: str = "UTC") -> None:
        if not isinstance(zone, str) or not zone.strip():
            raise ValueError(
                f"timezone must be an IANA zone name such as 'Europe/Paris', not {zone!r}"
            )
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"unknown time zone {zone!r}: use an IANA name such as 'UTC', 'Europe/Paris' or "
                "'America/Los_Angeles'"
            ) from exc
        self.zone = zone
        self._tz = tz
        self._utc = zone in _UTC_NAMES
        self._offsets: dict[int, object] = {}  # UTC hour -> offset seconds, or _MIXED
        self._hour_labels: dict[int, str] = {}  # local hour number -> "YYYY-MM-DDTHH"
        self._starts: dict[int, int] = {}  # day -> epoch seconds of its first instant

    def __repr__(self) -> str:
        return f"SiteClock({self.zone!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SiteClock) and other.zone == self.zone

    def __hash__(self) -> int:
        return hash(self.zone)

    # -- offsets ---------------------------------------------------------------------------------

    def _exact_offset(self, t: float) -> int:
        offset = datetime.fromtimestamp(t, self._tz).utcoffset()
        return 0 if offset is None else int(offset.total_seconds())

    def offset(self, t: float) -> int:
        """The zone's UTC offset at instant ``t``, in seconds (``-25200`` for PDT)."""
        if self._utc:
            return 0
        hour = int(t // 3600)
        offset = self._offsets.get(hour)
        if offset is None:
            if len(self._offsets) >= _CACHE:
                self._offsets.clear()  # a flusher moves forward: old hours are not asked again
            first = self._exact_offset(hour * 3600)
            last = self._exact_offset(hour * 3600 + 3599)  # transitions fall on whole seconds
            offset = self._offsets[hour] = first if first == last else _MIXED
        if offset is _MIXED:
            return self._exact_offset(t)
        return offset  # type: ignore[return-value]

    # -- days ------------------------------------------------------------------------------------

    def day(self, t: float) -> int:
        """The local day number of instant ``t`` (epoch seconds)."""
        if self._utc:
            return int(t // 86400)
        return int((t + self.offset(t)) // 86400)

    def today(self, now: float | None = None) -> int:
        """Today's local day number (``now`` defaults to the current time)."""
        return self.day(time.time() if now is None else now)

    @staticmethod
    def day_label(day: int) -> str:
        """``"YYYY-MM-DD"`` of a day number."""
        return day_label(day)

    def day_start(self, day: int) -> int:
        """Epoch seconds of the day's first instant: local midnight, or where a transition
        skips midnight (clocks going forward at 00:00), the instant the day begins."""
        start = self._starts.get(day)
        if start is None:
            if len(self._starts) >= _CACHE:
                self._starts.clear()
            local = date.fromordinal(_EPOCH_ORDINAL + day)
            midnight = datetime(local.year, local.month, local.day, tzinfo=self._tz)
            # fold=0: a repeated midnight is its first occurrence; a skipped one resolves (PEP
            # 495) with the offset before the gap, which is the instant the gap begins.
            # Checked for every zone around every transition in the tz database: this is the
            # first instant of the day, except on a day a zone skipped (Samoa's 2011-12-30),
            # which has no instant and starts where the next day does.
            start = self._starts[day] = int(midnight.timestamp())
        return start

    def day_end(self, day: int) -> int:
        """Epoch seconds just past the day's last instant (the next day's start), so
        ``day_end(d) - day_start(d)`` is 86400, or 82800 / 90000 across a DST change."""
        return self.day_start(day + 1)

    def days(self, first: int, last: int) -> range:
        """The day numbers from ``first`` to ``last``, inclusive."""
        return range(first, last + 1)

    # -- hours -----------------------------------------------------------------------------------

    def hour_label(self, t: float) -> str:
        """``"YYYY-MM-DDTHH"``: the local date and hour of instant ``t``."""
        local_hour = int((t + self.offset(t)) // 3600)
        label = self._hour_labels.get(local_hour)
        if label is None:
            if len(self._hour_labels) >= _CACHE:
                self._hour_labels.clear()
            day, hour = divmod(local_hour, 24)
            label = self._hour_labels[local_hour] = f"{day_label(day)}T{hour:02d}"
        return label

    def local(self, t: float) -> datetime:
        """Instant ``t`` as an aware datetime in the zone (for display)."""
        return datetime.fromtimestamp(t, timezone.utc).astimezone(self._tz)

    def utc_offset(self, t: float) -> timedelta:
        """The zone's UTC offset at instant ``t``."""
        return timedelta(seconds=self.offset(t))
