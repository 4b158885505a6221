"""The Django app: ``INSTALLED_APPS += ["wsgi_analytics.django"]``."""

from __future__ import annotations

from django.apps import AppConfig, apps

__all__ = ["AnalyticsConfig"]


class AnalyticsConfig(AppConfig):
    name = "wsgi_analytics.django"
    label = "wsgi_analytics"
    verbose_name = "Analytics"

    def ready(self) -> None:
        if apps.is_installed("django.contrib.admin"):
            from django.contrib import admin

            # A link to the dashboard on the admin index (shown once the dashboard's URLs are
            # included); a site that has its own index template keeps it.
            if admin.site.index_template is None:
                admin.site.index_template = "wsgi_analytics/admin_index.html"
