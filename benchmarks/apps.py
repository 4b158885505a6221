"""The apps under test on real servers, chosen by the environment (see `benchmarks.peers`).

- ``BENCH_APP``: ``asgi`` or ``fastapi`` (for `asgi_factory`), ``wsgi`` or ``flask`` (for
  `wsgi_factory`); by default the raw hello apps.
- ``BENCH_VARIANT``: ``bare``, ``wrapped``, ``naive``, a peer (``prometheus``,
  ``starlette_exporter``, ``opentelemetry``, ``flask_exporter``), or for the decomposition of
  the raw apps ``facts`` (only the request facts are read) and ``silent`` (the whole middleware,
  recording nothing).
- ``BENCH_REDIS_URL``; ``BENCH_OPTIONS``: JSON of extra options for our middleware.
- ``BENCH_PROBE=<directory>``: run `benchmarks.probe` in each server process.

::

    uvicorn --factory benchmarks.apps:asgi_factory
    gunicorn 'benchmarks.apps:wsgi_factory()'
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, MutableMapping
from typing import Any

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics
from wsgi_analytics.request.facts import from_environ, from_scope

from . import probe
from .peers import KINDS, Receive, Send, build, hello_asgi, hello_wsgi

__all__ = [
    "DECOMPOSITION",
    "VARIANTS",
    "asgi_app",
    "asgi_factory",
    "hello_asgi",
    "hello_wsgi",
    "wsgi_app",
    "wsgi_factory",
]

VARIANTS = ("bare", "wrapped", "offload", "naive")
# Where the wrapped app's cost goes: reading the facts, then the rest of the middleware.
DECOMPOSITION = ("facts", "silent")


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


def wsgi_app(variant: str, redis_url: str, kind: str = "wsgi", **options: Any) -> Any:
    if variant == "facts":
        return facts_wsgi
    if variant == "silent":
        return WSGIAnalytics(hello_wsgi, recorder=_silent(redis_url))
    return build(kind, variant, redis_url, **options).app


def asgi_app(variant: str, redis_url: str, kind: str = "asgi", **options: Any) -> Any:
    if variant == "facts":
        return facts_asgi
    if variant == "silent":
        return ASGIAnalytics(hello_asgi, recorder=_silent(redis_url))
    return build(kind, variant, redis_url, **options).app


def _from_environment(default_kind: str) -> tuple[str, str, str, dict[str, Any]]:
    kind = os.environ.get("BENCH_APP", default_kind)
    if kind not in KINDS:
        raise ValueError(f"unknown BENCH_APP {kind!r}")
    options = json.loads(os.environ.get("BENCH_OPTIONS") or "{}")
    return (
        kind,
        os.environ.get("BENCH_VARIANT", "bare"),
        os.environ.get("BENCH_REDIS_URL", ""),
        options,
    )


def _probe() -> bool:
    directory = os.environ.get("BENCH_PROBE")
    if directory:
        probe.install(directory)
    return bool(directory)


def wsgi_factory() -> Any:
    _probe()  # in a WSGI worker only the tick thread: there is no event loop
    kind, variant, url, options = _from_environment("wsgi")
    return wsgi_app(variant, url, kind, **options)


def asgi_factory() -> Any:
    probing = _probe()
    kind, variant, url, options = _from_environment("asgi")
    app = asgi_app(variant, url, kind, **options)
    if not probing:
        return app

    async def watched(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        probe.watch_loop()
        await app(scope, receive, send)

    return watched
