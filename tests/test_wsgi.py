"""WSGIAnalytics with plain WSGI apps, driven in-process the way a server calls them."""

from __future__ import annotations

import io
import sys
import wsgiref.util
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import redis

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics
from wsgi_analytics.keys import Keys

from .helpers import zset

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
KEYS = Keys("analytics")
StartResponse = Callable[..., Any]


def environ(path: str = "/", method: str = "GET", **headers: str) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": CHROME,
        "REMOTE_ADDR": "192.0.2.7",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }
    env.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return env


def serve(app: Any, env: dict[str, Any]) -> tuple[str, bytes]:
    """What a WSGI server does: call, iterate, close."""
    seen: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append(status)
        return lambda data: None

    body = app(env, start_response)
    try:
        data = b"".join(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    return seen[-1], data


def site(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The seed's site: /about redirects to /about/, unknown pages are 404."""
    path = env["PATH_INFO"]
    if path == "/about":
        start_response("301 Moved Permanently", [("Location", "/about/")])
        return [b""]
    if path in ("/", "/about/"):
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [b"hello"]
    start_response("404 Not Found", [("Content-Type", "text/html; charset=utf-8")])
    return [b"missing"]


def test_seed_scenario(recorder: Recorder, client: redis.Redis) -> None:
    app = WSGIAnalytics(site, recorder=recorder)
    assert serve(app, environ("/about")) == ("301 Moved Permanently", b"")
    assert serve(app, environ("/about/", referer="https://example.com/about")) == (
        "200 OK",
        b"hello",
    )
    serve(app, environ("/", referer="https://www.google.com/search?q=x"))
    serve(app, environ("/wp-login.php"))
    serve(app, environ("/", user_agent="Mozilla/5.0 (compatible; Googlebot/2.1)"))
    recorder.flush()
    assert zset(client, "paths") == {"/about/": 1.0, "/": 1.0}
    assert zset(client, "not_found") == {"/wp-login.php": 1.0}
    assert zset(client, "bots") == {"Googlebot": 1.0}
    assert zset(client, "referrers") == {"google.com": 1.0}  # the self-referral is not one
    assert zset(client, "statuses") == {"301": 1.0, "200": 3.0, "404": 1.0}
    assert zset(client, "browsers") == {"Chrome": 2.0}
    assert zset(client, "devices") == {"desktop": 2.0}


def test_streaming_is_passed_through_unbuffered(recorder: Recorder, client: redis.Redis) -> None:
    produced: list[str] = []

    def streaming(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for index in range(3):
            produced.append(f"chunk {index}")
            yield b"x"

    app = WSGIAnalytics(streaming, recorder=recorder)
    body = app(environ("/stream/"), lambda *args: None)
    chunks = iter(body)
    assert next(chunks) == b"x"
    assert produced == ["chunk 0"]  # the second chunk is not made before it is asked for
    assert list(chunks) == [b"x", b"x"]
    recorder.flush()
    assert zset(client, "paths") == {}  # not counted until the server closes the body
    body.close()  # type: ignore[attr-defined]
    recorder.flush()
    assert zset(client, "paths") == {"/stream/": 1.0}


def test_app_exception_counts_500_and_propagates(recorder: Recorder, client: redis.Redis) -> None:
    failure = RuntimeError("boom")

    def broken(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise failure

    with pytest.raises(RuntimeError) as caught:
        serve(WSGIAnalytics(broken, recorder=recorder), environ("/broken/"))
    assert caught.value is failure
    recorder.flush()
    assert zset(client, "statuses") == {"500": 1.0}
    assert zset(client, "paths") == {}


def test_exception_mid_stream_counts_500(recorder: Recorder, client: redis.Redis) -> None:
    def half(env: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"first"
        raise ValueError("lost the database")

    with pytest.raises(ValueError, match="lost the database"):
        serve(WSGIAnalytics(half, recorder=recorder), environ("/half/"))
    recorder.flush()
    assert zset(client, "statuses") == {"500": 1.0}


def test_exc_info_recall_replaces_the_status(recorder: Recorder, client: redis.Redis) -> None:
    def recovering(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        try:
            raise KeyError("x")
        except KeyError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"sorry"]

    assert serve(WSGIAnalytics(recovering, recorder=recorder), environ("/r/"))[0].startswith("500")
    recorder.flush()
    assert zset(client, "statuses") == {"500": 1.0}


def test_file_wrapper_is_returned_as_is(recorder: Recorder, client: redis.Redis) -> None:
    def download(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        wrapper: Any = env["wsgi.file_wrapper"]
        result: Iterable[bytes] = wrapper(io.BytesIO(b"file contents"), 4)
        return result

    env = environ("/file.bin")
    env["wsgi.file_wrapper"] = wsgiref.util.FileWrapper
    body = WSGIAnalytics(download, recorder=recorder)(env, lambda *args: None)
    assert type(body) is wsgiref.util.FileWrapper
    recorder.flush()
    assert zset(client, "routes") == {"GET /file.bin": 1.0}
    assert zset(client, "paths") == {}  # a download is a request, not a page view


def test_client_disconnect_counts_what_was_answered(
    recorder: Recorder, client: redis.Redis
) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield from [b"a", b"b", b"c"]

        def close(self) -> None:
            closed.append(True)

    def app(env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return Body()

    body = WSGIAnalytics(app, recorder=recorder)(environ("/gone/"), lambda *args: None)
    next(iter(body))
    body.close()  # type: ignore[attr-defined]
    body.close()  # type: ignore[attr-defined]
    assert closed == [True, True]  # the app's close is always called through
    recorder.flush()
    assert zset(client, "paths") == {"/gone/": 1.0}  # once, although closed twice


def test_sized_body_keeps_len(recorder: Recorder) -> None:
    body = WSGIAnalytics(site, recorder=recorder)(environ("/"), lambda *args: None)
    assert len(body) == 1  # type: ignore[arg-type]
    body.close()  # type: ignore[attr-defined]


def test_redis_down_the_app_still_answers() -> None:
    app = WSGIAnalytics(site, redis_url="redis://127.0.0.1:1/0", flush_interval=60)
    try:
        for _ in range(20):
            assert serve(app, environ("/")) == ("200 OK", b"hello")
        with pytest.raises(redis.ConnectionError):
            app.recorder.flush()
    finally:
        app.recorder.close()  # the final flush fails too: logged, not raised


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param({"trusted_proxies": -1}, ValueError, "trusted_proxies", id="negative hops"),
        pytest.param({"trusted_proxies": True}, ValueError, "trusted_proxies", id="not a count"),
        pytest.param({"flush_interval": 5}, TypeError, "flush_interval", id="options of a new one"),
        pytest.param({"prefix": "shop"}, ValueError, "prefix 'shop'", id="another prefix"),
    ],
)
@pytest.mark.parametrize("adapter", [WSGIAnalytics, ASGIAnalytics])
def test_options_that_cannot_apply_are_refused(
    recorder: Recorder, adapter: Any, options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        adapter(site, recorder=recorder, **options)


@pytest.mark.parametrize("adapter", [WSGIAnalytics, ASGIAnalytics])
def test_an_explicit_prefix_must_be_the_shared_recorders(redis_url: str, adapter: Any) -> None:
    """``prefix="analytics"`` said on purpose is checked like any other prefix: with a recorder
    counting under "shop" it would silently count under "shop". Left out, it means the
    recorder's."""
    shop = Recorder(redis_url, prefix="shop", flush_interval=60)
    try:
        with pytest.raises(ValueError, match="prefix 'analytics' differs"):
            adapter(site, recorder=shop, prefix="analytics")
        assert adapter(site, recorder=shop).recorder is shop
        assert adapter(site, recorder=shop, prefix="shop").recorder is shop
        own = adapter(site, redis_url=redis_url).recorder
        assert own.prefix == "analytics"
        own.close()
    finally:
        shop.close()
