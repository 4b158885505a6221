"""The one Django configuration of the in-process Django tests.

Django's settings can be configured once per process, so every test module that runs Django in
process calls `setup()` and changes what it needs with ``override_settings`` (``MIDDLEWARE``,
``ROOT_URLCONF``, ``WSGI_ANALYTICS``). The defaults are what ``test_frameworks`` needs: only
CommonMiddleware (APPEND_SLASH redirects) in front of ``tests.django_urls``.
"""

from __future__ import annotations

import django
from django.conf import settings

# A named in-memory database shared by every thread (Django runs sync code of async requests in
# worker threads, and a plain ":memory:" database is one per connection).
DATABASE = "file:wsgi_analytics_tests?mode=memory&cache=shared"


def setup() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF="tests.django_urls",
        MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "wsgi_analytics.django",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": DATABASE}},
        TEMPLATES=[
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                        "django.contrib.messages.context_processors.messages",
                    ]
                },
            }
        ],
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # fast, tests only
        SECRET_KEY="test-only",
        USE_TZ=True,
    )
    django.setup()
