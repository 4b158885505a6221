"""The Django site of the server tests with the native entry point: `AnalyticsMiddleware` in
``MIDDLEWARE``, and for ASGI ``flush_at_shutdown`` around Django's handler. ``application`` is
ASGI, ``wsgi_application`` WSGI. As in `sample_django`, answers name the serving pid, counted in
a custom ``workers`` dimension; ``/_ready`` is answered before the middleware and not counted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="sample-django-not-secret",
    INSTALLED_APPS=["wsgi_analytics.django"],
    MIDDLEWARE=[f"{__name__}.ready", "wsgi_analytics.django.AnalyticsMiddleware"],
    WSGI_ANALYTICS={"flush_interval": float(os.environ.get("SAMPLE_FLUSH_INTERVAL", "1.0"))},
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402 - after settings
from django.core.wsgi import get_wsgi_application  # noqa: E402

from wsgi_analytics.django import flush_at_shutdown, get_recorder  # noqa: E402


def ready(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """Answers the servers' readiness probe before the analytics see it (sync middleware)."""

    def middleware(request: HttpRequest) -> Any:
        if request.path == "/_ready":
            return HttpResponse(f"{os.getpid()}\n", content_type="text/plain")
        return get_response(request)

    return middleware


def page(request: HttpRequest) -> HttpResponse:
    pid = str(os.getpid())
    get_recorder().track("workers", pid)
    return HttpResponse(f"{pid}\n", content_type="text/html; charset=utf-8")


urlpatterns = [re_path(r"^page/", page)]

application = flush_at_shutdown(get_asgi_application())
wsgi_application = get_wsgi_application()
