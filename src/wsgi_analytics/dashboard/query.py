"""What a dashboard URL asks for, read and checked once: the range, the filter, how many rows,
one table alone, how the Endpoints table is sorted.

Every parameter is optional; anything malformed is refused with `BadQuery` (a 400) rather than
guessed at, and links are built back from a `Query` (`Query.params`) so that every link on a
page keeps its range and filter::

    ?days=7                      today and the 6 days before (1 to 3660, or "all")
    ?from=2026-11-01&to=2026-11-30   any range of dates, inclusive, in the site's zone
    ?where=sources:Google        only page views whose source is Google (paths, sources, countries)
    ?limit=50                    rows per table
    ?dimension=paths             one table alone (the "N more" links), or the CSV of one dimension
    ?sort=p95                    the Endpoints table's order
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from ..keys import check_dimension
from ..reading.where import FILTERS, parse_where

__all__ = [
    "FILTERS",
    "MAX_DAYS",
    "PRESETS",
    "SORTS",
    "BadQuery",
    "Limits",
    "Query",
    "parse",
]

MAX_DAYS = 3660
# The range links: (value of ?days=, label).
PRESETS = (("1", "Today"), ("7", "7 days"), ("30", "30 days"), ("90", "90 days"), ("all", "All"))
# The Endpoints table's orders: value of ?sort= -> column title.
SORTS = {
    "requests": "Requests",
    "route": "Route",
    "client_errors": "4xx",
    "errors": "5xx",
    "p50": "p50",
    "p95": "p95",
    "p99": "p99",
}
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # fromisoformat alone also takes "20261201"
_EARLIEST = date(1970, 1, 2)  # day numbers count from the epoch
_KNOWN = ("days", "from", "to", "where", "limit", "dimension", "sort")


class BadQuery(ValueError):
    """A parameter the dashboard cannot honour; the message says which and what it takes."""


@dataclass(frozen=True)
class Limits:
    """Rows per table a view shows by default and at most."""

    default: int
    most: int


PAGE = Limits(10, 100)
TABLE = Limits(100, 1000)  # one table alone (?dimension=)
EXPORT = Limits(1000, 10_000)


@dataclass(frozen=True)
class Query:
    """A parsed dashboard URL. ``days`` is ignored when ``start``/``end`` are set."""

    days: int | None = 1
    start: date | None = None
    end: date | None = None
    where: tuple[str, str] | None = None
    limit: int | None = None  # None: the view's default (`Limits.default`)
    dimension: str | None = None
    sort: str = "requests"

    @property
    def selected(self) -> str:
        """The range as the value of its preset link (``"7"``, ``"all"``), or ``"custom"``."""
        if self.start is not None:
            return "custom"
        return "all" if self.days is None else str(self.days)

    def rows(self, limits: Limits) -> int:
        return limits.default if self.limit is None else min(self.limit, limits.most)

    def changed(self, **changes: Any) -> Query:
        return replace(self, **changes)

    def params(self, *, explicit: bool = False) -> list[tuple[str, str]]:
        """The query string that asks for this again (defaults left out, the range too unless
        ``explicit``), in a fixed order."""
        found: list[tuple[str, str]] = []
        if self.start is not None and self.end is not None:
            found += [("from", self.start.isoformat()), ("to", self.end.isoformat())]
        elif self.days != 1 or explicit:
            found.append(("days", self.selected))
        if self.where is not None:
            found.append(("where", f"{self.where[0]}:{self.where[1]}"))
        if self.dimension is not None:
            found.append(("dimension", self.dimension))
        if self.limit is not None:
            found.append(("limit", str(self.limit)))
        if self.sort != "requests":
            found.append(("sort", self.sort))
        return found


def _whole(name: str, text: str, low: int, high: int) -> int:
    # ASCII digits only ('²'.isdigit() is true, and int() takes Arabic-Indic digits), and no
    # longer than the bound: int() of a few thousand digits raises, of more takes a while.
    if text.isascii() and text.isdigit() and len(text) <= len(str(high)):
        number = int(text)
        if low <= number <= high:
            return number
    raise BadQuery(f"{name} must be a whole number from {low} to {high}")


def _date(name: str, text: str) -> date:
    if _DATE.fullmatch(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            pass
        else:
            if day >= _EARLIEST:
                return day
    raise BadQuery(f"{name} must be a date written YYYY-MM-DD (1970-01-02 or later)")


def _single(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = params.get(name, ())
    if len(values) > 1:
        raise BadQuery(f"{name} is given {len(values)} times; give it once")
    return values[0] if values else None


def parse(
    params: Mapping[str, Sequence[str]],
    *,
    limits: Limits = PAGE,
    dimensions: Sequence[str] = (),
) -> Query:
    """The `Query` of a URL's parameters (each name -> all its values); ``dimensions`` are
    the names ``?dimension=`` may take (any valid name when empty). Unknown names are ignored
    (``token`` is the access layer's)."""
    given = {name: _single(params, name) for name in _KNOWN}
    query = Query()
    start_text, end_text = given["from"] or "", given["to"] or ""
    if start_text or end_text:
        if not (start_text and end_text):
            raise BadQuery("from and to go together: give both dates, or neither")
        if given["days"] is not None:
            raise BadQuery("give either days or from and to, not both")
        start, end = _date("from", start_text), _date("to", end_text)
        if start > end:
            raise BadQuery("from must be on or before to")
        if (end - start).days + 1 > MAX_DAYS:
            raise BadQuery(f"a range is at most {MAX_DAYS} days")
        query = query.changed(start=start, end=end, days=None)
    elif given["days"] is not None and given["days"] != "all":
        query = query.changed(days=_whole("days", given["days"], 1, MAX_DAYS))
    elif given["days"] == "all":
        query = query.changed(days=None)
    if given["where"] is not None:
        try:
            where = parse_where(given["where"])
        except ValueError as error:
            raise BadQuery(str(error)) from None
        query = query.changed(where=where)
    if given["limit"] is not None:
        query = query.changed(limit=_whole("limit", given["limit"], 1, limits.most))
    if given["dimension"] is not None:
        name = given["dimension"]
        try:
            check_dimension(name)
        except ValueError:
            raise BadQuery("dimension must be the name of a dimension") from None
        if dimensions and name not in dimensions:
            raise BadQuery(f"there is no dimension {name!r} here")
        query = query.changed(dimension=name)
    if given["sort"] is not None:
        if given["sort"] not in SORTS:
            raise BadQuery(f"sort must be one of {', '.join(SORTS)}")
        query = query.changed(sort=given["sort"])
    return query
