"""Page views are documents, through real apps: one browser visit to a page with its assets is
exactly one page view, whoever serves the assets (Flask's /static/ and send_file, Starlette and
FastAPI StaticFiles, Django behind WhiteNoise, raw WSGI and ASGI apps); JSON, feeds, text and
PDFs never are; a revisit's 304s (no Content-Type) are judged by the path's extension."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from pathlib import Path
from typing import Any, Protocol

import pytest
import redis
from starlette.requests import Request  # FastAPI reads the annotation from the module

from wsgi_analytics import ASGIAnalytics, Recorder, Stats, WSGIAnalytics

from .helpers import zset

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PAGE = "/"
# What a browser fetches after the page: everything the page's HTML refers to.
ASSETS = ("/static/css/site.css", "/static/js/site.js", "/static/img/logo.png", "/favicon.ico")
# Answers that are requests, never page views, whatever their path looks like.
NOT_PAGES = ("/api/items/7", "/feed.xml", "/robots.txt", "/report.pdf")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
FILES = {
    "css/site.css": b"body { margin: 0 }",
    "js/site.js": b"console.log('hi')",
    "img/logo.png": PNG,
    "favicon.ico": b"\x00\x00\x01\x00",
    "report.pdf": b"%PDF-1.4",
}
HTML = "<!doctype html><title>Home</title><link rel=stylesheet href=/static/css/site.css>"
ETAG = '"page-v1"'


class Browser(Protocol):
    def get(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        """GET ``path``: the status and the response headers (lower-case names)."""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    for name, content in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    return tmp_path


# -- the apps -----------------------------------------------------------------------------------


class WSGIBrowser:
    def __init__(self, app: Any) -> None:
        from werkzeug.test import Client

        self.client = Client(app)

    def get(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        # Closed as a server closes it: that is when the middleware counts.
        with self.client.get(path, headers=dict(headers)) as response:
            response.get_data()
            return response.status_code, {k.lower(): v for k, v in response.headers.items()}


class ASGIBrowser:
    def __init__(self, app: Any) -> None:
        from starlette.testclient import TestClient

        self.client = TestClient(app, base_url="http://example.com")

    def get(self, path: str, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        response = self.client.get(path, headers=dict(headers), follow_redirects=False)
        return response.status_code, dict(response.headers)


def flask_site(recorder: Recorder, root: Path, stack: contextlib.ExitStack) -> Browser:
    import flask

    app = flask.Flask("site", static_folder=str(root), static_url_path="/static")

    @app.get("/")
    def home() -> Any:  # make_conditional gives werkzeug's Response
        response = flask.make_response(HTML)
        response.set_etag(ETAG.strip('"'))
        return response.make_conditional(flask.request)

    app.add_url_rule(
        "/favicon.ico",
        "favicon",
        lambda: flask.send_file(root / "favicon.ico", mimetype="image/vnd.microsoft.icon"),
    )
    app.add_url_rule("/api/items/<int:item_id>", "item", lambda item_id: {"id": item_id})
    app.add_url_rule(
        "/feed.xml", "feed", lambda: flask.Response("<rss/>", mimetype="application/rss+xml")
    )
    app.add_url_rule(
        "/robots.txt", "robots", lambda: flask.Response("User-agent: *", mimetype="text/plain")
    )
    app.add_url_rule("/report.pdf", "report", lambda: flask.send_file(root / "report.pdf"))
    app.wsgi_app = WSGIAnalytics(app.wsgi_app, recorder=recorder)  # type: ignore[method-assign]
    return WSGIBrowser(app)


def _starlette_routes(root: Path) -> list[Any]:
    from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    async def home(request: Request) -> Response:
        if request.headers.get("if-none-match") == ETAG:
            return Response(status_code=304, headers={"etag": ETAG})  # no Content-Type
        return HTMLResponse(HTML, headers={"etag": ETAG})

    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["item_id"]})

    async def feed(request: Request) -> Response:
        return Response("<rss/>", media_type="application/rss+xml")

    async def robots(request: Request) -> Response:
        return Response("User-agent: *", media_type="text/plain")

    return [
        Route("/", home),
        Route("/favicon.ico", lambda request: FileResponse(root / "favicon.ico")),
        Route("/api/items/{item_id:int}", item),
        Route("/feed.xml", feed),
        Route("/robots.txt", robots),
        Route("/report.pdf", lambda request: FileResponse(root / "report.pdf")),
        Mount("/static", StaticFiles(directory=root)),
    ]


def starlette_site(recorder: Recorder, root: Path, stack: contextlib.ExitStack) -> Browser:
    from starlette.applications import Starlette
    from starlette.middleware import Middleware

    app = Starlette(
        routes=_starlette_routes(root), middleware=[Middleware(ASGIAnalytics, recorder=recorder)]
    )
    return ASGIBrowser(app)


def fastapi_site(recorder: Recorder, root: Path, stack: contextlib.ExitStack) -> Browser:
    from fastapi import FastAPI
    from fastapi.responses import FileResponse, HTMLResponse, Response
    from fastapi.staticfiles import StaticFiles

    app = FastAPI()

    @app.get("/", response_class=HTMLResponse)
    def home(request: Request) -> Response:
        if request.headers.get("if-none-match") == ETAG:
            return Response(status_code=304, headers={"etag": ETAG})
        return HTMLResponse(HTML, headers={"etag": ETAG})

    @app.get("/favicon.ico")
    def favicon() -> FileResponse:
        return FileResponse(root / "favicon.ico")

    @app.get("/api/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.get("/feed.xml")
    def feed() -> Response:
        return Response("<rss/>", media_type="application/rss+xml")

    @app.get("/robots.txt")
    def robots() -> Response:
        return Response("User-agent: *", media_type="text/plain")

    @app.get("/report.pdf")
    def report() -> FileResponse:
        return FileResponse(root / "report.pdf")

    app.mount("/static", StaticFiles(directory=root), name="static")
    app.add_middleware(ASGIAnalytics, recorder=recorder)
    return ASGIBrowser(app)


def django_site(recorder: Recorder, root: Path, stack: contextlib.ExitStack) -> Browser:
    from . import django_project

    django_project.setup()
    from django.core.wsgi import get_wsgi_application
    from django.test import override_settings
    from whitenoise import WhiteNoise

    static, site_root = root / "static", root / "site-root"
    static.mkdir()
    site_root.mkdir()
    for name in ("css", "js", "img"):
        (root / name).rename(static / name)
    (root / "favicon.ico").rename(site_root / "favicon.ico")
    stack.enter_context(
        override_settings(
            ROOT_URLCONF="tests.django_assets_urls",
            MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        )
    )
    # WhiteNoise in front of Django, as its docs show for any WSGI app: /static/ from one
    # folder, the favicon from the folder of files served at the site's root.
    application = WhiteNoise(get_wsgi_application(), root=str(static), prefix="static/")
    application.add_files(str(site_root), prefix="")
    return WSGIBrowser(WSGIAnalytics(application, recorder=recorder))


_TYPES = {
    "/": "text/html; charset=utf-8",
    "/static/css/site.css": "text/css",
    "/static/js/site.js": "text/javascript",
    "/static/img/logo.png": "image/png",
    "/favicon.ico": "image/vnd.microsoft.icon",
    "/api/items/7": "application/json",
    "/feed.xml": "application/rss+xml",
    "/robots.txt": "text/plain; charset=utf-8",
    "/report.pdf": "application/pdf",
}


def _raw_answer(path: str, headers: Mapping[str, str]) -> tuple[str, list[tuple[str, str]]]:
    if path not in _TYPES:
        return "404 Not Found", [("Content-Type", "text/html")]
    if headers.get("if-none-match") == ETAG:
        return "304 Not Modified", [("ETag", ETAG)]  # no Content-Type, as servers send them
    return "200 OK", [("Content-Type", _TYPES[path]), ("ETag", ETAG)]


def raw_wsgi_site(recorder: Recorder, root: Path, stack: contextlib.ExitStack) -> Browser:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        wanted = {"if-none-match": environ.get("HTTP_IF_NONE_MATCH", "")}
        status, headers = _raw_answer(environ["PATH_INFO"], wanted)
        start_response(status, headers)
        return [b"" if status.startswith("304") else b"body"]

    return WSGIBrowser(WSGIAnalytics(app, recorder=recorder))


def raw_asgi_site(recorder: Recorder, root: Path, stack: contextlib.ExitStack) -> Browser:
    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        request = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, headers = _raw_answer(scope["path"], request)
        await send(
            {
                "type": "http.response.start",
                "status": int(status[:3]),
                "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": b"body"})

    return ASGIBrowser(ASGIAnalytics(app, recorder=recorder))


SITES = [
    pytest.param(flask_site, id="flask"),
    pytest.param(starlette_site, id="starlette"),
    pytest.param(fastapi_site, id="fastapi"),
    pytest.param(django_site, id="django-whitenoise"),
    pytest.param(raw_wsgi_site, id="raw-wsgi"),
    pytest.param(raw_asgi_site, id="raw-asgi"),
]
Site = Callable[[Recorder, Path, contextlib.ExitStack], Browser]


@pytest.fixture
def stack() -> Iterator[contextlib.ExitStack]:
    with contextlib.ExitStack() as cleanups:
        yield cleanups


def visit(browser: Browser, etags: dict[str, str]) -> list[int]:
    """A browser's visit: the page, then every asset it refers to, each revalidated when the
    browser has it cached (its ETag in ``etags``, which the visit fills in)."""
    statuses = []
    for path in (PAGE, *ASSETS):
        headers = {"User-Agent": CHROME, "Host": "example.com"}
        if path != PAGE:
            headers["Referer"] = "http://example.com/"
        if path in etags:
            headers["If-None-Match"] = etags[path]
        status, answered = browser.get(path, headers)
        statuses.append(status)
        if "etag" in answered:
            etags[path] = answered["etag"]
    return statuses


@pytest.mark.parametrize("make_site", SITES)
def test_a_visit_with_its_assets_is_one_page_view(
    make_site: Site,
    recorder: Recorder,
    client: redis.Redis,
    files: Path,
    stack: contextlib.ExitStack,
) -> None:
    browser = make_site(recorder, files, stack)
    etags: dict[str, str] = {}
    assert visit(browser, etags) == [200] * 5
    recorder.flush()
    assert zset(client, "paths") == {PAGE: 1.0}
    assert zset(client, "browsers") == {"Chrome": 1.0}
    assert zset(client, "statuses") == {"200": 5.0}
    assert sum(zset(client, "routes").values()) == 5  # every request is counted as a request

    # The next visit revalidates: 304s without a Content-Type, judged by the path's extension.
    # (Starlette's FileResponse, the favicon's there, answers every request in full.)
    again = visit(browser, etags)
    assert again[:4] == [304] * 4
    recorder.flush()
    assert zset(client, "paths") == {PAGE: 2.0}
    assert zset(client, "statuses") == {"200": 5.0 + again.count(200), "304": again.count(304)}
    with Stats(client=client) as stats:
        assert stats.total() == 2
        assert stats.uniques() == 1


@pytest.mark.parametrize("make_site", SITES)
def test_json_feeds_text_and_pdfs_are_not_page_views(
    make_site: Site,
    recorder: Recorder,
    client: redis.Redis,
    files: Path,
    stack: contextlib.ExitStack,
) -> None:
    browser = make_site(recorder, files, stack)
    answered = {}
    for path in NOT_PAGES:
        status, headers = browser.get(path, {"User-Agent": CHROME, "Host": "example.com"})
        assert status == 200, path
        answered[path] = headers.get("content-type", "").partition(";")[0]
    assert answered == {
        "/api/items/7": "application/json",
        "/feed.xml": "application/rss+xml",
        "/robots.txt": "text/plain",
        "/report.pdf": "application/pdf",
    }
    recorder.flush()
    assert zset(client, "paths") == {}
    assert zset(client, "browsers") == {}
    assert zset(client, "statuses") == {"200": 4.0}
    assert sum(zset(client, "routes").values()) == 4
    with Stats(client=client) as stats:
        assert stats.total() == 0
        assert stats.uniques() == 0
