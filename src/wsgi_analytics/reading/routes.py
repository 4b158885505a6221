"""One row per route: requests, errors and response-time quantiles, from what the recorder stored.

Pure: the caller reads the keys (`wsgi_analytics.keys`: the ``routes``, ``routes_4xx`` and
``routes_5xx`` dimensions, and each route's sketch, `Keys.sketch`) over a range of days and
hands the results here; `route_rows` turns them into `RouteStats`. A range is the sum of its
days, for the counts as for the sketches (DDSketch buckets merge by adding counts), so a caller
may pass ``ZUNION ... WITHSCORES`` replies or the days' replies one after another.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..sketch import quantiles

__all__ = ["Buckets", "RouteStats", "route_rows", "route_stats"]

# A sketch as Redis gives it: (bucket index, count) pairs, indices as text and counts as floats
# (``ZRANGE key 0 -1 WITHSCORES``), or a mapping of them; see `wsgi_analytics.sketch.quantiles`.
Buckets = Mapping[int, int] | Mapping[str, int] | Iterable[tuple[Any, Any]]


@dataclass(frozen=True)
class RouteStats:
    """One route over a range: ``route`` is ``"METHOD template"`` (``GET /items/{item_id}``);
    ``client_errors`` the requests answered 4xx, ``errors`` 5xx (an app's exception counts as
    500); ``p50``, ``p95``, ``p99`` the response-time quantiles in milliseconds, each within 2 %
    of the exact (lower) quantile of the recorded durations, 0.0 when none was recorded."""

    route: str
    requests: int
    client_errors: int
    errors: int
    p50: float
    p95: float
    p99: float

    def to_json(self) -> dict[str, Any]:
        """The row of the report's and the dashboard's JSON (``routes``)."""
        return {
            "route": self.route,
            "requests": self.requests,
            "client_errors": self.client_errors,
            "errors": self.errors,
            "p50_ms": round(self.p50, 3),
            "p95_ms": round(self.p95, 3),
            "p99_ms": round(self.p99, 3),
        }


def route_stats(
    route: str, requests: int, client_errors: int, errors: int, buckets: Buckets
) -> RouteStats:
    """One route's row from its counts and its sketch's buckets over the range."""
    p50, p95, p99 = quantiles(buckets, (0.5, 0.95, 0.99))
    return RouteStats(route, int(requests), int(client_errors), int(errors), p50, p95, p99)


def route_rows(
    requests: Iterable[tuple[str, int | float]],
    client_errors: Mapping[str, int | float],
    errors: Mapping[str, int | float],
    sketches: Mapping[str, Buckets],
    limit: int | None = None,
) -> list[RouteStats]:
    """The rows of the routes in ``requests`` (``routes`` members and their counts over the
    range), most requests first, ties by route, at most ``limit``. A route missing from
    ``client_errors``, ``errors`` or ``sketches`` has none of them."""
    counted: dict[str, int] = {}
    for route, count in requests:
        counted[route] = counted.get(route, 0) + int(count)
    ordered = sorted(counted.items(), key=lambda item: (-item[1], item[0]))
    if limit is not None:
        ordered = ordered[: max(limit, 0)]
    return [
        route_stats(
            route,
            count,
            int(client_errors.get(route, 0)),
            int(errors.get(route, 0)),
            sketches.get(route, ()),
        )
        for route, count in ordered
    ]
