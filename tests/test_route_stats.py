"""RouteStats rows from stored counts and sketches (pure), and the route keys' layout."""

from __future__ import annotations

import random
import zlib

import pytest

import wsgi_analytics
from wsgi_analytics.keys import (
    DIMENSIONS,
    SKETCH_GROUPS,
    Keys,
    check_dimension,
    is_sketch,
    sketch_family,
    sketch_group,
)
from wsgi_analytics.reading.routes import RouteStats, route_rows, route_stats
from wsgi_analytics.sketch import bucket


def _lower(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def test_route_stats_is_public() -> None:
    assert wsgi_analytics.RouteStats is RouteStats
    assert "RouteStats" in wsgi_analytics.__all__


def test_quantiles_from_redis_shaped_buckets_over_several_days() -> None:
    rng = random.Random(7)
    days = [[rng.lognormvariate(-3.0, 0.8) for _ in range(500)] for _ in range(3)]
    replies = []
    for durations in days:
        counts: dict[int, int] = {}
        for seconds in durations:
            counts[bucket(seconds)] = counts.get(bucket(seconds), 0) + 1
        # As ZRANGE ... WITHSCORES gives them: indices as text, counts as floats.
        replies += [(str(index), float(count)) for index, count in counts.items()]
    row = route_stats("GET /items/{item_id}", 1500, 12, 3, replies)
    everything = [seconds * 1000 for durations in days for seconds in durations]
    assert (row.route, row.requests, row.client_errors, row.errors) == (
        "GET /items/{item_id}",
        1500,
        12,
        3,
    )
    for q, got in zip((0.5, 0.95, 0.99), (row.p50, row.p95, row.p99), strict=True):
        exact = _lower(everything, q)
        assert abs(got - exact) <= 0.02 * exact + 1e-9, (q, got, exact)


def test_rows_order_limit_and_missing_parts() -> None:
    rows = route_rows(
        [("GET /b", 5.0), ("GET /a", 5.0), ("POST /c", 9.0), ("GET /d", 1.0)],
        {"GET /a": 2.0},
        {"POST /c": 1},
        {"POST /c": {bucket(0.010): 9}},
        limit=3,
    )
    assert [row.route for row in rows] == ["POST /c", "GET /a", "GET /b"]
    assert rows[0].errors == 1
    assert rows[0].p50 == pytest.approx(10.0, rel=0.02)
    assert rows[1] == RouteStats("GET /a", 5, 2, 0, 0.0, 0.0, 0.0)
    assert rows[1].to_json() == {
        "route": "GET /a",
        "requests": 5,
        "client_errors": 2,
        "errors": 0,
        "p50_ms": 0.0,
        "p95_ms": 0.0,
        "p99_ms": 0.0,
    }


@pytest.mark.parametrize(
    ("route", "key"),
    [
        pytest.param("GET /", "{analytics:latency.v1:12}:GET /:2026-12-01", id="root"),
        pytest.param(
            "GET /items/{item_id}",
            "{analytics:latency.v1:3}:GET /items/{item_id}:2026-12-01",
            id="braces after the hash tag are text",
        ),
        pytest.param("GET /100%/{x}", "{analytics:latency.v1:11}:GET /100%/{x}:2026-12-01", id="%"),
    ],
)
def test_sketch_keys(route: str, key: str) -> None:
    keys = Keys()
    day = 20788  # 2026-12-01
    assert keys.sketch(route, day) == key
    assert keys.sketch(route, None) == key.rsplit(":", 1)[0] + ":all"
    assert keys.owns(key)
    # The group is the CRC-32 of the route: the same in every process and any language.
    group = zlib.crc32(route.encode()) % SKETCH_GROUPS
    assert sketch_group(route) == group
    assert key.startswith(f"{{analytics:latency.v1:{group}}}:")
    # A route's keys share a hash tag (one slot); the batch markers of its group too.
    assert keys.sketch_batch(group, "b1", day).startswith(key[: key.index("}") + 1])


def test_sketch_families_are_not_dimensions() -> None:
    family = sketch_family("GET /x")
    assert is_sketch(family)
    assert not Keys().trimmed(family)
    assert not is_sketch("routes")
    with pytest.raises(ValueError, match="invalid dimension"):
        check_dimension(family)
    assert {"routes", "routes_4xx", "routes_5xx"} <= set(DIMENSIONS)
