"""ASGIAnalytics with plain ASGI apps, driven in-process on a real event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from starlette.types import Message, Receive, Send

from wsgi_analytics import ASGIAnalytics, Recorder
from wsgi_analytics.keys import Keys

from .helpers import zset

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
KEYS = Keys("analytics")


def scope(path: str = "/", method: str = "GET", kind: str = "http") -> dict[str, Any]:
    return {
        "type": kind,
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), (b"user-agent", CHROME.encode())],
        "client": ("192.0.2.8", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def respond(status: int, *chunks: bytes) -> Callable[..., Awaitable[None]]:
    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        for index, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1}
            )

    return app


async def call(app: Any, request: dict[str, Any]) -> list[Message]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await app(request, receive, send)
    return sent


def test_counts_statuses_and_paths(recorder: Recorder, client: redis.Redis) -> None:
    async def main() -> None:
        await call(ASGIAnalytics(respond(200, b"ok"), recorder=recorder), scope("/"))
        await call(ASGIAnalytics(respond(404, b"no"), recorder=recorder), scope("/missing"))
        await call(ASGIAnalytics(respond(301), recorder=recorder), scope("/about"))

    asyncio.run(main())
    recorder.flush()
    assert zset(client, "paths") == {"/": 1.0}
    assert zset(client, "not_found") == {"/missing": 1.0}
    assert zset(client, "statuses") == {"200": 1.0, "404": 1.0, "301": 1.0}


def test_streaming_messages_pass_one_by_one(recorder: Recorder, client: redis.Redis) -> None:
    sent = asyncio.run(
        call(ASGIAnalytics(respond(200, b"a", b"b", b"c"), recorder=recorder), scope("/s/"))
    )
    assert [message.get("body") for message in sent] == [None, b"a", b"b", b"c"]
    assert [message.get("more_body") for message in sent[1:]] == [True, True, False]
    recorder.flush()
    assert zset(client, "paths") == {"/s/": 1.0}


@pytest.mark.parametrize(
    ("started", "expected"),
    [
        pytest.param(False, {"500": 1.0}, id="before the response"),
        pytest.param(True, {"500": 1.0}, id="mid-stream"),
    ],
)
def test_app_exception_counts_500_and_propagates(
    recorder: Recorder, client: redis.Redis, started: bool, expected: dict[str, float]
) -> None:
    failure = RuntimeError("boom")

    async def broken(scope: Any, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        raise failure

    with pytest.raises(RuntimeError) as caught:
        asyncio.run(call(ASGIAnalytics(broken, recorder=recorder), scope("/b/")))
    assert caught.value is failure
    recorder.flush()
    assert zset(client, "statuses") == expected
    assert zset(client, "paths") == {}


@pytest.mark.parametrize(
    ("started", "expected"),
    [
        pytest.param(False, {}, id="cancelled before the response: nothing to count"),
        pytest.param(True, {"200": 1.0}, id="client gone mid-stream: what was answered"),
    ],
)
def test_cancellation_is_not_an_error(
    recorder: Recorder, client: redis.Redis, started: bool, expected: dict[str, float]
) -> None:
    waiting = asyncio.Event()

    async def slow(scope: Any, receive: Receive, send: Send) -> None:
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
        waiting.set()  # the app is inside the request now: cancel it there
        await asyncio.sleep(30)

    async def main() -> None:
        task = asyncio.create_task(call(ASGIAnalytics(slow, recorder=recorder), scope("/c/")))
        await waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    recorder.flush()
    assert zset(client, "statuses") == expected


def test_interleaved_requests_keep_their_own_state(recorder: Recorder, client: redis.Redis) -> None:
    first_started = asyncio.Event()
    second_done = asyncio.Event()

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        if scope["path"] == "/first/":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            first_started.set()
            await second_done.wait()  # the second request starts and ends in between
            await send({"type": "http.response.body", "body": b"1"})
        else:
            await first_started.wait()
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"2"})
            second_done.set()

    shared = ASGIAnalytics(app, recorder=recorder)

    async def main() -> None:
        await asyncio.gather(call(shared, scope("/first/")), call(shared, scope("/second/")))

    asyncio.run(main())
    recorder.flush()
    assert zset(client, "statuses") == {"200": 1.0, "404": 1.0}
    assert zset(client, "paths") == {"/first/": 1.0}
    assert zset(client, "not_found") == {"/second/": 1.0}


@pytest.mark.parametrize("kind", ["lifespan", "websocket"])
def test_other_scopes_pass_through_untouched(
    recorder: Recorder, client: redis.Redis, kind: str
) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        seen.append((scope, receive, send))

    request = scope("/ws/", kind=kind)

    async def send(message: Message) -> None:
        pass

    asyncio.run(ASGIAnalytics(app, recorder=recorder)(request, receive, send))
    assert len(seen) == 1
    assert seen[0][0] is request
    if kind == "websocket":
        # lifespan: receive and send are watched, to flush before shutdown completes (uvicorn
        # ends with SIGTERM's default action, so atexit does not run); tests/test_servers.py
        assert seen[0][1] is receive
        assert seen[0][2] is send
    recorder.flush()
    assert client.keys("*") == []
