"""URLconf of the Django site in test_documents: a page that answers conditional requests, and
the non-page answers (JSON, a feed, text, a PDF). Its assets are WhiteNoise's to serve."""

from __future__ import annotations

import io

from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.http import etag


@etag(lambda request: '"page-v1"')
def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<!doctype html><link rel=stylesheet href=/static/css/site.css>")


def item(request: HttpRequest, item_id: int) -> JsonResponse:
    return JsonResponse({"id": item_id})


def feed(request: HttpRequest) -> HttpResponse:
    return HttpResponse("<rss/>", content_type="application/rss+xml")


def robots(request: HttpRequest) -> HttpResponse:
    return HttpResponse("User-agent: *", content_type="text/plain")


def report(request: HttpRequest) -> FileResponse:
    return FileResponse(io.BytesIO(b"%PDF-1.4"), filename="report.pdf")


urlpatterns = [
    path("", page),
    path("api/items/<int:item_id>", item),
    path("feed.xml", feed),
    path("robots.txt", robots),
    path("report.pdf", report),
]
