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

Routes: ``/`` the page, ``/api.json`` the data (`wsgi_analytics.snapshot` documents the
schema); both take ``?days=1|7|30|all`` (any whole number of days works) and ``?limit=1..100``.
Access: see `wsgi_analytics.dashboard.access` (localhost needs nothing, others a secret).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import _redis
from ..snapshot import Snapshot
from ..stats import Stats
from .access import AccessControl, is_local
from .render import RANGES, error_page, page

__all__ = ["app", "is_local"]

_HEADERS = {
    # Private numbers: never cached by a proxy; an injected script could not run even if some
    # value escaped the escaping (no script source is allowed at all).
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_DIMENSIONS_TTL = 60.0  # custom dimensions are found with SCAN: not on every page view


class _BadQuery(ValueError):
    pass


def _query(request: Request) -> tuple[str, int | None, int]:
    raw = request.query_params.get("days", "1")
    days = next((d for value, _, d in RANGES if value == raw), 0)
    if raw != "all" and days == 0:
        if not raw.isdigit() or not 1 <= int(raw) <= 3660:
            raise _BadQuery("days must be 1 to 3660, or 'all'")
        days = int(raw)
    limit = request.query_params.get("limit", "10")
    if not limit.isdigit() or not 1 <= int(limit) <= 100:
        raise _BadQuery("limit must be 1 to 100")
    return raw, days or None, int(limit)


async def _refuse(scope: Scope, receive: Receive, send: Send) -> None:
    await PlainTextResponse("not found", 404)(scope, receive, send)


def app(
    redis_url: str | None = None,
    *,
    client: _redis.Client | None = None,
    prefix: str = "analytics",
    token: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Starlette:
    """The dashboard as a Starlette app. ``client`` (never closed here) or ``redis_url``
    (a client owned by the app, closed at lifespan shutdown) choose the server; ``token``
    and/or ``username``/``password`` let non-local requests in."""
    # Built once here so that a bad secret fails now, not at the first request.
    AccessControl(_refuse, token=token, username=username, password=password)
    stats = Stats(redis_url, client=client, prefix=prefix)
    where = _redis.describe(_redis.resolve_url(redis_url)) if client is None else "Redis"
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
            return HTMLResponse(error_page(title, detail), status, headers=_HEADERS)
        return JSONResponse({"error": detail}, status, headers=_HEADERS)

    async def show(request: Request) -> Response:
        result = await snapshot_or_error(request, html=True)
        if isinstance(result, Response):
            return result
        selected, snapshot = result
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        token_in_query = request.query_params.get("token") if token else None
        html = page(snapshot, base=base, selected=selected, token=token_in_query)
        return HTMLResponse(html, headers=_HEADERS)

    async def api(request: Request) -> Response:
        result = await snapshot_or_error(request, html=False)
        if isinstance(result, Response):
            return result
        return JSONResponse(result[1].to_json(), headers=_HEADERS)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        stats.close()

    dashboard = Starlette(
        routes=[Route("/", show), Route("/api.json", api)],
        middleware=[Middleware(AccessControl, token=token, username=username, password=password)],
        lifespan=lifespan,
    )
    dashboard.state.stats = stats
    return dashboard
