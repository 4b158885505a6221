"""Who may see the dashboard: localhost freely, anyone else only with the token or credentials.

A request is local when the TCP peer is a loopback address, it carries no proxy header and its
``Host`` is a loopback name. The proxy headers matter: nginx on the same machine connects from
127.0.0.1 on behalf of the whole internet. The ``Host`` check defeats DNS rebinding, where a web
page the local user opens makes their browser talk to 127.0.0.1 under a foreign name.

When neither a token nor credentials are configured, non-local requests get 403: there is no
way to serve a public analytics page by accident.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["AccessControl", "is_local"]

_LOOPBACK_PEERS = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
_PROXY_HEADERS = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip", b"x-forwarded-host"})


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_local(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI HTTP scope comes straight from this machine (see the module docstring)."""
    client = scope.get("client")
    if not client or client[0] not in _LOOPBACK_PEERS:
        return False
    host = ""
    for name, value in scope.get("headers", ()):
        if name in _PROXY_HEADERS:
            return False
        if name == b"host":
            host = value.decode("latin-1")
    return not host or _host_name(host.lower()) in _LOOPBACK_NAMES


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


class AccessControl:
    """ASGI middleware enforcing the rule above; ``token`` is accepted as ``Authorization:
    Bearer <token>`` or ``?token=<token>``, ``username``/``password`` as HTTP basic."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if token == "" or password == "":
            raise ValueError("an empty token or password would let anyone in")
        self.app = app
        self.token = token
        self.credentials = (username, password) if username and password else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_local(scope) or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if self.token is None and self.credentials is None:
            response = PlainTextResponse(
                "The analytics dashboard answers localhost only: configure a token or "
                "credentials to open it to other hosts.\n",
                status_code=403,
            )
        else:
            challenge = 'Basic realm="wsgi_analytics", charset="UTF-8"'
            if self.credentials is None:
                challenge = 'Bearer realm="wsgi_analytics"'
            response = PlainTextResponse(
                "Authentication required.\n",
                status_code=401,
                headers={"WWW-Authenticate": challenge},
            )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        authorization = ""
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                authorization = value.decode("latin-1")
        scheme, _, secret = authorization.partition(" ")
        scheme, secret = scheme.lower(), secret.strip()
        if self.token is not None:
            if scheme == "bearer" and _same(secret, self.token):
                return True
            query = scope.get("query_string", b"").decode("latin-1")
            if any(k == "token" and _same(v, self.token) for k, v in parse_qsl(query)):
                return True
        if self.credentials is not None and scheme == "basic":
            try:
                decoded = base64.b64decode(secret, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return False
            user, _, password = decoded.partition(":")
            # Both compared, always: no early exit that would time which half was wrong.
            return _same(user, self.credentials[0]) & _same(password, self.credentials[1])
        return False
