"""URLconf of the Django site in test_django_native: pages, an id route, a regex route, sync and
async streams, a file, a failing view, a throttled form, the dashboard and the admin."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.contrib import admin
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from wsgi_analytics.django import get_recorder


def sync_only(get_response: Callable[[HttpRequest], Any]) -> Callable[[HttpRequest], Any]:
    """A sync-only middleware: under ASGI, Django then runs the ones before it in sync mode."""

    def middleware(request: HttpRequest) -> Any:
        return get_response(request)

    return middleware


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<h1>page</h1>")


def item(request: HttpRequest, item_id: int) -> HttpResponse:
    return HttpResponse(f"<h1>item {item_id}</h1>")


def archive(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(f"<h1>{year}</h1>")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"<p>one</p>"
        yield b"<p>two</p>"

    return StreamingHttpResponse(chunks(), content_type="text/html")


def broken_stream(request: HttpRequest) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        yield b"<p>one</p>"
        raise RuntimeError("the stream failed")

    return StreamingHttpResponse(chunks(), content_type="text/html")


async def async_stream(request: HttpRequest) -> StreamingHttpResponse:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"<p>one</p>", b"<p>two</p>"):
            await asyncio.sleep(0)
            yield part

    return StreamingHttpResponse(chunks(), content_type="text/html")


def download(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"%PDF-1.4 ..."), filename="report.pdf")


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view failed")


@csrf_exempt
def comment(request: HttpRequest) -> HttpResponse:
    return HttpResponse("thanks", content_type="text/plain")


def signup(request: HttpRequest) -> HttpResponse:
    get_recorder().track("signups", request.GET.get("plan", "free"))
    return HttpResponse("<p>welcome</p>")


urlpatterns = [
    path("", page),
    path("about/", page),
    path("items/<int:item_id>/", item),
    re_path(r"^archive/(?P<year>[0-9]{4})/$", archive),
    path("stream/", stream),
    path("broken-stream/", broken_stream),
    path("async-stream/", async_stream),
    path("download/", download),
    path("boom/", boom),
    path("comment/", comment),
    path("signup/", signup),
    path("healthz", page),
    path("staff/analytics/", include("wsgi_analytics.django.urls")),
    path("admin/", admin.site.urls),
]
