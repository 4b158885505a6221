"""What one read of a page returns: plain values, and their JSON document (schema version 1).

The document, as ``wsgi-analytics report --json`` prints it and the dashboard's ``api.json``
serves it::

    {
      "schema": 1,
      "prefix": "analytics",
      "days": 7,                       # null: all time; with dates, the days from one to the other
      "dates": false,                  # true: the range was given as dates (from/to)
      "first": "2026-11-25",           # first day of the range (null when nothing recorded)
      "last": "2026-12-01",            # last day of the range (today unless dates say otherwise)
      "zone": "UTC",                   # the site's time zone: days and hours are local to it
      "clipped": false,                # true: the range reached past the retention and was cut
      "generated_at": "2026-12-01T09:30:00Z",
      "page_views": 1234,
      "uniques": 456,                  # approximate (HyperLogLog); null with a filter
      "where": null,                   # or {"dimension": "sources", "member": "Google"}: then
                                       # "dimensions" holds only the tables it applies to
      "previous": {"first": "2026-11-18", "last": "2026-11-24",   # the period of the same
                   "page_views": 1100, "uniques": 420},           # length just before, or null
      "live": 3,                       # visitors in the last 5 minutes (null when not read)
      "series": {"unit": "day",        # "hour" for a one-day range, else "day"
                 "points": [{"t": "2026-11-25", "count": 120}, ...]},
      "dimensions": {
        "paths": {"total": 1234,       # sum of all counts of the dimension in the range
                  "distinct": 87,      # members with a count in the range (see error_bound)
                  "error_bound": 30,   # only when the rows are not exact: each count may be
                                       # this much too low (the day keys were at their cap)
                  "rows": [{"member": "/", "count": 500, "share": 0.4052}, ...]},
        "countries": {..., "rows": [{"member": "FR", "name": "France", ...}]},  # names added
        "referrers": {...}, "browsers": {...}, ...
      },
      "routes": [{"route": "GET /items/{item_id}", "requests": 40, "client_errors": 2,
                  "errors": 0, "p50_ms": 12.1, "p95_ms": 48.0, "p99_ms": 51.3}, ...]
    }

Rows are ordered by count, highest first, ties by member; ``share`` is ``count / total`` rounded
to four places. Keys are only ever added to this schema, never renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .countries import country_name
from .routes import RouteStats

__all__ = ["SCHEMA", "Previous", "Series", "Snapshot", "Table"]

SCHEMA = 1


@dataclass(frozen=True)
class Table:
    """The top ``(member, count)`` rows of one dimension, with the dimension's sum and number of
    members over the range."""

    rows: list[tuple[str, int]]
    total: int
    distinct: int
    # 0: the rows are exact. Else the dimension's day keys were at their cap and each count
    # may be up to this much too low (never too high), and `distinct` is a lower bound; see
    # `wsgi_analytics.reading.topscript`.
    error_bound: int = 0

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "total": self.total,
            "distinct": self.distinct,
            "rows": [
                {"member": member, "count": count, "share": round(self.share(count), 4)}
                for member, count in self.rows
            ],
        }
        if self.error_bound:
            document["error_bound"] = self.error_bound
        return document


@dataclass(frozen=True)
class Series:
    """Page views per hour (``unit="hour"``) or per day, oldest first, zero-filled."""

    unit: str
    points: list[tuple[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "points": [{"t": t, "count": n} for t, n in self.points]}


@dataclass(frozen=True)
class Previous:
    """Page views and uniques of the period of the same length just before a range."""

    first: str
    last: str
    page_views: int
    uniques: int | None

    def to_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "last": self.last,
            "page_views": self.page_views,
            "uniques": self.uniques,
        }


@dataclass(frozen=True)
class Snapshot:
    """Totals, the chart series and the top tables of one range (see `Stats.snapshot`).

    ``uniques`` is ``None`` with a filter (``where``): visitors are not counted per member.
    ``routes`` holds `wsgi_analytics.reading.routes.RouteStats` rows when they were asked for.
    """

    prefix: str
    days: int | None
    first: str | None
    last: str
    generated_at: str
    page_views: int
    uniques: int | None
    series: Series
    tables: dict[str, Table] = field(default_factory=dict)
    zone: str = "UTC"
    dates: bool = False
    clipped: bool = False
    where: tuple[str, str] | None = None
    previous: Previous | None = None
    routes: list[RouteStats] = field(default_factory=list)
    live: int | None = None

    @property
    def label(self) -> str:
        """The range in words: "today", "last 7 days", "all time", "2026-11-01 to 2026-11-30"."""
        if self.days is None:
            return "all time"
        if self.dates:
            return self.last if self.first == self.last else f"{self.first} to {self.last}"
        return "today" if self.days == 1 else f"last {self.days} days"

    def to_json(self) -> dict[str, Any]:
        where = self.where
        return {
            "schema": SCHEMA,
            "prefix": self.prefix,
            "days": self.days,
            "dates": self.dates,
            "first": self.first,
            "last": self.last,
            "zone": self.zone,
            "clipped": self.clipped,
            "generated_at": self.generated_at,
            "page_views": self.page_views,
            "uniques": self.uniques,
            "where": None if where is None else {"dimension": where[0], "member": where[1]},
            "previous": None if self.previous is None else self.previous.to_json(),
            "live": self.live,
            "series": self.series.to_json(),
            "dimensions": {name: _table_json(name, table) for name, table in self.tables.items()},
            "routes": [route.to_json() for route in self.routes],
        }


def _table_json(name: str, table: Table) -> dict[str, Any]:
    document = table.to_json()
    if name == "countries":
        # The code is the member; its name is there for readers (null for "(unknown)").
        for row in document["rows"]:
            row["name"] = country_name(row["member"])
    return document
