"""A FastAPI app with the middleware added the Starlette way (``sample_fastapi:application``).

The recorder is shared (``recorder=``), as an app that also counts custom events would do. As in
`sample_asgi`, answers name the serving pid, counted in a custom ``workers`` dimension, and
``/_ready`` is answered outside the middleware.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from wsgi_analytics import ASGIAnalytics, Recorder
from wsgi_analytics.adapters.asgi import Receive, Scope, Send

recorder = Recorder(flush_interval=float(os.environ.get("SAMPLE_FLUSH_INTERVAL", "1.0")))
app = FastAPI()
app.add_middleware(ASGIAnalytics, recorder=recorder)


@app.get("/page/{number}", response_class=HTMLResponse)
async def page(number: str) -> str:
    pid = str(os.getpid())
    recorder.track("workers", pid)
    return f"{pid}\n"


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope.get("path") == "/_ready":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{os.getpid()}\n".encode()})
        return
    await app(scope, receive, send)
