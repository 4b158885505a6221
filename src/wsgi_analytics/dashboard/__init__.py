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

Routes: ``/`` the page, ``/api.json`` its data (`wsgi_analytics.reading.snapshot` documents the
schema), ``/export.csv`` the tables as CSV (a download), ``/live`` the visitors of the last
minutes (it reloads itself). All take the parameters of `wsgi_analytics.dashboard.query`
(``?days=``, ``?from=&to=``, ``?where=``, ``?limit=``, ``?dimension=``, ``?sort=``); anything
malformed is a 400. Access: see `wsgi_analytics.dashboard.access` (a token or credentials when
configured, else local requests only and only with ``trust_local=True``). Every response, errors
included, carries the same security headers (`render.HEADERS`).
"""

from __future__ import annotations

import functools
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
from ..reading.stats import Stats
from .access import AccessControl, is_local
from .export import csv_text, filename
from .query import EXPORT, PAGE, TABLE, BadQuery, Limits, parse
from .render import HEADERS, LIVE_MINUTES, PAGE_HEADERS, View, error_page, live_page, page

__all__ = ["app", "is_local"]

_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in HEADERS.items()]
_DIMENSIONS_TTL = 60.0  # custom dimensions are found with SCAN: not on every page view


def _params(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        found.setdefault(name, []).append(value)
    return found


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
    retention_days: int | None = None,
) -> Starlette:
    """The dashboard as a Starlette app. ``client`` (never closed here) or ``redis_url``
    (a client owned by the app, closed at lifespan shutdown) choose the server. ``token``
    and/or ``username``/``password``, when given, are required of every request; without
    them only local requests get in, and only with ``trust_local=True`` (see
    `wsgi_analytics.dashboard.access` for what "local" can and cannot tell).
    ``retention_days``: where ranges are cut, as for `Stats` (``None``: the one the recorders
    stored under the prefix, else 90)."""
    access = Middleware(
        AccessControl, token=token, username=username, password=password, trust_local=trust_local
    )
    # Built once here so that a bad secret fails now, not at the first request.
    AccessControl(_refuse, token=token, username=username, password=password)
    stats = Stats(redis_url, client=client, prefix=prefix, retention_days=retention_days)
    where = connection.describe(connection.resolve_url(redis_url)) if client is None else "Redis"
    known: list[tuple[float, list[str]]] = []

    def dimensions() -> list[str]:
        # Runs in a worker thread, as every read here: redis-py's sync client must never block
        # the event loop.
        if not known or time.monotonic() - known[0][0] > _DIMENSIONS_TTL:
            known[:] = [(time.monotonic(), stats.dimensions())]
        return known[0][1]

    def read(request: Request, limits: Limits, *, live: bool = False) -> View:
        given = _params(request)
        if limits is PAGE and "dimension" in given:
            limits = TABLE  # one table alone: longer
        names = dimensions()
        query = parse(given, limits=limits, dimensions=[*names, "routes"])
        rows = query.rows(limits)
        if live:
            names, rows = ["paths", "sources"], 5
        elif query.dimension is not None:
            names = [query.dimension]
        elif limits is not EXPORT:
            # The Endpoints table reads its error counts itself; "routes" gives its heading.
            names = [name for name in names if name not in ("routes_4xx", "routes_5xx")]
            names += [] if "routes" in names else ["routes"]
        whole_page = query.dimension is None and not live
        endpoints = query.where is None and query.dimension in (None, "routes") and not live
        snapshot = stats.snapshot(
            days=1 if query.start is not None else query.days,
            start=query.start,
            end=query.end,
            where=query.where,
            limit=rows,
            dimensions=names,
            previous=whole_page,
            routes=rows if endpoints else 0,
            live=LIVE_MINUTES if whole_page or live else None,
        )
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        return View(snapshot=snapshot, query=query, base=base)

    async def view_or_error(
        request: Request, limits: Limits, kind: str, *, live: bool = False
    ) -> Response | View:
        try:
            return await run_in_threadpool(functools.partial(read, request, limits, live=live))
        except BadQuery as error:
            status, title, detail = 400, "Bad request", str(error)
        except redis.RedisError as error:
            status, title = 503, "Analytics unavailable"
            detail = f"cannot read from {where}: {' '.join(str(error).split())}"
        if kind == "html":
            return HTMLResponse(error_page(title, detail), status, headers=HEADERS)
        if kind == "csv":
            return PlainTextResponse(f"{title}: {detail}\n", status, headers=HEADERS)
        return _JSON({"error": detail}, status, headers=HEADERS)

    async def show(request: Request) -> Response:
        result = await view_or_error(request, PAGE, "html")
        if isinstance(result, Response):
            return result
        return HTMLResponse(page(result), headers=PAGE_HEADERS)

    async def live(request: Request) -> Response:
        result = await view_or_error(request, PAGE, "html", live=True)
        if isinstance(result, Response):
            return result
        return HTMLResponse(live_page(result), headers=HEADERS)

    async def api(request: Request) -> Response:
        result = await view_or_error(request, PAGE, "json")
        if isinstance(result, Response):
            return result
        return _JSON(result.snapshot.to_json(), headers=HEADERS)

    async def export(request: Request) -> Response:
        result = await view_or_error(request, EXPORT, "csv")
        if isinstance(result, Response):
            return result
        name = filename(result.snapshot, prefix)
        return Response(
            csv_text(result.snapshot),
            media_type="text/csv; charset=utf-8",
            headers={**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'},
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        stats.close()

    dashboard = Starlette(
        routes=[
            Route("/", show),
            Route("/api.json", api),
            Route("/export.csv", export),
            Route("/live", live),
        ],
        middleware=[Middleware(_SecurityHeaders), access],
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
        lifespan=lifespan,
    )
    dashboard.state.stats = stats
    return dashboard
