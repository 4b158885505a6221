"""Real Flask, Django (WSGI and ASGI), FastAPI and Starlette apps give the same numbers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics
from wsgi_analytics.reading.stats import Stats

from . import django_project

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# (path, user agent, referrer) — the same visit list for every framework
VISITS = [
    ("/", CHROME, "https://www.google.com/"),
    ("/", IPHONE, ""),
    ("/about", CHROME, "https://example.com/"),  # redirected to /about/ by the framework
    ("/about/", CHROME, "https://example.com/about"),
    ("/missing", CHROME, ""),
    ("/", GOOGLEBOT, ""),
]
Drive = Callable[[str, str, str], int]  # path, agent, referrer -> status


def flask_driver(recorder: Recorder) -> Drive:
    import flask

    app = flask.Flask("site")
    app.add_url_rule("/", "home", lambda: "home")
    app.add_url_rule("/about/", "about", lambda: "about")
    app.wsgi_app = WSGIAnalytics(app.wsgi_app, recorder=recorder)  # type: ignore[method-assign]
    client = app.test_client()

    def drive(path: str, agent: str, referrer: str) -> int:
        headers = {"User-Agent": agent, "Host": "example.com", "Referer": referrer}
        response = client.get(path, headers=headers)
        response.close()  # the server's close() of the body: where the request is counted
        return response.status_code

    return drive


def _django_setup() -> None:
    django_project.setup()  # settings shared with the other in-process Django tests


def django_wsgi_driver(recorder: Recorder) -> Drive:
    _django_setup()
    from django.core.wsgi import get_wsgi_application

    application = WSGIAnalytics(get_wsgi_application(), recorder=recorder)

    def drive(path: str, agent: str, referrer: str) -> int:
        import io
        import sys

        statuses: list[str] = []
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "example.com",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": agent,
            "HTTP_REFERER": referrer,
            "REMOTE_ADDR": "192.0.2.20",
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "http",
        }
        body = application(environ, lambda status, headers, exc_info=None: statuses.append(status))
        b"".join(body)
        body.close()  # type: ignore[attr-defined]
        return int(statuses[-1][:3])

    return drive


def _asgi_driver(app: Any) -> Drive:
    def drive(path: str, agent: str, referrer: str) -> int:
        async def run() -> int:
            sent: list[dict[str, Any]] = []
            requests = [{"type": "http.request", "body": b"", "more_body": False}]

            async def receive() -> dict[str, Any]:
                if requests:
                    return requests.pop()
                await asyncio.Event().wait()  # the client stays connected until cancelled
                raise AssertionError("unreachable")

            async def send(message: dict[str, Any]) -> None:
                sent.append(message)

            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "GET",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "root_path": "",
                "query_string": b"",
                "headers": [
                    (b"host", b"example.com"),
                    (b"user-agent", agent.encode()),
                    (b"referer", referrer.encode()),
                ],
                "client": ("192.0.2.21", 40000),
                "server": ("example.com", 80),
            }
            await app(scope, receive, send)
            return int(sent[0]["status"])

        return asyncio.run(run())

    return drive


def django_asgi_driver(recorder: Recorder) -> Drive:
    _django_setup()
    from django.core.asgi import get_asgi_application

    return _asgi_driver(ASGIAnalytics(get_asgi_application(), recorder=recorder))


def fastapi_driver(recorder: Recorder) -> Drive:
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse
    from fastapi.testclient import TestClient

    app = FastAPI()
    # Pages, so HTML: a JSON answer is a request, never a page view.
    app.get("/", response_class=HTMLResponse)(lambda: "<p>home</p>")
    app.get("/about/", response_class=HTMLResponse)(lambda: "<p>about</p>")
    app.add_middleware(ASGIAnalytics, recorder=recorder)
    client = TestClient(app, base_url="http://example.com")

    def drive(path: str, agent: str, referrer: str) -> int:
        headers = {"User-Agent": agent, "Referer": referrer}
        return client.get(path, headers=headers, follow_redirects=False).status_code

    return drive


def starlette_driver(recorder: Recorder) -> Drive:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse("<p>page</p>")

    app = Starlette(
        routes=[Route("/", page), Route("/about/", page)],
        middleware=[Middleware(ASGIAnalytics, recorder=recorder)],
    )
    return _asgi_driver(app)


@pytest.mark.parametrize(
    ("make_driver", "redirect"),
    [
        pytest.param(flask_driver, 308, id="flask"),
        pytest.param(django_wsgi_driver, 301, id="django-wsgi"),
        pytest.param(django_asgi_driver, 301, id="django-asgi"),
        pytest.param(fastapi_driver, 307, id="fastapi"),
        pytest.param(starlette_driver, 307, id="starlette"),
    ],
)
def test_same_numbers_everywhere(
    make_driver: Callable[[Recorder], Drive], redirect: int, recorder: Recorder, redis_url: str
) -> None:
    drive = make_driver(recorder)
    statuses = [drive(path, agent, referrer) for path, agent, referrer in VISITS]
    assert statuses == [200, 200, redirect, 200, 404, 200]
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("paths") == [("/", 2), ("/about/", 1)]
        assert stats.total() == 3
        assert stats.uniques() == 2  # one address, two agents
        assert stats.top("referrers") == [("(direct)", 1), ("google.com", 1)]
        assert stats.top("browsers") == [("Chrome", 2), ("Mobile Safari", 1)]
        assert stats.top("platforms") == [("Windows", 2), ("iOS", 1)]
        assert stats.top("devices") == [("desktop", 2), ("mobile", 1)]
        assert stats.top("bots") == [("Googlebot", 1)]
        assert stats.top("not_found") == [("/missing", 1)]
        assert stats.top("statuses") == [("200", 4), (str(redirect), 1), ("404", 1)]
