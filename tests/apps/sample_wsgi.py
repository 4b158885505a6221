"""The WSGI app the server tests run under gunicorn (``sample_wsgi:application``).

Every answer names the worker process that served it, and the app counts that pid in a custom
``workers`` dimension, so a test can compare what each worker served with what reached Redis.
``/_ready`` is answered outside the middleware: health probes are not counted.
The Redis URL comes from ``WSGI_ANALYTICS_REDIS_URL``, as in a real deployment.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from wsgi_analytics import WSGIAnalytics
from wsgi_analytics.adapters.wsgi import StartResponse


def site(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    pid = str(os.getpid())
    analytics.recorder.track("workers", pid)
    if environ.get("PATH_INFO", "").startswith("/missing"):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    body = f"{pid}\n".encode()
    start_response(
        "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))]
    )
    return [body]


analytics = WSGIAnalytics(
    site,
    flush_interval=float(os.environ.get("SAMPLE_FLUSH_INTERVAL", "1.0")),
    offload=os.environ.get("SAMPLE_OFFLOAD") == "1",
)


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/_ready":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"{os.getpid()}\n".encode()]
    return analytics(environ, start_response)
