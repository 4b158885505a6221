"""A one-view Django project for the server tests: ``sample_django:application`` (ASGI).

Django's ASGI handler refuses the lifespan protocol (it raises for any scope but ``http``),
which is how most Django deployments under uvicorn run. As in `sample_asgi`, answers name the
serving pid, counted in a custom ``workers`` dimension; ``/_ready`` is not counted.
"""

from __future__ import annotations

import os

import django
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

from wsgi_analytics import ASGIAnalytics
from wsgi_analytics.adapters.asgi import Receive, Scope, Send

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="sample-django-not-secret",
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402 - after settings


def page(request: HttpRequest) -> HttpResponse:
    pid = str(os.getpid())
    analytics.recorder.track("workers", pid)
    return HttpResponse(f"{pid}\n", content_type="text/html; charset=utf-8")


urlpatterns = [re_path(r"^page/", page)]

analytics = ASGIAnalytics(
    get_asgi_application(), flush_interval=float(os.environ.get("SAMPLE_FLUSH_INTERVAL", "1.0"))
)


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http" and scope.get("path") == "/_ready":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": f"{os.getpid()}\n".encode()})
        return
    await analytics(scope, receive, send)
