"""``path("analytics/", include("wsgi_analytics.django.urls"))``: the dashboard, for staff."""

from __future__ import annotations

from django.urls import path

from .views import dashboard

app_name = "wsgi_analytics"

urlpatterns = [
    path("", dashboard, name="index"),
    path("<path:rest>", dashboard, name="page"),
]
