"""Django entry point.

``settings.py``::

    INSTALLED_APPS = [..., "wsgi_analytics.django"]
    MIDDLEWARE = ["wsgi_analytics.django.AnalyticsMiddleware", ...]  # first
    WSGI_ANALYTICS = {"redis_url": "redis://localhost:6379/0", "throttle": {"limit": 5}}

``urls.py``: ``path("analytics/", include("wsgi_analytics.django.urls"))`` for the staff
dashboard; ``manage.py analytics_report`` prints the numbers; `track_signal` counts a signal;
`get_recorder` is the process' recorder, for ``get_recorder().track(...)`` in a view.
"""

from __future__ import annotations

from .config import get_recorder
from .middleware import AnalyticsMiddleware
from .signals import track_signal

__all__ = ["AnalyticsMiddleware", "get_recorder", "track_signal"]
