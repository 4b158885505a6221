"""A settings module, for running ``django-admin`` commands in a process of their own."""

from __future__ import annotations

ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["wsgi_analytics.django"]
ROOT_URLCONF = "tests.django_urls"
SECRET_KEY = "test-only"
WSGI_ANALYTICS = {"prefix": "from-settings"}
