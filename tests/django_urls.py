"""URLconf of the Django app in test_frameworks."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path


def page(request: HttpRequest) -> HttpResponse:
    return HttpResponse("page")


urlpatterns = [path("", page), path("about/", page)]
