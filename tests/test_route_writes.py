"""How route counts and sketches reach Redis: one command per group of sketches, the documented
keys, and sketches deleted with the routes trimming removes (bounded storage)."""

from __future__ import annotations

from typing import Any, cast

import redis

from wsgi_analytics import Recorder, Stats
from wsgi_analytics.keys import SKETCH_GROUPS, Keys, today
from wsgi_analytics.request.facts import from_environ
from wsgi_analytics.sketch import bucket

from .helpers import zscores

KEYS = Keys()


def record(recorder: Recorder, route: str, seconds: float, status: int = 200) -> None:
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/x", "HTTP_USER_AGENT": "curl/8.5.0"}
    recorder.record(
        from_environ(environ),
        status,
        content_type="application/json",
        route=route,
        duration=seconds,
    )


def sketch_keys(client: redis.Redis) -> set[str]:
    found = client.scan_iter(match="{analytics:latency.v1:*}:GET *")  # not the batch markers
    return {cast("str", key) for key in found}


def test_many_routes_one_command_per_group(recorder: Recorder, client: redis.Redis) -> None:
    routes = [f"/r/{name}" for name in ("alpha", "beta", "gamma")] + [f"/p{n}" for n in range(300)]
    for index, route in enumerate(routes):
        record(recorder, route, 0.001 * (1 + index % 7))
    client.config_resetstat()
    recorder.flush()
    stats: dict[str, Any] = client.info("commandstats")
    # One EVAL per dimension and day (statuses, bots, routes), and one per group of sketches;
    # one more at a recorder's first write, storing its retention (`writer.RETENTION`).
    assert stats["cmdstat_eval"]["calls"] <= 3 + SKETCH_GROUPS + 1
    day = today()
    assert zscores(client, KEYS.sketch("GET /r/beta", day)) == {str(bucket(0.002)): 1.0}
    assert zscores(client, KEYS.sketch("GET /r/beta", None)) == {str(bucket(0.002)): 1.0}
    assert len(sketch_keys(client)) == 2 * len(routes)
    assert client.ttl(KEYS.sketch("GET /r/beta", day)) > 0  # expires with the retention
    assert client.ttl(KEYS.sketch("GET /r/beta", None)) == -1
    with Stats(client=client) as reader:
        rows = {row.route: row for row in reader.routes(limit=400)}
    assert len(rows) == len(routes)
    assert rows["GET /r/gamma"].p50 == rows["GET /r/gamma"].p99
    assert abs(rows["GET /r/gamma"].p50 - 3.0) <= 0.02 * 3.0


def test_trimmed_routes_lose_their_sketches(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, max_members=10)
    try:
        # Route n gets n + 1 requests: the ten busiest survive the trim.
        for number in range(40):
            for _ in range(number + 1):
                record(recorder, f"/busy/{number}", 0.005)
        recorder.flush()
    finally:
        recorder.close()
    day = today()
    survivors = {f"GET /busy/{number}" for number in range(30, 40)}
    assert set(zscores(client, KEYS.day("routes", day))) == survivors
    assert set(zscores(client, KEYS.all("routes"))) == survivors
    expected = {KEYS.sketch(route, d) for route in survivors for d in (day, None)}
    assert sketch_keys(client) == expected
