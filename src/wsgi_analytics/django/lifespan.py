"""``flush_at_shutdown``: the counts of a Django site under uvicorn, flushed when it stops.

uvicorn ends on SIGTERM by re-raising the signal with its default action once it has shut down,
so ``atexit`` never runs there; the last moments of counts would be lost. The ASGI adapter
flushes during the lifespan shutdown instead, and answers lifespan itself for an app that
refuses it, as Django's ASGI handler does. This reuses exactly that, for lifespan only: HTTP
goes straight to Django, where `AnalyticsMiddleware` counts it.
"""

from __future__ import annotations

from ..adapters.asgi import ASGIAnalytics, ASGIApp, Receive, Scope, Send
from .config import get_recorder

__all__ = ["flush_at_shutdown"]


def flush_at_shutdown(application: ASGIApp) -> ASGIApp:
    """``application = flush_at_shutdown(get_asgi_application())`` in ``asgi.py``."""
    lifespan = ASGIAnalytics(application, recorder=get_recorder())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "lifespan":
            await lifespan(scope, receive, send)
        else:
            await application(scope, receive, send)

    return app
