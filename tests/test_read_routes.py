"""Stats.routes and the report's Endpoints from stored route counts and response-time sketches,
written with the documented layout (`Keys.sketch`), over ranges."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
import redis

from wsgi_analytics import Recorder, RouteStats, WSGIAnalytics
from wsgi_analytics.cli import main
from wsgi_analytics.keys import Keys, day_label
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.sketch import bucket, value_ms

KEYS = Keys("analytics")
ITEMS = "GET /items/{item_id}"
LOGIN = "POST /login"


def requests(
    client: redis.Redis,
    day: int,
    route: str,
    durations_ms: Sequence[float],
    client_errors: int = 0,
    errors: int = 0,
) -> None:
    client.zincrby(KEYS.day("routes", day), len(durations_ms), route)
    client.zincrby(KEYS.all("routes"), len(durations_ms), route)
    client.zincrby(KEYS.day("statuses", day), len(durations_ms), "200")
    if client_errors:
        client.zincrby(KEYS.day("routes_4xx", day), client_errors, route)
    if errors:
        client.zincrby(KEYS.day("routes_5xx", day), errors, route)
    for index, count in Counter(bucket(ms / 1000) for ms in durations_ms).items():
        client.zincrby(KEYS.sketch(route, day), count, str(index))


@pytest.fixture
def routed(client: redis.Redis) -> Stats:
    stats = Stats(client=client)
    today = stats.today()
    requests(client, today, ITEMS, [10] * 5 + [20] * 3 + [100] * 2, client_errors=2, errors=1)
    requests(client, today, LOGIN, [50] * 4, client_errors=1)
    requests(client, today - 1, ITEMS, [30] * 10)
    requests(client, today - 1, "GET /health", [1] * 14)
    client.zadd(KEYS.all("days"), {day_label(today): 1})
    return stats


def close(estimate: float, exact: float) -> bool:
    return abs(estimate - exact) <= 0.02 * exact


def test_routes_today(routed: Stats) -> None:
    items, login = routed.routes()
    assert (items.route, items.requests, items.client_errors, items.errors) == (ITEMS, 10, 2, 1)
    # Lower quantiles of 10 values: ranks 4 (10 ms), 8 and 8 (100 ms).
    assert (items.p50, items.p95, items.p99) == (
        value_ms(bucket(0.010)),
        value_ms(bucket(0.100)),
        value_ms(bucket(0.100)),
    )
    assert close(items.p50, 10)
    assert close(items.p95, 100)
    assert (login.route, login.requests, login.client_errors, login.errors) == (LOGIN, 4, 1, 0)
    assert close(login.p99, 50)
    assert isinstance(items, RouteStats)


def test_routes_over_two_days(routed: Stats) -> None:
    rows = routed.routes(days=2)
    assert [(row.route, row.requests) for row in rows] == [
        (ITEMS, 20),
        ("GET /health", 14),
        (LOGIN, 4),
    ]
    items = rows[0]
    assert (items.client_errors, items.errors) == (2, 1)
    # 20 values: 10 x5, 20 x3, 30 x10, 100 x2; ranks 9 (30 ms), 18 and 18 (100 ms).
    assert close(items.p50, 30)
    assert close(items.p95, 100)
    assert close(items.p99, 100)
    assert routed.routes(limit=1, days=2) == rows[:1]
    assert [row.route for row in routed.routes(days=None)] == [ITEMS, "GET /health", LOGIN]


def test_routes_in_the_snapshot_and_the_report(
    routed: Stats, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    snapshot = routed.snapshot(days=2, routes=2)
    assert [row.route for row in snapshot.routes] == [ITEMS, "GET /health"]
    assert snapshot.to_json()["routes"][0] == {
        "route": ITEMS,
        "requests": 20,
        "client_errors": 2,
        "errors": 1,
        "p50_ms": round(snapshot.routes[0].p50, 3),
        "p95_ms": round(snapshot.routes[0].p95, 3),
        "p99_ms": round(snapshot.routes[0].p99, 3),
    }
    assert main(["report", "--redis-url", redis_url, "--days", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(row["route"], row["requests"]) for row in document["routes"]] == [
        (ITEMS, 20),
        ("GET /health", 14),
        (LOGIN, 4),
    ]
    assert main(["report", "--redis-url", redis_url, "--days", "2"]) == 0
    text = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    start = text.index("Endpoints requests 4xx 5xx p50 ms p95 ms p99 ms")
    row = snapshot.routes[0]
    # Whole milliseconds from 10 ms up: the sketch is good to 2 %, more digits would be noise.
    assert text[start + 1] == (f"{ITEMS} 20 2 1 {row.p50:.0f} {row.p95:.0f} {row.p99:.0f}")
    assert "Routes answered 4xx" not in text


def test_no_routes(client: redis.Redis) -> None:
    with Stats(client=client) as stats:
        assert stats.routes() == []
        assert stats.routes(limit=0) == []


def test_routes_recorded_by_the_middleware_read_back(client: redis.Redis, redis_url: str) -> None:
    """End to end: a WSGI app whose handler takes a known time, errors included."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        environ["wsgi_analytics.route"] = "/items/{item_id}" if path.startswith("/items/") else None
        time.sleep(0.02 if "/slow" in path else 0.002)
        status = "404 Not Found" if path.endswith("/gone") else "200 OK"
        if path.endswith("/boom"):
            status = "500 Internal Server Error"
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    recorder = Recorder(redis_url, flush_interval=60)
    wrapped = WSGIAnalytics(app, recorder=recorder)
    for path in ["/items/1", "/items/2", "/items/3/slow", "/items/4/gone", "/items/5/slow/boom"]:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "example.org",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "REMOTE_ADDR": "192.0.2.1",
            "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko Firefox/133.0",
        }
        body = wrapped(environ, lambda status, headers, exc_info=None: lambda data: None)
        b"".join(body)
        getattr(body, "close", lambda: None)()
    recorder.close()
    with Stats(client=client) as stats:
        (row,) = stats.routes()
    assert (row.route, row.requests, row.client_errors, row.errors) == (
        "GET /items/{item_id}",
        5,
        1,
        1,
    )
    # Lower quantiles of 5 durations: ranks 2 (2 ms and a bit) and 3 (20 ms and a bit).
    assert 2 <= row.p50 < 20
    assert row.p95 >= 20 * 0.98
