"""Django entry point.

``settings.py``::

    INSTALLED_APPS = [..., "wsgi_analytics.django"]
    MIDDLEWARE = ["wsgi_analytics.django.AnalyticsMiddleware", ...]  # first
    WSGI_ANALYTICS = {"redis_url": "redis://localhost:6379/0", "throttle": {"limit": 5}}

``urls.py``: ``path("analytics/", include("wsgi_analytics.django.urls"))`` for the staff
dashboard; ``manage.py analytics_report`` prints the numbers; `track_signal` counts a signal;
`get_recorder` is the process' recorder, for ``get_recorder().track(...)`` in a view. Under
uvicorn, ``application = flush_at_shutdown(get_asgi_application())`` in ``asgi.py`` flushes the
counts at shutdown (uvicorn exits without running ``atexit``).
"""

from __future__ import annotations

from .config import get_recorder
from .lifespan import flush_at_shutdown
from .middleware import AnalyticsMiddleware
from .signals import track_signal

__all__ = ["AnalyticsMiddleware", "flush_at_shutdown", "get_recorder", "track_signal"]
