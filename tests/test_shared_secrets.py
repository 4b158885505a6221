"""After Redis restarts empty, workers started before and after agree again on the throttle's
hashing secret and on the day's visitor salt.

A worker that kept its secret while a newer one created another would hold a bucket per worker
for the same client (the limit counted once per worker), and a salt per worker would count each
visitor once per worker. Each worker here is its own adapter or recorder, as each process is.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest
import redis

from wsgi_analytics import Recorder, Throttle, WSGIAnalytics
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.keys import Keys, today
from wsgi_analytics.request.facts import from_environ
from wsgi_analytics.throttle.policy import REST, SECRET_TTL

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def worker(url: str) -> WSGIAnalytics:
    return WSGIAnalytics(hello, redis_url=url, throttle=Throttle(limit=3, window=3600))


def post(app: WSGIAnalytics, client: str) -> int:
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/comment", "REMOTE_ADDR": client}
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return int(statuses[0][:3])


@pytest.mark.slow
@pytest.mark.parametrize("first", ["old", "new"], ids=["old worker first", "new worker first"])
def test_throttle_workers_agree_after_an_empty_restart(
    private_server: EmbeddedServer, first: str
) -> None:
    old = worker(private_server.url)
    new: WSGIAnalytics | None = None
    try:
        assert post(old, "198.51.100.1") == 200  # the old worker holds a secret now
        private_server.stop()
        private_server.start()  # empty: no persistence
        time.sleep(SECRET_TTL)  # a restart takes longer than that
        # Another client's POST meets the connection the restart broke: let through, and
        # Redis is left alone for a moment (the failure policy), then asked again.
        assert post(old, "198.51.100.2") == 200
        time.sleep(REST + 0.1)
        new = worker(private_server.url)
        order = [old, new] if first == "old" else [new, old]
        statuses = [post(order[n % 2], "203.0.113.9") for n in range(6)]
        assert statuses == [200, 200, 200, 429, 429, 429]
    finally:
        old.recorder.close()
        if new is not None:
            new.recorder.close()


def page_view(client: str) -> Any:
    return from_environ(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": CHROME,
            "REMOTE_ADDR": client,
        }
    )


@pytest.mark.slow
@pytest.mark.parametrize("first", ["old", "new"], ids=["old worker first", "new worker first"])
def test_visitor_salts_agree_after_an_empty_restart(
    private_server: EmbeddedServer, first: str
) -> None:
    old = Recorder(private_server.url, flush_interval=3600)
    new: Recorder | None = None
    try:
        old.record(page_view("198.51.100.1"), 200)
        old.flush()  # the old worker holds the day's salt now
        private_server.stop()
        private_server.start()
        new = Recorder(private_server.url, flush_interval=3600)
        # The same visitor reaches both workers, after the restart.
        for recorder in [old, new] if first == "old" else [new, old]:
            recorder.record(page_view("203.0.113.9"), 200)
            recorder.flush()
        reader = redis.Redis.from_url(private_server.url)
        try:
            assert reader.pfcount(Keys().uniques(today())) == 1
        finally:
            reader.close()
    finally:
        old.close()
        if new is not None:
            new.close()


def test_reading_the_secret_again_costs_no_round_trip_of_its_own(
    redis_url: str, client: redis.Redis
) -> None:
    """The secret is read again (at most every SECRET_TTL seconds) in the pipeline of a
    decision: every throttled request is one script call, and only the very first, which
    has no secret to decide with yet, takes a second round trip."""
    app = worker(redis_url)
    try:
        client.config_resetstat()
        start = time.monotonic()
        statuses = [post(app, f"198.51.100.{n}") for n in range(30)]
        elapsed = time.monotonic() - start
        stats = client.info("commandstats")
    finally:
        app.recorder.close()
    assert statuses == [200] * 30
    # A first EVALSHA meets an empty script cache (NOSCRIPT, a failed call) and loads it.
    scripts = sum(
        stats.get(f"cmdstat_{name}", {}).get("calls", 0)
        - stats.get(f"cmdstat_{name}", {}).get("failed_calls", 0)
        for name in ("evalsha", "eval")
    )
    reads = stats["cmdstat_get"]["calls"]
    assert scripts == 30
    assert 1 <= reads <= 2 + elapsed / SECRET_TTL
