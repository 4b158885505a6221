"""The throttle through real Flask and FastAPI apps: refusals answered, counted, app not called."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from wsgi_analytics import ASGIAnalytics, WSGIAnalytics
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.keys import Keys, today
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.throttle import Throttle

KEYS = Keys("analytics")
CLIENT = "203.0.113.7"
OTHER = "203.0.113.8"
PROXY = "10.0.0.1"


@pytest.fixture
def throttle() -> Iterator[Throttle]:
    made = Throttle(limit=5, window=3600)
    yield made
    made.close()


def check_refusal(status: int, headers: Any, body: bytes) -> None:
    assert status == 429
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["RateLimit-Policy"] == '"default";q=5;w=3600'
    match = re.fullmatch(r'"default";r=0;t=(\d+)', headers["RateLimit"])
    assert match is not None
    assert 1 <= int(headers["Retry-After"]) == int(match.group(1)) <= 3600
    assert body.startswith(b"Too many requests")


def check_counted(client: redis.Redis, refused: int, path: str = "/comment") -> None:
    day = today()
    assert client.zscore(KEYS.day("throttled", day), path) == refused
    assert client.zscore(KEYS.day("statuses", day), "429") == refused
    assert client.zscore(KEYS.all("statuses"), "429") == refused


class Calls:
    def __init__(self) -> None:
        self.count = 0


def flask_app(calls: Calls) -> flask.Flask:
    app = flask.Flask("throttled")

    def comment() -> str:
        calls.count += 1
        return "thanks"

    app.add_url_rule("/comment", "comment", comment, methods=["POST"])
    app.add_url_rule("/", "home", lambda: "home")
    return app


def test_flask(redis_url: str, client: redis.Redis, throttle: Throttle) -> None:
    calls = Calls()
    app = flask_app(calls)
    middleware = WSGIAnalytics(app.wsgi_app, redis_url=redis_url, throttle=throttle)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    browser = app.test_client()
    try:
        statuses = []
        for _ in range(6):
            with browser.post("/comment", environ_base={"REMOTE_ADDR": CLIENT}) as response:
                statuses.append(response.status_code)
                last = (response.status_code, response.headers, response.data)
        assert statuses == [200] * 5 + [429]
        check_refusal(*last)
        assert calls.count == 5  # the refused request never reached the view
        with browser.get("/", environ_base={"REMOTE_ADDR": CLIENT}) as response:
            assert response.status_code == 200  # GETs are not throttled
        with browser.post("/comment", environ_base={"REMOTE_ADDR": OTHER}) as response:
            assert response.status_code == 200  # another client has its own quota
        middleware.recorder.flush()
        check_counted(client, refused=1)
        assert client.zscore(KEYS.day("statuses", today()), "200") == 7
    finally:
        middleware.recorder.close()


def test_flask_behind_a_proxy(redis_url: str, client: redis.Redis, throttle: Throttle) -> None:
    calls = Calls()
    app = flask_app(calls)
    recorder = Recorder(redis_url, flush_interval=60)
    app.wsgi_app = WSGIAnalytics(  # type: ignore[method-assign]
        app.wsgi_app, recorder=recorder, throttle=throttle, trusted_proxies=1
    )
    browser = app.test_client()

    def comment(forwarded: str) -> int:
        environ = {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}
        with browser.post("/comment", environ_base=environ) as response:
            return response.status_code

    try:
        # A spammer rotating a fake address on the left of the proxy's entry gains nothing...
        spam = [comment(f"198.51.100.{i}, {CLIENT}") for i in range(7)]
        assert spam == [200] * 5 + [429] * 2
        # ...while the clients behind the same proxy keep their own quotas.
        assert [comment(f"192.0.2.{i}") for i in range(10)] == [200] * 10
        recorder.flush()
        check_counted(client, refused=2)
    finally:
        recorder.close()


def fastapi_app(calls: Calls, throttle: Throttle, recorder: Recorder) -> FastAPI:
    app = FastAPI()

    @app.post("/comment")
    async def comment() -> dict[str, bool]:
        calls.count += 1
        return {"ok": True}

    @app.get("/")
    async def home() -> dict[str, bool]:
        return {"home": True}

    app.add_middleware(ASGIAnalytics, recorder=recorder, throttle=throttle)
    return app


@pytest.mark.parametrize(
    "one_loop",
    [
        pytest.param(True, id="one loop (with TestClient)"),
        pytest.param(False, id="a loop per request"),
    ],
)
def test_fastapi(redis_url: str, client: redis.Redis, throttle: Throttle, one_loop: bool) -> None:
    calls = Calls()
    recorder = Recorder(redis_url, flush_interval=60)
    app = fastapi_app(calls, throttle, recorder)
    browser = TestClient(app, client=(CLIENT, 50000))
    other = TestClient(app, client=(OTHER, 50000))
    try:
        if one_loop:
            browser.__enter__()
        responses = [browser.post("/comment") for _ in range(6)]
        assert [response.status_code for response in responses] == [200] * 5 + [429]
        last = responses[-1]
        check_refusal(last.status_code, last.headers, last.content)
        assert calls.count == 5
        assert browser.get("/").status_code == 200
        assert other.post("/comment").status_code == 200
        recorder.flush()
        check_counted(client, refused=1)
    finally:
        if one_loop:
            browser.__exit__(None, None, None)
        recorder.close()


def test_fastapi_concurrent_posts(redis_url: str, client: redis.Redis) -> None:
    calls = Calls()
    recorder = Recorder(redis_url, flush_interval=60)
    # 100 connections opened at once: on a loaded test machine some take longer than the
    # default 0.25 s, and a timeout fails open. The count is what this test is about.
    throttle = Throttle(limit=5, window=3600, timeout=10.0)
    app = fastapi_app(calls, throttle, recorder)

    async def storm() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(CLIENT, 123))
        async with httpx.AsyncClient(transport=transport, base_url="http://site") as browser:
            responses = await asyncio.gather(*(browser.post("/comment") for _ in range(100)))
        return [response.status_code for response in responses]

    try:
        statuses = asyncio.run(storm())
        assert statuses.count(200) == 5
        assert statuses.count(429) == 95
        assert calls.count == 5
        recorder.flush()
        check_counted(client, refused=95)
    finally:
        recorder.close()
        throttle.close()


@pytest.mark.parametrize(
    ("fail_open", "status"),
    [pytest.param(True, 200, id="fail open"), pytest.param(False, 503, id="fail closed")],
)
def test_flask_with_redis_down(
    private_server: EmbeddedServer, fail_open: bool, status: int
) -> None:
    calls = Calls()
    app = flask_app(calls)
    throttle = Throttle(limit=1, window=60, fail_open=fail_open)
    middleware = WSGIAnalytics(app.wsgi_app, redis_url=private_server.url, throttle=throttle)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    browser = app.test_client()
    private_server.stop()
    try:
        posts = []
        for _ in range(3):
            with browser.post("/comment", environ_base={"REMOTE_ADDR": CLIENT}) as response:
                posts.append(response.status_code)
        assert posts == [status] * 3
        assert calls.count == (3 if fail_open else 0)
        with browser.get("/") as response:
            assert response.status_code == 200  # pages are served either way
    finally:
        throttle.close()
        middleware.recorder.close()


def test_the_throttle_and_unique_visitors_agree_on_who_an_ipv6_client_is(
    redis_url: str, client: redis.Redis
) -> None:
    """One identity for both: an IPv6 client is its /64 for the throttle and for the unique
    visitors alike. The throttle used to take its own grouping (``ipv6_prefix=``), so the two
    could disagree about who a client is; the option is gone."""
    with pytest.raises(TypeError):
        Throttle(limit=1, ipv6_prefix=48)  # type: ignore[call-arg]

    def site(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/html")])
        return [b"ok"]

    throttle = Throttle(limit=1, window=3600)
    app = WSGIAnalytics(site, redis_url=redis_url, throttle=throttle, flush_interval=3600)
    try:
        answers = {}
        for address in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:3::1"):
            environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/c", "REMOTE_ADDR": address}
            answers[address] = _status(app, environ)
            view = {
                "REQUEST_METHOD": "GET",
                "PATH_INFO": "/",
                "REMOTE_ADDR": address,
                "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 "
                "Firefox/133.0",
            }
            _status(app, view)
        app.recorder.flush()
    finally:
        app.recorder.close()
        throttle.close()
    # Same /64: one client to the throttle (the second POST refused)...
    assert answers == {"2001:db8:1:2::1": 200, "2001:db8:1:2::2": 429, "2001:db8:1:3::1": 200}
    # ...and one visitor; the next /64 is another of each.
    assert client.pfcount(KEYS.uniques(today())) == 2


def _status(app: WSGIAnalytics, environ: dict[str, Any]) -> int:
    statuses: list[int] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        statuses.append(int(status[:3]))

    body = app(environ, start_response)
    b"".join(body)
    close = getattr(body, "close", None)  # a refusal's body is a plain list
    if close is not None:
        close()
    return statuses[0]
