"""The apps every benchmark compares, ours and the peers', each built the way its docs show.

Four kinds of app, each a hello app answering ``text/html`` (a document, so that every GET is a
page view and the counting really runs):

- ``asgi``: a raw ASGI callable; ``fastapi``: FastAPI with two routes (``/`` and
  ``/{section}/{item}/``);
- ``wsgi``: a raw WSGI callable; ``flask``: Flask with the same two routes.

Per kind, the variants: ``bare``; ``wrapped`` (ours: `ASGIAnalytics`, `WSGIAnalytics` or the
Flask extension); ``naive`` (the seed's four synchronous ``ZINCRBY`` per request,
`benchmarks.naive`); and the peers: ``prometheus`` (prometheus-fastapi-instrumentator),
``starlette_exporter``, ``opentelemetry`` (OpenTelemetry's ASGI middleware with the SDK, spans to
an in-memory exporter and metrics to an in-memory reader: nothing leaves the process) and
``flask_exporter`` (prometheus-flask-exporter).

Each build returns the app and its ``collect`` call: what the process spends to get the numbers
out, timed by the in-process benchmark with the requests (our flush to Redis; a Prometheus
scrape of the registry; OpenTelemetry's span export and metric collection).

`LimitsWSGI` and `LimitsASGI` are the throttle's peer: `limits`' ``MovingWindowRateLimiter`` on
its Redis storage, as a thin middleware refusing POSTs over 5 an hour per client address.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics

from .naive import NaiveASGI, NaiveWSGI

__all__ = [
    "KINDS",
    "PEERS",
    "Built",
    "LimitsASGI",
    "LimitsWSGI",
    "Unavailable",
    "build",
    "hello_asgi",
    "hello_wsgi",
    "missing",
    "variants",
]

BODY = b"<!doctype html><title>Hello</title><p>Hello, world!\n"
CONTENT_TYPE = "text/html; charset=utf-8"
_HEADERS = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(BODY)))]
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in _HEADERS]
_START = {"type": "http.response.start", "status": 200, "headers": _RAW_HEADERS}
_BODY = {"type": "http.response.body", "body": BODY, "more_body": False}

Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]
Collect = Callable[[], None]

# variant names per kind, in the order the tables show them
KINDS: dict[str, tuple[str, ...]] = {
    "asgi": ("bare", "wrapped", "offload", "naive"),
    "fastapi": (
        "bare",
        "wrapped",
        "offload",
        "naive",
        "prometheus",
        "starlette_exporter",
        "opentelemetry",
    ),
    "wsgi": ("bare", "wrapped", "offload", "naive"),
    "flask": ("bare", "wrapped", "offload", "naive", "flask_exporter"),
}
# Ours in both modes: "wrapped" flushes in the server's process, "offload" in a helper
# process (``Recorder(offload=True)``).
OURS = ("wrapped", "offload")
PEERS = {
    "prometheus": "prometheus-fastapi-instrumentator",
    "starlette_exporter": "starlette_exporter",
    "opentelemetry": "OpenTelemetry ASGI (traces + metrics)",
    "flask_exporter": "prometheus-flask-exporter",
    "limits": "limits MovingWindowRateLimiter",
}


# the modules each variant needs beyond our own dependencies
REQUIRES: dict[str, tuple[str, ...]] = {
    "fastapi": ("fastapi",),
    "flask": ("flask",),
    "prometheus": ("prometheus_fastapi_instrumentator", "prometheus_client"),
    "starlette_exporter": ("starlette_exporter", "prometheus_client"),
    "opentelemetry": ("opentelemetry.sdk", "opentelemetry.instrumentation.asgi"),
    "flask_exporter": ("prometheus_flask_exporter", "prometheus_client"),
    "limits": ("limits",),
}


class Unavailable(RuntimeError):
    """A peer that is not installed (``pip install -e '.[bench]'`` brings them all)."""


def missing(kind: str, variant: str) -> str | None:
    """Why ``kind``/``variant`` cannot run here (a module not installed), else ``None``."""
    for name in (*REQUIRES.get(kind, ()), *REQUIRES.get(variant, ())):
        try:
            found = importlib.util.find_spec(name)
        except ImportError:
            found = None
        if found is None:
            return f"{PEERS.get(variant, variant)}: {name} is not installed"
    return None


@dataclass
class Built:
    app: Any
    collect: Collect | None  # flush or scrape: getting the numbers out of the process
    close: Callable[[], None] | None = None


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


def variants(kind: str) -> tuple[str, ...]:
    return KINDS[kind]


def build(
    kind: str,
    variant: str,
    redis_url: str,
    *,
    recorder: Recorder | None = None,
    **options: Any,
) -> Built:
    """``kind``'s app in ``variant``. Ours counts into ``recorder`` when given (the caller
    flushes it), else into a recorder of its own on ``redis_url`` with ``options``."""
    if variant not in KINDS[kind]:
        raise ValueError(f"unknown variant {variant!r} of {kind!r}")
    return _BUILDERS[kind](variant, redis_url, recorder, options)


def _ours(
    recorder: Recorder | None, redis_url: str, options: dict[str, Any], variant: str = "wrapped"
) -> dict[str, Any]:
    if recorder is not None:
        return {"recorder": recorder}
    return {
        "redis_url": redis_url,
        **options,
        **({"offload": True} if variant == "offload" else {}),
    }


def _flush(recorder: Recorder | None) -> Collect | None:
    return recorder.flush if recorder is not None else None


def _asgi(
    variant: str, redis_url: str, recorder: Recorder | None, options: dict[str, Any]
) -> Built:
    if variant == "bare":
        return Built(hello_asgi, None)
    if variant in OURS:
        app = ASGIAnalytics(hello_asgi, **_ours(recorder, redis_url, options, variant))
        return Built(app, _flush(recorder), None if recorder else app.recorder.close)
    return Built(NaiveASGI(hello_asgi, redis_url), None)


def _wsgi(
    variant: str, redis_url: str, recorder: Recorder | None, options: dict[str, Any]
) -> Built:
    if variant == "bare":
        return Built(hello_wsgi, None)
    if variant in OURS:
        app = WSGIAnalytics(hello_wsgi, **_ours(recorder, redis_url, options, variant))
        return Built(app, _flush(recorder), None if recorder else app.recorder.close)
    return Built(NaiveWSGI(hello_wsgi, redis_url), None)


def _fastapi_hello() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import Response

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/")
    async def home() -> Response:
        return Response(BODY, media_type="text/html")

    @app.get("/{section}/{item}/")
    async def page(section: str, item: str) -> Response:
        return Response(BODY, media_type="text/html")

    return app


def _fastapi(
    variant: str, redis_url: str, recorder: Recorder | None, options: dict[str, Any]
) -> Built:
    try:
        app = _fastapi_hello()
        if variant == "bare":
            return Built(app, None)
        if variant in OURS:
            app.add_middleware(ASGIAnalytics, **_ours(recorder, redis_url, options, variant))
            return Built(app, _flush(recorder))
        if variant == "naive":
            app.add_middleware(NaiveASGI, redis_url=redis_url)
            return Built(app, None)
        if variant == "prometheus":
            return _prometheus_fastapi(app)
        if variant == "starlette_exporter":
            return _starlette_exporter(app)
        return _opentelemetry(app)
    except ImportError as error:
        raise Unavailable(f"{PEERS.get(variant, variant)}: {error}") from error


def _prometheus_fastapi(app: Any) -> Built:
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_fastapi_instrumentator import Instrumentator

    registry = CollectorRegistry()
    Instrumentator(registry=registry).instrument(app).expose(app)
    return Built(app, lambda: _scrape(generate_latest, registry))


def _starlette_exporter(app: Any) -> Built:
    from prometheus_client import REGISTRY, generate_latest
    from starlette_exporter import PrometheusMiddleware, handle_metrics

    # starlette_exporter keeps its metrics on the class, in the default registry.
    app.add_middleware(PrometheusMiddleware)
    app.add_route("/metrics", handle_metrics)
    return Built(app, lambda: _scrape(generate_latest, REGISTRY))


def _scrape(generate: Callable[[Any], bytes], registry: Any) -> None:
    generate(registry)


def _opentelemetry(app: Any) -> Built:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    # The batch processor is what a production setup uses: spans leave the request path and are
    # exported from a background thread, like our flusher.
    tracer_provider.add_span_processor(BatchSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    app.add_middleware(
        OpenTelemetryMiddleware, tracer_provider=tracer_provider, meter_provider=meter_provider
    )

    def collect() -> None:
        tracer_provider.force_flush()
        spans.clear()  # an exporter's job done: the spans are gone from the process
        reader.get_metrics_data()

    def close() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return Built(app, collect, close)


def _flask_hello() -> Any:
    from flask import Flask, Response

    app = Flask("bench")

    @app.get("/")
    def home() -> Response:
        return Response(BODY, mimetype="text/html")

    @app.get("/<section>/<item>/")
    def page(section: str, item: str) -> Response:
        return Response(BODY, mimetype="text/html")

    return app


def _flask(
    variant: str, redis_url: str, recorder: Recorder | None, options: dict[str, Any]
) -> Built:
    try:
        app = _flask_hello()
        if variant == "bare":
            return Built(app, None)
        if variant in OURS:
            from wsgi_analytics.flask import Analytics

            analytics = Analytics(app, **_ours(recorder, redis_url, options, variant))
            return Built(app, _flush(recorder), None if recorder else analytics.recorder.close)
        if variant == "naive":
            app.wsgi_app = NaiveWSGI(app.wsgi_app, redis_url)
            return Built(app, None)
        from prometheus_client import CollectorRegistry, generate_latest
        from prometheus_flask_exporter import PrometheusMetrics

        registry = CollectorRegistry()
        PrometheusMetrics(app, registry=registry)
        return Built(app, lambda: _scrape(generate_latest, registry))
    except ImportError as error:
        raise Unavailable(f"{PEERS.get(variant, variant)}: {error}") from error


_BUILDERS: dict[str, Callable[[str, str, Recorder | None, dict[str, Any]], Built]] = {
    "asgi": _asgi,
    "fastapi": _fastapi,
    "wsgi": _wsgi,
    "flask": _flask,
}


# -- the throttle's peer ---------------------------------------------------------------------


_REFUSED = b"Too many requests\n"
_REFUSED_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(_REFUSED)))]


class LimitsWSGI:
    """POSTs over ``limit`` per ``window`` seconds per client address answered 429, decided by
    `limits`' moving window (one sorted set per client, as ours) on its sync Redis storage."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        redis_url: str,
        *,
        limit: int = 5,
        window: int = 3600,
        methods: Sequence[str] = ("POST",),
    ) -> None:
        try:
            from limits import RateLimitItemPerSecond
            from limits.storage import RedisStorage
            from limits.strategies import MovingWindowRateLimiter
        except ImportError as error:
            raise Unavailable(f"limits: {error}") from error
        self.app = app
        self.storage = RedisStorage(redis_url)
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.item = RateLimitItemPerSecond(limit, window)
        self.methods = frozenset(methods)

    def check(self, client: str) -> bool:
        return bool(self.limiter.hit(self.item, client))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") in self.methods and not self.limiter.hit(
            self.item, environ.get("REMOTE_ADDR", "")
        ):
            start_response("429 Too Many Requests", _REFUSED_HEADERS)
            return [_REFUSED]
        return self.app(environ, start_response)


class LimitsASGI:
    """`LimitsWSGI` for asyncio: `limits.aio`'s moving window on redis-py's asyncio client."""

    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        redis_url: str,
        *,
        limit: int = 5,
        window: int = 3600,
        methods: Sequence[str] = ("POST",),
    ) -> None:
        try:
            from limits import RateLimitItemPerSecond
            from limits.aio.storage import RedisStorage
            from limits.aio.strategies import MovingWindowRateLimiter
        except ImportError as error:
            raise Unavailable(f"limits: {error}") from error
        self.app = app
        url = redis_url.replace("redis://", "async+redis://", 1)
        self.storage = RedisStorage(url, implementation="redispy")
        self.limiter = MovingWindowRateLimiter(self.storage)
        self.item = RateLimitItemPerSecond(limit, window)
        self.methods = frozenset(methods)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in self.methods:
            client = scope.get("client") or ("", 0)
            if not await self.limiter.hit(self.item, client[0]):
                headers = [(k.lower().encode(), v.encode()) for k, v in _REFUSED_HEADERS]
                await send({"type": "http.response.start", "status": 429, "headers": headers})
                await send({"type": "http.response.body", "body": _REFUSED})
                return
        await self.app(scope, receive, send)
