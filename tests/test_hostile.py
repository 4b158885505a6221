"""Hostile input, property-based: whatever a client or a broken server puts in the environ or the
scope, the middleware never raises and hands back the app's response untouched.

Random bytes (decoded the PEP 3333 way, so invalid UTF-8 arrives as latin-1 text), text that is
not latin-1 at all, huge and repeated headers, missing keys, odd methods, values of the wrong
type. Each case runs the middleware with and without a throttle (a real one, on the session
server, with a limit nobody reaches) and behind 0-2 trusted proxies. At the end, everything that
was recorded is flushed, and nothing was logged as an error on the way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics
from wsgi_analytics.adapters.asgi import Message
from wsgi_analytics.adapters.wsgi import StartResponse
from wsgi_analytics.throttle import Throttle

from .helpers import zscores

SETTINGS = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Errors(logging.Handler):
    """Collects what the package logs at WARNING and above, or with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING or record.exc_info:
            self.records.append(record)


@pytest.fixture(scope="module")
def errors() -> Iterator[Errors]:
    handler = Errors()
    logger = logging.getLogger("wsgi_analytics")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture(scope="module")
def recorder(redis_url: str, errors: Errors) -> Iterator[Recorder]:
    recorder = Recorder(redis_url, prefix="hostile")
    yield recorder
    recorder.close()


@pytest.fixture(scope="module")
def throttle() -> Iterator[Throttle]:
    throttle = Throttle(limit=10**9, window=60.0, methods=("POST", "PUT", "GET\x00", "ПОСТ"))
    yield throttle
    throttle.close()


# -- strategies --------------------------------------------------------------------------------

huge = st.builds(
    lambda piece, count: piece * count,
    st.sampled_from(["A", "é", "\x00", "%", "/", "1.2.3.4, ", "€", "\udcff"]),
    st.integers(0, 70_000),
)
wsgi_text = st.one_of(
    st.text(max_size=60),  # any code point: not latin-1, so not what PEP 3333 allows
    st.binary(max_size=60).map(lambda raw: raw.decode("latin-1")),  # bytes, invalid UTF-8
    st.text(st.characters(codec="latin-1"), max_size=60),
    huge,
)
junk = st.one_of(
    wsgi_text,
    st.binary(max_size=30),
    st.integers(),
    st.none(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=3),
    st.tuples(st.text(max_size=5), st.integers()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
methods = st.one_of(
    st.sampled_from(
        [
            "GET",
            "POST",
            "get",
            "post",
            "HEAD",
            "PUT",
            "DELETE",
            "OPTIONS",
            "PATCH",
            "PROPFIND",
            "M-SEARCH",
            "",
            " ",
            "GET\x00",
            "ПОСТ",
            "POST ",
            "G" * 5000,
        ]
    ),
    st.text(max_size=30),
    junk,
)
addresses = st.one_of(
    st.ip_addresses().map(str),
    st.sampled_from(
        [
            "::ffff:203.0.113.9",
            "[2001:db8::1]:443",
            "203.0.113.9:5123",
            "fe80::1%eth0",
            "unknown",
            "_hidden",
            "",
            "999.1.1.1",
            "1.2.3",
        ]
    ),
    st.text(max_size=40),
)
forwarded = st.one_of(
    st.lists(addresses, max_size=40).map(", ".join),
    st.lists(addresses, max_size=5).map(",".join),
    wsgi_text,
)
WSGI_KEYS = [
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "HTTP_HOST",
    "HTTP_REFERER",
    "HTTP_USER_AGENT",
    "REMOTE_ADDR",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_SEC_CH_UA_PLATFORM",
    "HTTP_SEC_CH_UA_MOBILE",
    "HTTP_COOKIE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "wsgi.url_scheme",
    "wsgi.file_wrapper",
]
loose_environs = st.builds(
    lambda base, extra: {**extra, **base},
    st.fixed_dictionaries(
        {},
        optional={
            "REQUEST_METHOD": methods,
            "PATH_INFO": wsgi_text,
            "SCRIPT_NAME": st.one_of(wsgi_text, junk),
            "HTTP_HOST": st.one_of(wsgi_text, addresses),
            "HTTP_REFERER": st.one_of(wsgi_text, st.just("https://www.example.org/x"), junk),
            "HTTP_USER_AGENT": st.one_of(wsgi_text, junk),
            "REMOTE_ADDR": st.one_of(addresses, junk),
            "HTTP_X_FORWARDED_FOR": st.one_of(forwarded, junk),
            "HTTP_SEC_CH_UA_PLATFORM": st.one_of(wsgi_text, st.just('"Android"')),
            "HTTP_SEC_CH_UA_MOBILE": st.one_of(st.sampled_from(["?1", "?0"]), wsgi_text),
        },
    ),
    st.dictionaries(st.one_of(st.sampled_from(WSGI_KEYS), st.text(max_size=20)), junk, max_size=8),
)

# Requests the throttle looks at: a throttled method from a usable address, the rest hostile.
throttled_environs = st.builds(
    lambda environ, method, peer: {**environ, "REQUEST_METHOD": method, "REMOTE_ADDR": peer},
    loose_environs,
    st.sampled_from(["POST", "PUT", "post"]),
    st.ip_addresses().map(str),
)
environs = st.one_of(loose_environs, throttled_environs)

header_names = st.one_of(
    st.sampled_from(
        [
            b"host",
            b"user-agent",
            b"referer",
            b"x-forwarded-for",
            b"sec-ch-ua-platform",
            b"sec-ch-ua-mobile",
            b"Host",
            b"USER-AGENT",
            b"cookie",
        ]
    ),
    st.binary(max_size=20),
)
header_values = st.one_of(
    st.binary(max_size=80),  # invalid UTF-8 included
    huge.map(lambda text: text.encode("utf-8", "surrogatepass")),
    forwarded.map(lambda text: text.encode("utf-8", "surrogatepass")),
)
header = st.one_of(st.tuples(header_names, header_values), junk, st.lists(junk, max_size=3))
headers = st.one_of(
    st.lists(header, max_size=12),
    st.builds(
        lambda pair, count: [pair] * count,
        st.tuples(header_names, header_values),
        st.integers(1, 500),
    ),
    junk,
)
scopes = st.builds(
    lambda base, extra: {**extra, **base},
    st.fixed_dictionaries(
        {"type": st.just("http")},
        optional={
            "method": methods,
            "path": st.one_of(st.text(max_size=80), huge, junk),
            "raw_path": st.one_of(st.binary(max_size=40), junk),
            "root_path": st.one_of(st.text(max_size=20), st.just("/app"), junk),
            "query_string": st.one_of(st.binary(max_size=40), junk),
            "headers": headers,
            "client": st.one_of(st.tuples(addresses, st.integers(0, 65535)), junk),
            "server": junk,
            "scheme": junk,
            "http_version": junk,
            "asgi": st.one_of(st.just({"version": "3.0"}), junk),
        },
    ),
    st.dictionaries(st.text(max_size=12), junk, max_size=4),
)

statuses = st.sampled_from(["200 OK", "304 Not Modified", "404 Not Found", "500 Oops", "999 X"])
bodies = st.lists(st.binary(max_size=30), max_size=4)
proxies = st.integers(0, 2)


# -- WSGI ------------------------------------------------------------------------------------


class Closing:
    """A body with close(), as file-like and generator bodies have."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)

    def close(self) -> None:
        self.closed += 1


def run_wsgi(
    middleware: WSGIAnalytics, environ: dict[str, Any], status: str, chunks: list[bytes]
) -> None:
    headers = [("Content-Type", "text/plain"), ("X-Odd", "\x7f")]
    seen: dict[str, Any] = {}
    body = Closing(chunks)

    def app(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        seen["environ"] = env
        start_response(status, headers)
        return body

    started: list[tuple[Any, ...]] = []

    def start_response(*args: Any) -> Any:
        started.append(args)
        return lambda data: None

    middleware.app = app
    result = middleware(environ, start_response)
    assert list(result) == chunks
    result.close()  # type: ignore[attr-defined]
    assert seen["environ"] is environ
    assert started == [(status, headers)]
    assert body.closed == 1


@SETTINGS
@given(environ=environs, status=statuses, chunks=bodies, trusted=proxies)
def test_wsgi_never_raises_and_returns_the_apps_response(
    recorder: Recorder, environ: dict[str, Any], status: str, chunks: list[bytes], trusted: int
) -> None:
    middleware = WSGIAnalytics(lambda e, s: [], recorder=recorder, trusted_proxies=trusted)
    run_wsgi(middleware, environ, status, chunks)


@SETTINGS
@given(environ=environs, status=statuses, chunks=bodies, trusted=proxies)
def test_wsgi_with_throttle_never_raises(
    recorder: Recorder,
    throttle: Throttle,
    redis_url: str,
    environ: dict[str, Any],
    status: str,
    chunks: list[bytes],
    trusted: int,
) -> None:
    middleware = WSGIAnalytics(
        lambda e, s: [],
        recorder=recorder,
        throttle=throttle,
        redis_url=redis_url,
        trusted_proxies=trusted,
    )
    run_wsgi(middleware, environ, status, chunks)


@SETTINGS
@given(environ=environs)
def test_wsgi_app_errors_propagate_unchanged(recorder: Recorder, environ: dict[str, Any]) -> None:
    failure = RuntimeError("the app's own error")

    def app(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise failure

    with pytest.raises(RuntimeError) as raised:
        WSGIAnalytics(app, recorder=recorder)(environ, lambda *args: lambda data: None)
    assert raised.value is failure


# -- ASGI ------------------------------------------------------------------------------------


def run_asgi(
    middleware: ASGIAnalytics, scope: dict[str, Any], status: int, chunks: list[bytes]
) -> None:
    seen: dict[str, Any] = {}
    messages: list[Message] = [
        {"type": "http.response.start", "status": status, "headers": [(b"x-odd", b"\xff")]},
        *({"type": "http.response.body", "body": chunk, "more_body": True} for chunk in chunks),
        {"type": "http.response.body", "body": b""},
    ]

    async def app(sc: Any, receive: Any, send: Any) -> None:
        seen["scope"] = sc
        seen["request"] = await receive()
        for message in messages:
            await send(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"\xff\xfe", "more_body": False}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    middleware.app = app
    asyncio.run(middleware(scope, receive, send))
    assert seen["scope"] is scope
    assert seen["request"] == {"type": "http.request", "body": b"\xff\xfe", "more_body": False}
    assert len(sent) == len(messages)
    assert all(got is want for got, want in zip(sent, messages, strict=True))


async def _nothing(scope: Any, receive: Any, send: Any) -> None:
    pass


@SETTINGS
@given(
    scope=scopes,
    status=st.sampled_from([200, 304, 404, 500, 0, 99, 1000]),
    chunks=bodies,
    trusted=proxies,
)
def test_asgi_never_raises_and_passes_the_apps_messages(
    recorder: Recorder, scope: dict[str, Any], status: int, chunks: list[bytes], trusted: int
) -> None:
    run_asgi(
        ASGIAnalytics(_nothing, recorder=recorder, trusted_proxies=trusted), scope, status, chunks
    )


@SETTINGS
@given(scope=scopes, status=st.sampled_from([200, 404]), chunks=bodies, trusted=proxies)
def test_asgi_with_throttle_never_raises(
    recorder: Recorder,
    throttle: Throttle,
    redis_url: str,
    scope: dict[str, Any],
    status: int,
    chunks: list[bytes],
    trusted: int,
) -> None:
    middleware = ASGIAnalytics(
        _nothing, recorder=recorder, throttle=throttle, redis_url=redis_url, trusted_proxies=trusted
    )
    run_asgi(middleware, scope, status, chunks)


@SETTINGS
@given(scope=scopes)
def test_asgi_app_errors_propagate_unchanged(recorder: Recorder, scope: dict[str, Any]) -> None:
    failure = RuntimeError("the app's own error")

    async def app(sc: Any, receive: Any, send: Any) -> None:
        raise failure

    async def call() -> None:
        async def receive() -> Message:
            return {"type": "http.request"}

        async def send(message: Message) -> None:
            pass

        await ASGIAnalytics(app, recorder=recorder)(scope, receive, send)

    with pytest.raises(RuntimeError) as raised:
        asyncio.run(call())
    assert raised.value is failure


def test_everything_recorded_flushes_without_errors(redis_url: str, client: redis.Redis) -> None:
    """Hostile requests of every kind, through both adapters with and without the throttle, on
    a recorder of this test's own: their counts are all written, and nothing was logged as an
    error or with a traceback while counting them."""
    errors = Errors()
    logger = logging.getLogger("wsgi_analytics")
    logger.addHandler(errors)
    recorder = Recorder(redis_url, prefix="hostile-flush", flush_interval=3600)
    # A generous timeout: a loaded test machine must not turn a slow answer into a warning.
    throttle = Throttle(limit=10**9, window=60.0, methods=("POST", "PUT"), timeout=10.0)

    @settings(SETTINGS, max_examples=100)
    @given(
        environ=environs,
        scope=scopes,
        wsgi_status=statuses,
        asgi_status=st.sampled_from([200, 304, 404, 500, 0, 99, 1000]),
        chunks=bodies,
        trusted=proxies,
        throttled=st.booleans(),
    )
    def drive(
        environ: dict[str, Any],
        scope: dict[str, Any],
        wsgi_status: str,
        asgi_status: int,
        chunks: list[bytes],
        trusted: int,
        throttled: bool,
    ) -> None:
        gate = throttle if throttled else None
        wsgi = WSGIAnalytics(
            lambda e, s: [],
            recorder=recorder,
            throttle=gate,
            redis_url=redis_url,
            trusted_proxies=trusted,
        )
        run_wsgi(wsgi, environ, wsgi_status, chunks)
        asgi = ASGIAnalytics(
            _nothing, recorder=recorder, throttle=gate, redis_url=redis_url, trusted_proxies=trusted
        )
        run_asgi(asgi, scope, asgi_status, chunks)

    try:
        # One request the throttle surely sees, then whatever hypothesis draws.
        post = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "REMOTE_ADDR": "203.0.113.9"}
        gated = WSGIAnalytics(lambda e, s: [], recorder=recorder, throttle=throttle)
        run_wsgi(gated, post, "200 OK", [b"ok"])
        drive()
        recorder.flush()
        assert recorder.pending == 0
        assert recorder.queued == 0
        assert recorder.dropped == 0
    finally:
        recorder.close()
        throttle.close()
        logger.removeHandler(errors)
    # The one warning a hostile request may earn: no address to throttle it by.
    unexpected = [r for r in errors.records if "no usable client address" not in r.getMessage()]
    assert [r.getMessage() for r in unexpected] == []
    counted = zscores(client, "{hostile-flush:statuses}:all")
    assert sum(counted.values()) > 100  # the requests were counted...
    assert client.keys("{hostile-flush:throttle*")  # ...and the throttle's script ran
