"""The apps under test: a bare hello app, the same wrapped in the middleware, and in the naive one.

For real servers the variant comes from the environment (``BENCH_VARIANT``: ``bare``,
``wrapped`` or ``naive``, or for the decomposition ``facts`` (only the request facts are read)
and ``silent`` (the whole middleware, but nothing is recorded); ``BENCH_REDIS_URL``), through
factories each worker calls::

    uvicorn --factory benchmarks.apps:asgi_factory
    gunicorn 'benchmarks.apps:wsgi_factory()'
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics
from wsgi_analytics.request.facts import from_environ, from_scope

from .naive import NaiveASGI, NaiveWSGI

__all__ = ["VARIANTS", "asgi_app", "asgi_factory", "hello_asgi", "hello_wsgi", "wsgi_app"]

VARIANTS = ("bare", "wrapped", "naive")
# Where the wrapped app's cost goes: reading the facts, then the rest of the middleware.
DECOMPOSITION = ("facts", "silent")
BODY = b"Hello, world!\n"
_HEADERS = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(BODY)))]
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in _HEADERS]
_START = {"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS}
_BODY = {"type": "http.response.body", "body": BODY, "more_body": False}

Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


def hello_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", _HEADERS)
    return [BODY]


async def hello_asgi(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(_START)
    await send(_BODY)


def _silent(redis_url: str) -> Recorder:
    recorder = Recorder(redis_url, flush_interval=3600.0)
    recorder.record = lambda *args, **kwargs: None  # type: ignore[method-assign]
    return recorder


def facts_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    from_environ(environ)
    return hello_wsgi(environ, start_response)


async def facts_asgi(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        from_scope(scope)
    await hello_asgi(scope, receive, send)


def wsgi_app(variant: str, redis_url: str, **options: Any) -> Any:
    if variant == "bare":
        return hello_wsgi
    if variant == "facts":
        return facts_wsgi
    if variant == "silent":
        return WSGIAnalytics(hello_wsgi, recorder=_silent(redis_url))
    if variant == "wrapped":
        return WSGIAnalytics(hello_wsgi, redis_url=redis_url, **options)
    if variant == "naive":
        return NaiveWSGI(hello_wsgi, redis_url)
    raise ValueError(f"unknown variant {variant!r}")


def asgi_app(variant: str, redis_url: str, **options: Any) -> Any:
    if variant == "bare":
        return hello_asgi
    if variant == "facts":
        return facts_asgi
    if variant == "silent":
        return ASGIAnalytics(hello_asgi, recorder=_silent(redis_url))
    if variant == "wrapped":
        return ASGIAnalytics(hello_asgi, redis_url=redis_url, **options)
    if variant == "naive":
        return NaiveASGI(hello_asgi, redis_url)
    raise ValueError(f"unknown variant {variant!r}")


def _from_environment() -> tuple[str, str]:
    return os.environ.get("BENCH_VARIANT", "bare"), os.environ.get("BENCH_REDIS_URL", "")


def wsgi_factory() -> Any:
    variant, url = _from_environment()
    return wsgi_app(variant, url)


def asgi_factory() -> Any:
    variant, url = _from_environment()
    return asgi_app(variant, url)
