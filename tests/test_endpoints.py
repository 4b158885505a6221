"""Routes, their errors and their response times, through real apps (issue 11): FastAPI path
parameters and routers, Starlette Route and Mount, raw WSGI and ASGI apps naming their route,
the fallback templates, unmatched 404s; quantiles checked against the durations the test itself
observes (sleeping endpoints, sync and async, and slow streaming bodies)."""

from __future__ import annotations

import asyncio
import io
import math
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.requests import Request  # FastAPI reads the annotations from the module

from wsgi_analytics import ASGIAnalytics, Recorder, RouteStats, Stats, WSGIAnalytics

from .helpers import zset

Start = Callable[..., Any]
AGENT = "python-httpx/0.27.0"


def environ(path: str, method: str = "GET") -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": AGENT,
        "REMOTE_ADDR": "192.0.2.40",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }


def wsgi_call(app: Any, path: str, method: str = "GET") -> tuple[int, float]:
    """Call, read every chunk, close, as a server does: the status, and the seconds it took."""
    statuses: list[str] = []
    started = time.perf_counter()
    body = app(
        environ(path, method), lambda status, headers, exc_info=None: statuses.append(status)
    )
    try:
        for _chunk in body:
            pass
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return int(statuses[-1][:3]), time.perf_counter() - started


async def asgi_call(app: Any, path: str, method: str = "GET") -> tuple[int, float]:
    """One request straight to an ASGI app: the status, and the seconds until its last chunk."""
    sent: list[dict[str, Any]] = []
    requests = [{"type": "http.request", "body": b"", "more_body": False}]
    answered = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await answered.wait()  # as a server does: the client is there until the answer is
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            answered.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), (b"user-agent", AGENT.encode())],
        "client": ("192.0.2.41", 50000),
        "server": ("example.com", 80),
    }
    started = time.perf_counter()
    await app(scope, receive, send)
    return int(sent[0]["status"]), time.perf_counter() - started


def routes(client: redis.Redis) -> dict[str, RouteStats]:
    with Stats(client=client) as stats:
        return {row.route: row for row in stats.routes(limit=100)}


def counts(rows: dict[str, RouteStats]) -> dict[str, tuple[int, int, int]]:
    return {route: (row.requests, row.client_errors, row.errors) for route, row in rows.items()}


# -- templates --------------------------------------------------------------------------------


def test_fastapi_path_parameters_routers_and_errors(
    recorder: Recorder, client: redis.Redis
) -> None:
    from fastapi import APIRouter, FastAPI, HTTPException
    from fastapi.testclient import TestClient

    app = FastAPI()

    @app.get("/users/{user_id}/posts/{post_id}")
    def post(user_id: int, post_id: int) -> dict[str, int]:
        return {"user": user_id, "post": post_id}

    @app.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        if item_id == "missing":
            raise HTTPException(status_code=404)
        return {"item": item_id}

    @app.post("/items", status_code=201)
    def create() -> dict[str, bool]:
        return {"created": True}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("the endpoint failed")

    router = APIRouter(prefix="/orgs/{org}")

    @router.get("/members/{member_id}")
    def member(org: str, member_id: int, request: Request) -> dict[str, str]:
        return {"org": org}

    app.include_router(router, prefix="/api/v1")
    app.add_middleware(ASGIAnalytics, recorder=recorder)
    browser = TestClient(app, raise_server_exceptions=False)

    sent = [
        ("GET", "/users/1/posts/2", 200),
        ("GET", "/users/5/posts/9", 200),
        ("GET", "/items/abc", 200),
        ("GET", "/items/missing", 404),
        ("POST", "/items", 201),
        ("GET", "/api/v1/orgs/acme/members/42", 200),
        ("GET", "/api/v1/orgs/globex/members/7", 200),
        ("GET", "/users/1/posts/not-a-number", 422),
        ("GET", "/nope/123", 404),
        ("DELETE", "/wp-admin/", 404),
        ("GET", "/boom", 500),
    ]
    for method, path, status in sent:
        assert browser.request(method, path).status_code == status, path
    recorder.flush()
    assert counts(routes(client)) == {
        "GET /users/{user_id}/posts/{post_id}": (3, 1, 0),
        "GET /items/{item_id}": (2, 1, 0),
        "POST /items": (1, 0, 0),
        "GET /api/v1/orgs/{org}/members/{member_id}": (2, 0, 0),
        "GET (unmatched)": (1, 1, 0),
        "DELETE (unmatched)": (1, 1, 0),
        "GET /boom": (1, 0, 1),
    }


def test_starlette_routes_and_mounts(
    recorder: Recorder, client: redis.Redis, tmp_path: Path
) -> None:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount, Route, Router
    from starlette.staticfiles import StaticFiles
    from starlette.testclient import TestClient

    (tmp_path / "site.css").write_text("body {}")

    async def text(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    shop = Router(routes=[Route("/cart", text), Route("/items/{sku}", text)])
    app = Starlette(
        routes=[
            Route("/", text),
            Route("/users/{uid:int}", text),
            Mount("/admin", routes=[Route("/orgs/{org}/users/{uid}", text)]),
            Mount("/shops/{shop}", app=shop),
            Mount("/static", StaticFiles(directory=tmp_path)),
        ],
        middleware=[Middleware(ASGIAnalytics, recorder=recorder)],
    )
    browser = TestClient(app)
    for path, status in [
        ("/", 200),
        ("/users/7", 200),
        ("/users/8", 200),
        ("/admin/orgs/acme/users/3", 200),
        ("/shops/berlin/cart", 200),
        ("/shops/paris/items/A-100", 200),
        ("/static/site.css", 200),
        ("/static/missing.css", 404),
        ("/admin/nothing-here", 404),
    ]:
        assert browser.get(path).status_code == status, path
    recorder.flush()
    assert counts(routes(client)) == {
        "GET /": (1, 0, 0),
        "GET /users/{uid}": (2, 0, 0),
        "GET /admin/orgs/{org}/users/{uid}": (1, 0, 0),
        "GET /shops/{shop}/cart": (1, 0, 0),
        "GET /shops/{shop}/items/{sku}": (1, 0, 0),
        "GET /static/{path}": (2, 1, 0),  # StaticFiles matched; the file was missing
        "GET (unmatched)": (1, 1, 0),
    }


def test_raw_apps_name_their_route(recorder: Recorder, client: redis.Redis) -> None:
    def wsgi_app(env: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        if env["PATH_INFO"].startswith("/things/"):
            env["wsgi_analytics.route"] = "/things/{thing}"
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b"{}"]
        if env["PATH_INFO"] == "/fail":
            env["wsgi_analytics.route"] = "/fail"
            raise RuntimeError("the app failed")
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"missing"]

    async def asgi_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        scope["wsgi_analytics.route"] = "/widgets/{widget}"
        start = {"type": "http.response.start", "status": 503, "headers": []}
        await send(start)
        await send({"type": "http.response.body", "body": b""})

    wrapped = WSGIAnalytics(wsgi_app, recorder=recorder)
    assert wsgi_call(wrapped, "/things/red-hat")[0] == 200
    assert wsgi_call(wrapped, "/things/blue-hat")[0] == 200
    assert wsgi_call(wrapped, "/things/blue-hat", "PATCH")[0] == 200
    assert wsgi_call(wrapped, "/nothing")[0] == 404
    with pytest.raises(RuntimeError, match="the app failed"):
        wsgi_call(wrapped, "/fail")
    asgi = ASGIAnalytics(asgi_app, recorder=recorder)
    assert asyncio.run(asgi_call(asgi, "/widgets/w-1"))[0] == 503
    recorder.flush()
    assert counts(routes(client)) == {
        "GET /things/{thing}": (2, 0, 0),
        "PATCH /things/{thing}": (1, 0, 0),
        "GET (unmatched)": (1, 1, 0),
        "GET /fail": (1, 0, 1),  # the exception counts as a 500, and propagates unchanged
        "GET /widgets/{widget}": (1, 0, 1),
    }
    assert zset(client, "statuses") == {"200": 3.0, "404": 1.0, "500": 1.0, "503": 1.0}


def test_fallback_templates_and_scanners(recorder: Recorder, client: redis.Redis) -> None:
    def app(env: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        found = not env["PATH_INFO"].startswith("/scan/")
        start_response("200 OK" if found else "404 Not Found", [("Content-Type", "text/html")])
        return [b"page"]

    wrapped = WSGIAnalytics(app, recorder=recorder)
    for path in [
        "/orders/1001",
        "/orders/1002",
        "/orders/550e8400-e29b-41d4-a716-446655440000",
        "/orders/1001/invoice.pdf",
        "/commits/3f2a9c1b",
        "/blog/my-first-post/",
        "/blog/python-3-release-notes/",
        "/users/me",
    ]:
        assert wsgi_call(wrapped, path)[0] == 200
    for number in range(200):  # a scanner's random paths all answered 404
        assert wsgi_call(wrapped, f"/scan/{number:x}-wp-{number}.php")[0] == 404
    recorder.flush()
    assert counts(routes(client)) == {
        "GET /orders/{id}": (3, 0, 0),
        "GET /orders/{id}/invoice.pdf": (1, 0, 0),
        "GET /commits/{id}": (1, 0, 0),
        "GET /blog/my-first-post/": (1, 0, 0),
        "GET /blog/python-3-release-notes/": (1, 0, 0),
        "GET /users/me": (1, 0, 0),
        "GET (unmatched)": (200, 200, 0),
    }


# -- response times ----------------------------------------------------------------------------

# Delays (seconds) of a known mix: most fast, a slower tail.
DELAYS = [0.01] * 12 + [0.025] * 5 + [0.05] * 2 + [0.1]
QS = (0.5, 0.95, 0.99)


def lower_quantile(values: list[float], q: float) -> float:
    """The quantile the sketch estimates (`wsgi_analytics.sketch`): the element of rank
    floor(q (n - 1)) in sorted order, counting from 0."""
    return sorted(values)[math.floor(q * (len(values) - 1))]


def check_quantiles(row: RouteStats, observed: list[float]) -> None:
    """p50, p95 and p99 each within 5 % of the exact quantile of what the test observed."""
    assert row.requests == len(observed)
    for q, got in zip(QS, (row.p50, row.p95, row.p99), strict=True):
        exact = lower_quantile(observed, q) * 1000
        assert abs(got - exact) <= 0.05 * exact, (row.route, q, got, exact)


def test_sync_latency_quantiles(recorder: Recorder, client: redis.Redis) -> None:
    def app(env: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        env["wsgi_analytics.route"] = "/sleep/{ms}"
        time.sleep(int(env["PATH_INFO"].rsplit("/", 1)[1]) / 1e6)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b"{}"]

    wrapped = WSGIAnalytics(app, recorder=recorder)
    observed = [wsgi_call(wrapped, f"/sleep/{int(delay * 1e6)}")[1] for delay in DELAYS]
    recorder.flush()
    check_quantiles(routes(client)["GET /sleep/{ms}"], observed)


def test_async_latency_quantiles_under_concurrency(recorder: Recorder, client: redis.Redis) -> None:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/wait/{micros}")
    async def wait(micros: int) -> dict[str, int]:
        await asyncio.sleep(micros / 1e6)
        return {"waited": micros}

    wrapped = ASGIAnalytics(app, recorder=recorder)

    async def run() -> list[float]:
        calls = [asgi_call(wrapped, f"/wait/{int(delay * 1e6)}") for delay in DELAYS]
        return [seconds for _, seconds in await asyncio.gather(*calls)]

    observed = asyncio.run(run())
    recorder.flush()
    check_quantiles(routes(client)["GET /wait/{micros}"], observed)


def test_streaming_bodies_are_timed_to_the_last_chunk(
    recorder: Recorder, client: redis.Redis
) -> None:
    """The head goes out at once, the body takes ~60 ms: the time is the body's."""

    def wsgi_app(env: dict[str, Any], start_response: Start) -> Iterator[bytes]:
        env["wsgi_analytics.route"] = "/export"
        start_response("200 OK", [("Content-Type", "text/csv")])
        for _ in range(4):
            time.sleep(0.015)
            yield b"a,b\n"

    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            await asyncio.sleep(0.015)
            yield b"a,b\n"

    async def export(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/csv")

    asgi = ASGIAnalytics(Starlette(routes=[Route("/stream", export)]), recorder=recorder)
    wrapped = WSGIAnalytics(wsgi_app, recorder=recorder)
    sync_seen = [wsgi_call(wrapped, "/export")[1] for _ in range(3)]

    async def run() -> list[float]:
        return [(await asgi_call(asgi, "/stream"))[1] for _ in range(3)]

    async_seen = asyncio.run(run())
    recorder.flush()
    rows = routes(client)
    check_quantiles(rows["GET /export"], sync_seen)
    check_quantiles(rows["GET /stream"], async_seen)
    assert rows["GET /export"].p50 >= 55.0
    assert rows["GET /stream"].p50 >= 55.0
