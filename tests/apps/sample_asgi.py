"""The ASGI app the server tests run under uvicorn and gunicorn's ``UvicornWorker``.

A plain ASGI app (no framework) that speaks the lifespan protocol, wrapped in `ASGIAnalytics`.
As in `sample_wsgi`, answers name the serving pid, counted in a custom ``workers`` dimension, and
``/_ready`` is answered outside the middleware.
"""

from __future__ import annotations

import os

from wsgi_analytics import ASGIAnalytics
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
    pid = str(os.getpid())
    analytics.recorder.track("workers", pid)
    missing = str(scope.get("path", "")).startswith("/missing")
    body = b"not found\n" if missing else f"{pid}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 404 if missing else 200,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


analytics = ASGIAnalytics(
    site,
    flush_interval=float(os.environ.get("SAMPLE_FLUSH_INTERVAL", "1.0")),
    offload=os.environ.get("SAMPLE_OFFLOAD") == "1",
)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope.get("path") == "/_ready":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{os.getpid()}\n".encode()})
        return
    await analytics(scope, receive, send)
