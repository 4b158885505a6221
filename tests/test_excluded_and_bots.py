"""exclude= on both adapters (prefixes and globs; excluded requests count nowhere, the throttle
still refuses them), and bots named through the middleware."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

import pytest
import redis

from wsgi_analytics import ASGIAnalytics, Recorder, Throttle, WSGIAnalytics
from wsgi_analytics.keys import DIMENSIONS, Keys, today

from .helpers import zset

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
EXCLUDE = ("/static/", "/healthz", "*.map", "/admin/*")
# (method, path, counted?)
REQUESTS = [
    pytest.param("GET", "/static/css/site.css", False, id="prefix with slash"),
    pytest.param("GET", "/healthz", False, id="prefix itself"),
    pytest.param("GET", "/healthz/live", False, id="below a prefix"),
    pytest.param("GET", "/healthzone", True, id="not at a segment boundary"),
    pytest.param("GET", "/js/app.js.map", False, id="glob, any depth"),
    pytest.param("GET", "/admin/users/7", False, id="glob below"),
    pytest.param("GET", "/admin", True, id="glob: not the folder itself"),
    pytest.param("GET", "/", True, id="the home page"),
]
Start = Callable[..., Any]


def page(environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<p>ok</p>"]


async def asgi_page(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"<p>ok</p>"})


def environ(method: str, path: str, agent: str = CHROME) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "80",
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": agent,
        "REMOTE_ADDR": "192.0.2.30",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
    }


def wsgi_call(app: Any, env: dict[str, Any]) -> int:
    statuses: list[str] = []
    body = app(env, lambda status, headers, exc_info=None: statuses.append(status))
    b"".join(body)
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return int(statuses[-1][:3])


def asgi_call(app: Any, method: str, path: str, agent: str = CHROME) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"example.com"), (b"user-agent", agent.encode())],
        "client": ("192.0.2.31", 50000),
    }
    asyncio.run(app(scope, receive, send))
    return int(sent[0]["status"])


def everything(client: redis.Redis) -> dict[str, dict[str, float]]:
    """Every built-in dimension's counts today, the empty ones left out."""
    found = {name: zset(client, name) for name in (*DIMENSIONS, "timeline")}
    return {name: counts for name, counts in found.items() if counts}


@pytest.mark.parametrize(("method", "path", "counted"), REQUESTS)
@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_excluded_paths_count_nowhere(
    protocol: str,
    method: str,
    path: str,
    counted: bool,
    recorder: Recorder,
    client: redis.Redis,
) -> None:
    if protocol == "wsgi":
        assert (
            wsgi_call(
                WSGIAnalytics(page, recorder=recorder, exclude=EXCLUDE), environ(method, path)
            )
            == 200
        )
    else:
        assert (
            asgi_call(ASGIAnalytics(asgi_page, recorder=recorder, exclude=EXCLUDE), method, path)
            == 200
        )
    recorder.flush()
    counts = everything(client)
    if counted:
        assert counts["paths"] == {path: 1.0}
        assert counts["statuses"] == {"200": 1.0}
    else:
        assert counts == {}
        assert client.pfcount(Keys().uniques(today())) == 0


@pytest.fixture
def throttle() -> Iterator[Throttle]:
    made = Throttle(limit=1, window=3600)
    yield made
    made.close()


@pytest.mark.parametrize("protocol", ["wsgi", "asgi"])
def test_an_excluded_path_is_still_throttled(
    protocol: str, recorder: Recorder, client: redis.Redis, throttle: Throttle
) -> None:
    if protocol == "wsgi":
        wsgi_app = WSGIAnalytics(page, recorder=recorder, exclude=["/admin/*"], throttle=throttle)
        statuses = [wsgi_call(wsgi_app, environ("POST", "/admin/login")) for _ in range(3)]
    else:
        asgi_app = ASGIAnalytics(
            asgi_page, recorder=recorder, exclude=["/admin/*"], throttle=throttle
        )
        statuses = [asgi_call(asgi_app, "POST", "/admin/login") for _ in range(3)]
    assert statuses == [200, 429, 429]
    recorder.flush()
    assert everything(client) == {}  # refused, but counted nowhere: not even in `throttled`


def test_exclude_is_checked_at_construction(recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="neither a path prefix"):
        WSGIAnalytics(page, recorder=recorder, exclude=["static"])
    with pytest.raises(TypeError, match="must be str"):
        ASGIAnalytics(asgi_page, recorder=recorder, exclude=[b"/static/"])  # type: ignore[list-item]


# -- bots by name ----------------------------------------------------------------------------

BOTS = [
    pytest.param(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Googlebot",
        id="ua-parser's family",
    ),
    pytest.param("python-requests/2.32.3", "Python Requests", id="ua-parser names the library"),
    pytest.param("curl/8.5.0", "curl", id="curl"),
    pytest.param(
        "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 22 subscribers; "
        "feed-id=10316751302541186385)",
        "Feedfetcher-Google",
        id="leading words",
    ),
    pytest.param("FeedBurner/1.0 (http://www.FeedBurner.com)", "FeedBurner", id="product token"),
    pytest.param(
        "UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/",
        "UniversalFeedParser",
        id="product with a long version",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)", "Ezooms", id="compatible token"
    ),
    pytest.param("Mozilla/5.0 zgrab/0.x", "zgrab", id="product after Mozilla"),
    pytest.param(
        "Tiny Tiny RSS/22.08 (Unsupported) (https://tt-rss.org/)",
        "Tiny Tiny RSS",
        id="feed reader ua-parser takes for a browser",
    ),
    pytest.param(
        "Mozilla/5.0 (compatible; Feedbin feed-id:12345 - 7 subscribers)",
        "Feedbin",
        id="Feedbin",
    ),
    pytest.param("Mediapartners-Google", "Mediapartners-Google", id="AdSense"),
    pytest.param("PycURL/7.45.2 libcurl/7.88.1", "PycURL", id="PycURL"),
    pytest.param("", "(empty)", id="no agent"),
    pytest.param("Mozilla/5.0", "(unparseable)", id="nothing names it"),
]


@pytest.mark.parametrize(("agent", "name"), BOTS)
def test_bots_are_named_through_the_middleware(
    agent: str, name: str, recorder: Recorder, client: redis.Redis
) -> None:
    app = WSGIAnalytics(page, recorder=recorder)
    assert wsgi_call(app, environ("GET", "/", agent)) == 200
    assert asgi_call(ASGIAnalytics(asgi_page, recorder=recorder), "GET", "/feed/", agent) == 200
    recorder.flush()
    assert zset(client, "bots") == {name: 2.0}
    assert zset(client, "paths") == {}  # a bot's HTML page is no page view
