"""Who may see the dashboard, and how a browser keeps its session.

Checked on every request, in this order:

1. **No cross-site reads.** Browsers say where a request comes from in ``Sec-Fetch-Site``;
   ``cross-site`` and ``same-site`` get 403. The dashboard only links to itself (``same-origin``)
   and is opened from the address bar or a bookmark (``none``). Without this, any page the
   admin opens could make their browser fire reads at a dashboard it can reach, a loopback one
   included. ``same-site`` is refused as well: a site ignores ports and subdomains, so every
   other app on ``localhost`` or under the same domain is "same-site". Clients that send no such
   header (curl, scripts, old browsers) are not concerned.
2. **With a token or credentials configured, every request needs them**, local ones too: a
   proxy or a forwarder on the same host makes the whole internet look local.
   ``Authorization: Bearer <token>`` for scripts, HTTP Basic for ``username``/``password``, or a
   session cookie. The token is taken once, from ``?token=`` or the sign-in form of the 401 page,
   and answered by a 303 to the same URL without it (so it does not stay in the address bar,
   the history or later access-log lines) that sets the session cookie: HttpOnly,
   SameSite=Strict, Secure over https, scoped to the app's root path, its value an expiring MAC
   keyed by the token (never the token). Every worker process accepts it; changing the token
   ends every session.
3. **With none configured**, a request is let in only when the app was built with
   ``trust_local=True`` and `is_local` holds: the TCP peer is loopback, ``Host`` is a loopback
   name (against DNS rebinding), no header shows a proxy, and the request is not HTTP/1.0
   (what nginx speaks to its upstreams by default, adding no header at all; no browser does).
   Anything else gets 403: an analytics page is never public by accident.

The limit of rule 3: a bare TCP forwarder (socat, ``ssh -L``, HAProxy in TCP mode), or an HTTP
proxy set to speak HTTP/1.1 and add no header, leaves no trace, so what it forwards looks local.
Hence trust is opt-in, and the CLI turns it on only when it binds a loopback address; anything
that can forward to that port can read the page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus

from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .render import HEADERS, LOGIN_HEADERS, error_page, login_page

__all__ = [
    "SESSION_COOKIE",
    "SESSION_LIFETIME",
    "AccessControl",
    "is_forwarding_header",
    "is_local",
    "is_loopback_address",
]

SESSION_COOKIE = "wsgi_analytics_session"
SESSION_LIFETIME = 7 * 24 * 3600  # seconds; then the token is asked for again

# Header names that some proxy, load balancer, CDN or tunnel adds on the way. Browsers send
# none of them, so a request carrying any of them was forwarded: generous on purpose.
_FORWARDING_NAMES = frozenset(
    name.encode()
    for name in (
        "forwarded", "via", "x-real-ip", "true-client-ip", "cf-connecting-ip", "x-client-ip",
        "x-cluster-client-ip", "fastly-client-ip", "client-ip", "x-host", "x-scheme",
        "x-url-scheme", "front-end-https", "cdn-loop", "x-request-start", "x-cloud-trace-context",
    )
)  # fmt: skip
_FORWARDING_PREFIXES = tuple(
    prefix.encode()
    for prefix in (
        "x-forwarded", "x-original-", "x-real-", "x-envoy-", "x-amzn-", "x-azure-", "x-arr-",
        "x-appengine-", "x-akamai-", "akamai-", "cf-", "fastly-", "x-proxy", "proxy-", "x-ssl",
        "x-client-", "x-remote-", "x-coming-from", "x-cluster-", "x-vercel-", "x-nf-",
    )
)  # fmt: skip
_FORWARDING_PARTS = tuple(
    part.encode()
    for part in ("forwarded", "client-ip", "clientip", "real-ip", "connecting-ip", "originating")
)
_REFUSED_SITES = frozenset({"cross-site", "same-site"})
_FORM = b"application/x-www-form-urlencoded"
_FORM_LIMIT = 4096  # bytes of a sign-in form; a token is far shorter
_SESSION_LABEL = b"wsgi_analytics dashboard session v1"
_CLOCK_SKEW = 300  # seconds a cookie may seem to come from the future (clocks of workers)


def is_forwarding_header(name: bytes) -> bool:
    """Whether a (lower-case) header name is one a proxy adds: `is_local` refuses those."""
    return (
        name in _FORWARDING_NAMES
        or name.startswith(_FORWARDING_PREFIXES)
        or any(part in name for part in _FORWARDING_PARTS)
    )


def is_loopback_address(text: str) -> bool:
    """Whether ``text`` is an IP address of this machine's loopback (127.0.0.0/8, ::1, and
    IPv4-mapped 127.x); names (``localhost``) are not addresses."""
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _is_loopback_host(host: str) -> bool:
    host = host.strip().lower()
    if host.startswith("["):
        name, closed, port = host[1:].partition("]")
        if not closed or (port and not (port[0] == ":" and port[1:].isdigit())):
            return False
        return is_loopback_address(name)
    name, colon, port = host.partition(":")
    if colon and not (port.isascii() and port.isdigit()):
        return False
    return name == "localhost" or is_loopback_address(name)


def is_local(scope: Mapping[str, Any]) -> bool:
    """Whether an ASGI scope comes straight from this machine: a loopback TCP peer, HTTP/1.1 or
    later, exactly one ``Host`` header naming loopback, and no header any proxy adds (see the
    module docstring for what this cannot see)."""
    client = scope.get("client")
    if not client or not is_loopback_address(str(client[0])):
        return False
    if scope.get("http_version") in ("0.9", "1.0"):
        return False
    hosts = []
    for name, value in scope.get("headers", ()):
        name = name.lower()
        if name == b"host":
            hosts.append(value.decode("latin-1"))
        elif is_forwarding_header(name):
            return False
    return len(hosts) == 1 and _is_loopback_host(hosts[0])


def _same(given: str, expected: str) -> bool:
    """Constant time in the content of ``given`` (its length aside, as with any compare)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class _Sessions:
    """Session cookies: ``<issued unix time>.<MAC of it>``, under a key derived from the token.
    Stateless, so every worker process (and a restart) accepts what another issued; the cookie
    proves that its holder knew the token without revealing it."""

    def __init__(self, token: str, lifetime: int) -> None:
        self._key = hmac.new(token.encode(), _SESSION_LABEL, hashlib.sha256).digest()
        self.lifetime = lifetime

    def _mac(self, issued: str) -> bytes:
        digest = hmac.new(self._key, issued.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=")

    def issue(self) -> str:
        issued = str(int(time.time()))
        return f"{issued}.{self._mac(issued).decode()}"

    def valid(self, value: str) -> bool:
        issued, _, mac = value.partition(".")
        if not (issued.isascii() and issued.isdigit()) or len(issued) > 12:
            return False
        age = time.time() - int(issued)
        genuine = hmac.compare_digest(mac.encode("latin-1", "replace"), self._mac(issued))
        return genuine and -_CLOCK_SKEW <= age < self.lifetime


def _headers(scope: Scope) -> dict[bytes, list[str]]:
    found: dict[bytes, list[str]] = {}
    for name, value in scope.get("headers", ()):
        found.setdefault(name.lower(), []).append(value.decode("latin-1"))
    return found


def _cookies(headers: dict[bytes, list[str]], name: str) -> list[str]:
    values = []
    for header in headers.get(b"cookie", ()):
        for pair in header.split(";"):
            key, _, value = pair.strip().partition("=")
            if key == name:
                values.append(value.strip().strip('"'))
    return values


def _location_without_token(scope: Scope) -> str:
    """The request's own URL minus its ``token`` parameter, as an absolute path: never a host
    (no open redirect through ``Host``) and never ``//`` at the start (a scheme-relative URL)."""
    path = "/" + quote(scope.get("path") or "/", safe="/:@!$&'()*+,;=-._~").lstrip("/")
    query = scope.get("query_string", b"").decode("latin-1")
    kept = [
        quote(pair, safe="!$&'()*+,-./:;=?@_~%")
        for pair in query.split("&")
        if pair and unquote_plus(pair.partition("=")[0]) != "token"
    ]
    return path + ("?" + "&".join(kept) if kept else "")


async def _posted_token(receive: Receive) -> str | None:
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        if len(body) > _FORM_LIMIT:
            return None
        if not message.get("more_body", False):
            break
    fields = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
    return next((value for name, value in fields if name == "token"), None)


def _refusal(status: int, title: str, detail: str) -> Response:
    return HTMLResponse(error_page(title, detail), status, headers=HEADERS)


class AccessControl:
    """ASGI middleware enforcing the rules of the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        trust_local: bool = False,
        session_lifetime: int = SESSION_LIFETIME,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("username and password go together")
        if token == "" or password == "" or username == "":
            raise ValueError("an empty token, username or password would let anyone in")
        self.app = app
        self.token = token
        self.credentials = (username, password) if username and password else None
        self.trust_local = trust_local
        self.sessions = _Sessions(token, session_lifetime) if token is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refusal = await self._refusal(scope, receive)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            # Before the handshake is accepted: the server answers 403.
            await send({"type": "websocket.close", "code": 1008, "reason": "access refused"})
        else:
            await refusal(scope, receive, send)

    async def _refusal(self, scope: Scope, receive: Receive) -> Response | None:
        """None to let the request in, else the response that refuses it (or signs in)."""
        headers = _headers(scope)
        if any(s.strip().lower() in _REFUSED_SITES for s in headers.get(b"sec-fetch-site", ())):
            return _refusal(
                403,
                "Cross-site request refused",
                "The analytics dashboard answers only its own pages: open it from the address "
                "bar or a bookmark.",
            )
        if self.token is None and self.credentials is None:
            if self.trust_local and is_local(scope):
                return None
            detail = (
                "The analytics dashboard answers local requests only, and only when they do "
                "not come through a proxy: configure a token or credentials to open it further."
                if self.trust_local
                else "No token or credentials are configured: the analytics dashboard is closed."
            )
            return _refusal(403, "Forbidden", detail)
        if scope["type"] == "http" and self.token is not None:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), True)
            given = [value for name, value in query if name == "token"]
            if given and all(_same(value, self.token) for value in given):
                return self._signed_in(scope)
            if given and not self._authorised(headers):
                return self._challenge("Wrong token.")
        if self._authorised(headers):
            return None
        if scope["type"] == "http" and self.token is not None and scope["method"] == "POST":
            kind = headers.get(b"content-type", [""])[0].encode("latin-1").partition(b";")[0]
            if kind.strip().lower() == _FORM:
                posted = await _posted_token(receive)
                if posted is not None and _same(posted, self.token):
                    return self._signed_in(scope)
                return self._challenge("Wrong token.")
        return self._challenge("Sign in to see the analytics.")

    def _authorised(self, headers: dict[bytes, list[str]]) -> bool:
        if self.sessions is not None and any(
            self.sessions.valid(value) for value in _cookies(headers, SESSION_COOKIE)
        ):
            return True
        authorization = headers.get(b"authorization", [""])[0]
        scheme, _, secret = authorization.partition(" ")
        scheme, secret = scheme.lower(), secret.strip()
        if self.token is not None and scheme == "bearer" and _same(secret, self.token):
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

    def _signed_in(self, scope: Scope) -> Response:
        assert self.sessions is not None  # only called with a token configured
        path = quote(scope.get("root_path", "").rstrip("/") or "/", safe="/")
        cookie = (
            f"{SESSION_COOKIE}={self.sessions.issue()}; Path={path}; "
            f"Max-Age={self.sessions.lifetime}; HttpOnly; SameSite=Strict"
        )
        if scope.get("scheme") in ("https", "wss"):
            cookie += "; Secure"
        location = _location_without_token(scope)
        return Response(
            status_code=303, headers={**HEADERS, "Location": location, "Set-Cookie": cookie}
        )

    def _challenge(self, detail: str) -> Response:
        if self.credentials is not None:
            challenge = 'Basic realm="wsgi_analytics", charset="UTF-8"'
        else:
            challenge = 'Bearer realm="wsgi_analytics"'
        if self.token is None:
            return HTMLResponse(
                error_page("Authentication required", detail),
                401,
                headers={**HEADERS, "WWW-Authenticate": challenge},
            )
        return HTMLResponse(
            login_page(detail), 401, headers={**LOGIN_HEADERS, "WWW-Authenticate": challenge}
        )
