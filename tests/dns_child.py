"""Run by `test_dns_stall` in a private mount namespace whose /etc/resolv.conf names a DNS
server that never answers: time throttled POSTs through the WSGI and ASGI adapters pointed at
a Redis host name that cannot be resolved, and print the times as one JSON line.

    python -m tests.dns_child HOSTNAME
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from wsgi_analytics import ASGIAnalytics, Throttle, WSGIAnalytics
from wsgi_analytics.adapters.asgi import Message, Receive, Scope, Send


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


async def hello_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi_post(app: WSGIAnalytics) -> tuple[float, str]:
    statuses: list[str] = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/comment", "REMOTE_ADDR": "198.51.100.1"}
    start = time.monotonic()
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    elapsed = time.monotonic() - start
    getattr(body, "close", lambda: None)()
    return elapsed, statuses[0]


async def asgi_post(app: ASGIAnalytics) -> tuple[float, int]:
    sent: list[dict[str, Any]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(dict(message))

    scope = {"type": "http", "method": "POST", "path": "/comment", "headers": [],
             "client": ("198.51.100.1", 1234)}  # fmt: skip
    start = time.monotonic()
    await app(scope, receive, send)
    return time.monotonic() - start, int(sent[0]["status"])


def main() -> None:
    url = f"redis://{sys.argv[1]}:6379/0"
    wsgi = WSGIAnalytics(hello, redis_url=url, throttle=Throttle(limit=5))
    asgi = ASGIAnalytics(hello_asgi, redis_url=url, throttle=Throttle(limit=5))
    result: dict[str, Any] = {"wsgi": [], "asgi": []}
    for _ in range(3):
        result["wsgi"].append(wsgi_post(wsgi))
        time.sleep(1.1)  # past the throttle's rest after a failure: it asks again

    async def posts() -> None:
        for _ in range(3):
            result["asgi"].append(await asgi_post(asgi))
            await asyncio.sleep(1.1)

    asyncio.run(posts())
    print(json.dumps(result), flush=True)
    os._exit(0)  # no final flush: the name would stall it too


if __name__ == "__main__":
    main()
