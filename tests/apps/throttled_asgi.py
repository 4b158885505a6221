"""An ASGI app behind one trusted proxy, throttled (``SAMPLE_LIMIT`` POSTs an hour), for the
throttle tests that run it under a real uvicorn."""

from __future__ import annotations

import os

from wsgi_analytics import ASGIAnalytics, Throttle
from wsgi_analytics.adapters.asgi import Receive, Scope, Send


async def site(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = f"{os.getpid()}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


analytics = ASGIAnalytics(
    site,
    throttle=Throttle(limit=int(os.environ.get("SAMPLE_LIMIT", "2")), window=3600),
    trusted_proxies=1,
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope.get("path") == "/_ready":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{os.getpid()}\n".encode()})
        return
    await analytics(scope, receive, send)
