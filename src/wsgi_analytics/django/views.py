"""The dashboard for staff users: the Starlette dashboard, called in-process behind Django's login.

Anonymous visitors are sent to the admin's login page (or ``settings.LOGIN_URL`` without the
admin); signed-in users who are not active staff get 403. A staff request is then handed to the
dashboard app with the secret that only this process knows, so the dashboard's own access rule
is satisfied by Django's decision and never by where the request seems to come from. One async
view serves both WSGI and ASGI Django (under WSGI, Django runs it in an event loop of its own).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse

from .config import current

__all__ = ["dashboard"]

# Response headers the page may carry through; a cookie of the dashboard's own sign-in is not
# needed (Django's session is the sign-in) and is dropped.
_DROPPED = frozenset({"set-cookie", "content-length"})


async def dashboard(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Every dashboard URL: the page (``""``), ``api.json`` and the rest the dashboard serves."""
    user = await _user(request)
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), _login_url())
    if not (user.is_active and user.is_staff):
        raise PermissionDenied("the analytics dashboard is for staff users")
    return await _call_dashboard(request, rest)


async def _user(request: HttpRequest) -> Any:
    auser = getattr(request, "auser", None)  # Django 5.0 and later
    if auser is not None:
        return await auser()
    if not hasattr(request, "user"):
        raise ImproperlyConfigured(
            "the analytics dashboard needs django.contrib.auth's AuthenticationMiddleware"
        )
    # Resolving the lazy user reads the session and the database: not on the event loop.
    return await sync_to_async(_resolved_user)(request)


def _resolved_user(request: HttpRequest) -> Any:
    user = request.user
    user.is_authenticated  # noqa: B018 - evaluates the lazy object, in this thread
    return user


def _login_url() -> str:
    try:
        return str(reverse("admin:login"))
    except NoReverseMatch:
        return str(settings.LOGIN_URL)


async def _call_dashboard(request: HttpRequest, rest: str) -> HttpResponse:
    bridge = current().bridge
    path = request.path
    # The include() prefix: the dashboard then sees itself mounted there, and its links stay
    # under it (SCRIPT_NAME included: request.path has it).
    mount = (path[: len(path) - len(rest)] if rest and path.endswith(rest) else path).rstrip("/")
    headers = [(b"authorization", bridge.authorization.encode("latin-1"))]
    host = request.META.get("HTTP_HOST")
    if host:
        headers.append((b"host", host.encode("latin-1")))
    fetch_site = request.META.get("HTTP_SEC_FETCH_SITE")
    if fetch_site:
        # The dashboard's own rule against cross-site reads applies here too.
        headers.append((b"sec-fetch-site", fetch_site.encode("latin-1")))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method or "GET",
        "scheme": request.scheme or "http",
        "root_path": mount,
        "path": mount + "/" + rest,
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1"),
        "headers": headers,
        "client": None,
        "server": None,
    }
    started: dict[str, Any] = {}
    body: list[bytes] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.update(message)
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    await bridge.app(scope, receive, send)
    response = HttpResponse(b"".join(body), status=started.get("status", 500))
    for name, value in started.get("headers", ()):
        key = name.decode("latin-1")
        if key.lower() not in _DROPPED:
            response[key] = value.decode("latin-1")
    return response
