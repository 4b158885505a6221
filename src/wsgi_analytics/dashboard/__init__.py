"""The dashboard: one server-rendered page and its JSON twin, as a Starlette app.

Run it alone (``wsgi-analytics dashboard``, or ``uvicorn`` on ``app(...)``) or mount it::

    from starlette.routing import Mount
    from wsgi_analytics.dashboard import app as analytics_dashboard

    routes = [..., Mount("/analytics", app=analytics_dashboard(redis_url, token="s3cret"))]

In a WSGI app (Flask, Django), serve it through a2wsgi under a path prefix::

    from a2wsgi import ASGIMiddleware
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    app.wsgi_app = DispatcherMiddleware(
        app.wsgi_app, {"/analytics": ASGIMiddleware(analytics_dashboard(token="s3cret"))}
    )

Routes: ``/`` the page, ``/api.json`` the data (`wsgi_analytics.reading.snapshot` documents the
schema); both take ``?days=1|7|30|all`` (any whole number of days works) and ``?limit=1..100``;
anything else is a 400. Access: see `wsgi_analytics.dashboard.access` (a token or credentials
when configured, else local requests only and only with ``trust_local=True``). Every response,
errors included, carries the same security headers (`render.HEADERS`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import connection
from ..reading.report import json_text
from ..reading.snapshot import Snapshot
from ..reading.stats import Stats
from .access import AccessControl, is_local
from .render import HEADERS, error_page, page

__all__ = ["app", "is_local"]

_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in HEADERS.items()]
_DIMENSIONS_TTL = 60.0  # custom dimensions are found with SCAN: not on every page view
_MAX_DAYS = 3660


class _BadQuery(ValueError):
    pass


class _JSON(JSONResponse):
    """JSON with every character a terminal would act on escaped: ``curl .../api.json`` prints
    members that any client chose (see `wsgi_analytics.reading.report.json_text`)."""

    def render(self, content: Any) -> bytes:
        return json_text(content).encode("utf-8")


class _SecurityHeaders:
    """Adds `render.HEADERS` to every response that does not set its own (the router's 404 and
    405, a refusal, a redirect): an error page is as private as the page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [item for item in _RAW_HEADERS if item[0] not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _whole(text: str, low: int, high: int) -> int | None:
    # ASCII digits only ('²'.isdigit() is true, and int() takes Arabic-Indic digits), and no
    # longer than the bound: int() of a few thousand digits raises, of more takes a while.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def _query(request: Request) -> tuple[str, int | None, int]:
    raw = request.query_params.get("days", "1")
    days: int | None = None
    if raw != "all":
        days = _whole(raw, 1, _MAX_DAYS)
        if days is None:
            raise _BadQuery(f"days must be 1 to {_MAX_DAYS}, or 'all'")
    limit = _whole(request.query_params.get("limit", "10"), 1, 100)
    if limit is None:
        raise _BadQuery("limit must be 1 to 100")
    return raw, days, limit


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("not found", 404)(scope, receive, send)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)  # registered for HTTPException only
    detail = {404: "There is no such page here.", 405: "Only GET is answered here."}
    return HTMLResponse(
        error_page(error.detail, detail.get(error.status_code, error.detail)),
        error.status_code,
        headers={**(error.headers or {}), **HEADERS},
    )


async def _server_error(request: Request, error: Exception) -> Response:
    # Starlette's outermost layer calls this (then re-raises, so the server logs the traceback):
    # it is outside every middleware, hence the headers here.
    page_ = error_page("Server error", "The dashboard failed; the server log says why.")
    return HTMLResponse(page_, 500, headers=HEADERS)


def app(
    redis_url: str | None = None,
    *,
    client: connection.Client | None = None,
    prefix: str = "analytics",
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
    trust_local: bool = False,
) -> Starlette:
    """The dashboard as a Starlette app. ``client`` (never closed here) or ``redis_url``
    (a client owned by the app, closed at lifespan shutdown) choose the server. ``token``
    and/or ``username``/``password``, when given, are required of every request; without
    them only local requests get in, and only with ``trust_local=True`` (see
    `wsgi_analytics.dashboard.access` for what "local" can and cannot tell)."""
    access = Middleware(
        AccessControl, token=token, username=username, password=password, trust_local=trust_local
    )
    # Built once here so that a bad secret fails now, not at the first request.
    AccessControl(_refuse, token=token, username=username, password=password)
    stats = Stats(redis_url, client=client, prefix=prefix)
    where = connection.describe(connection.resolve_url(redis_url)) if client is None else "Redis"
    known: list[tuple[float, list[str]]] = []

    def read(days: int | None, limit: int) -> Snapshot:
        # Runs in a worker thread: redis-py's sync client must never block the event loop.
        if not known or time.monotonic() - known[0][0] > _DIMENSIONS_TTL:
            known[:] = [(time.monotonic(), stats.dimensions())]
        return stats.snapshot(days=days, limit=limit, dimensions=known[0][1])

    async def snapshot_or_error(request: Request, html: bool) -> Response | tuple[str, Snapshot]:
        try:
            selected, days, limit = _query(request)
            return selected, await run_in_threadpool(read, days, limit)
        except _BadQuery as error:
            status, title, detail = 400, "Bad request", str(error)
        except redis.RedisError as error:
            status, title = 503, "Analytics unavailable"
            detail = f"cannot read from {where}: {' '.join(str(error).split())}"
        if html:
            return HTMLResponse(error_page(title, detail), status, headers=HEADERS)
        return _JSON({"error": detail}, status, headers=HEADERS)

    async def show(request: Request) -> Response:
        result = await snapshot_or_error(request, html=True)
        if isinstance(result, Response):
            return result
        selected, snapshot = result
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        return HTMLResponse(page(snapshot, base=base, selected=selected), headers=HEADERS)

    async def api(request: Request) -> Response:
        result = await snapshot_or_error(request, html=False)
        if isinstance(result, Response):
            return result
        return _JSON(result[1].to_json(), headers=HEADERS)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        stats.close()

    dashboard = Starlette(
        routes=[Route("/", show), Route("/api.json", api)],
        middleware=[Middleware(_SecurityHeaders), access],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    dashboard.state.stats = stats
    return dashboard
