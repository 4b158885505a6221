"""What one read of a page returns: plain values, and their JSON document (schema version 1).

The document, as ``wsgi-analytics report --json`` prints it and the dashboard's ``api.json``
serves it::

    {
      "schema": 1,
      "prefix": "analytics",
      "days": 7,                       # null: all time
      "first": "2026-11-25",           # first day of the range (null when nothing recorded)
      "last": "2026-12-01",            # today, UTC
      "generated_at": "2026-12-01T09:30:00Z",
      "page_views": 1234,
      "uniques": 456,                  # approximate (HyperLogLog)
      "series": {"unit": "day",        # "hour" for days=1, else "day"
                 "points": [{"t": "2026-11-25", "count": 120}, ...]},
      "dimensions": {
        "paths": {"total": 1234,       # sum of all counts of the dimension in the range
                  "distinct": 87,      # members with a count in the range
                  "rows": [{"member": "/", "count": 500, "share": 0.4052}, ...]},
        "referrers": {...}, "browsers": {...}, ...
      }
    }

Rows are ordered by count, highest first, ties by member; ``share`` is ``count / total`` rounded
to four places. Keys are only ever added to this schema, never renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA", "Series", "Snapshot", "Table"]

SCHEMA = 1


@dataclass(frozen=True)
class Table:
    """The top ``(member, count)`` rows of one dimension, with the dimension's sum and number of
    members over the range."""

    rows: list[tuple[str, int]]
    total: int
    distinct: int

    def share(self, count: int) -> float:
        return count / self.total if self.total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "distinct": self.distinct,
            "rows": [
                {"member": member, "count": count, "share": round(self.share(count), 4)}
                for member, count in self.rows
            ],
        }


@dataclass(frozen=True)
class Series:
    """Page views per hour (``unit="hour"``) or per day, oldest first, zero-filled."""

    unit: str
    points: list[tuple[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.unit, "points": [{"t": t, "count": n} for t, n in self.points]}


@dataclass(frozen=True)
class Snapshot:
    """Totals, the chart series and the top tables of one range (see `Stats.snapshot`)."""

    prefix: str
    days: int | None
    first: str | None
    last: str
    generated_at: str
    page_views: int
    uniques: int
    series: Series
    tables: dict[str, Table] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The range in words: "today", "last 7 days", "all time"."""
        if self.days is None:
            return "all time"
        return "today" if self.days == 1 else f"last {self.days} days"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "prefix": self.prefix,
            "days": self.days,
            "first": self.first,
            "last": self.last,
            "generated_at": self.generated_at,
            "page_views": self.page_views,
            "uniques": self.uniques,
            "series": self.series.to_json(),
            "dimensions": {name: table.to_json() for name, table in self.tables.items()},
        }
