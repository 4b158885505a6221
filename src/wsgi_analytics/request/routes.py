"""Route templates: one ``routes`` member per endpoint, not one per id.

Where a template comes from, first found wins (DESIGN A3, "Route templates"):

1. **explicit**: ``scope["wsgi_analytics.route"]`` / ``environ["wsgi_analytics.route"]``, set by
   any app or by the Flask and Django entry points. The app knows best, so it beats everything.
2. **framework**: Starlette and FastAPI leave the matched route in the scope after the app ran
   (:func:`template_from_scope`).
3. **fallback**: the path with id-like segments replaced by ``{id}`` (:func:`template`); a 404
   with no matched route is ``(unmatched)`` instead, so scanners cannot mint routes.

The fallback's rules. A segment is an id when it is one of:

- all ASCII digits (``/users/123``, also ``/2024/``: a year in a path is a parameter too);
- a UUID, 8-4-4-4-12 hex digits in any case;
- hex of 16 or more characters (MD5, SHA, 24-character object ids, 32-character dashless UUIDs),
  or of 8 to 15 characters (short commit hashes, ``3f2a9c1b``);
- a ULID (26 characters of Crockford's base32, upper case);
- a long random token: 10 or more letters and digits (``-``, ``_``, ``=``, ``~`` allowed between
  them) whose character class (lower, upper, digit) changes at least ``max(3, length / 4)``
  times within its runs: nanoids, base64url, Stripe-like ``cus_9s6XKzkNRiz8i3``.

and every rule needs at least one digit: a segment without a digit is never an id, so words,
slugs and camelCase (``/blog/my-first-post``, ``/users/me``, ``/getUserProfile``) always stay.
A digit alone is not enough either: ``v2``, ``en-us``, ``top10movies``, ``python-3-release-notes``
and ``Annual-Report-Q3-2024`` stay, because words change class rarely and random strings change
it on most characters (base62: 62 % of neighbours differ). What this misses: short random codes
(``/s/aB3x9``, under 10 characters), and of random tokens about 6 % of 16-character and 3 % of
21-character base62 ones, 10 % of lower-case base36 ones (measured; a missed id only costs a
row more, trimmed like any member). What it over-collapses: camelCase with digits such as
``iPhone15ProMax`` or ``Python3Tutorial`` (one route instead of one per page). A segment with a
short extension is judged by its stem: ``/invoices/123.pdf`` is ``/invoices/{id}.pdf``.

Framework templates read like OpenAPI paths whatever the framework: Starlette's
``/items/{item_id:int}`` is ``/items/{item_id}``, and :func:`openapi_template` turns Flask's and
Django's ``/items/<int:item_id>`` into the same ``/items/{item_id}``, so one API reads the same
under every entry point. Templates are capped at :data:`MAX_TEMPLATE` characters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, MutableMapping
from typing import Any

__all__ = [
    "MAX_TEMPLATE",
    "ROUTE_KEY",
    "UNMATCHED",
    "explicit_route",
    "openapi_template",
    "route_member",
    "template",
    "template_from_scope",
]

ROUTE_KEY = "wsgi_analytics.route"
UNMATCHED = "(unmatched)"
MAX_TEMPLATE = 512
ID = "{id}"
# Flask (``<int:id>``, ``<string(length=2):lang>``) and Django (``<int:pk>``, ``<slug>``)
# placeholders: an optional converter (with arguments) before the parameter's name.
_PLACEHOLDER = re.compile(r"(?<!\?P)<(?:[^<>:]*:)?([A-Za-z_][A-Za-z0-9_]*)>")
# Django's re_path named groups, ``(?P<year>[0-9]{4})``, with one level of parentheses inside.
_NAMED_GROUP = re.compile(r"\(\?P<([A-Za-z_][A-Za-z0-9_]*)>(?:[^()]|\([^()]*\))*\)")


@functools.lru_cache(maxsize=1024)
def openapi_template(rule: str) -> str:
    """A Flask or Django URL rule as an OpenAPI-style template: ``/items/<int:item_id>`` and
    ``/items/(?P<item_id>[0-9]+)`` -> ``/items/{item_id}`` (converters and patterns dropped, as
    Starlette's are)."""
    return _PLACEHOLDER.sub(r"{\1}", _NAMED_GROUP.sub(r"{\1}", rule))[:MAX_TEMPLATE]


# Methods outside this set are counted as "OTHER": a scanner sending "FOOBAR /x" must not mint
# routes (OpenTelemetry's http.request.method does the same with "_OTHER").
_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "QUERY"}
)

_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")
_TOKEN_SEPARATORS = frozenset("-_=~")
_ULID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
# Only [A-Za-z0-9] runs separated by -_=~ can be tokens; "." and others end the question.
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-_=~]*")
_HAS_DIGIT = re.compile(r"[0-9]")
_MIN_TOKEN = 10


def _class_changes(segment: str) -> tuple[int, int]:
    """(changes of lower/upper/digit class between neighbours within runs, alphanumerics)."""
    changes = 0
    count = 0
    previous = ""
    for char in segment:
        if char in _TOKEN_SEPARATORS:
            previous = ""  # a separator starts a new run: "Hello-World" is two words
            continue
        count += 1
        kind = "d" if char in _DIGITS else ("u" if char.isupper() else "l")
        if previous and kind != previous:
            changes += 1
        previous = kind
    return changes, count


def _is_id(segment: str) -> bool:
    if not segment.isascii() or _HAS_DIGIT.search(segment) is None:
        return False
    if segment.isdigit():
        return True
    length = len(segment)
    if length == 36 and _UUID.fullmatch(segment):
        return True
    if length >= 8 and _HEX.issuperset(segment):
        return True
    if length == 26 and _ULID.fullmatch(segment):
        return True
    if length >= _MIN_TOKEN and _TOKEN_CHARS.fullmatch(segment):
        changes, count = _class_changes(segment)
        return count >= _MIN_TOKEN and changes >= max(3, count / 4)
    return False


def _segment(segment: str) -> str:
    if _is_id(segment):
        return ID
    stem, dot, extension = segment.rpartition(".")
    if dot and stem and 0 < len(extension) <= 5 and extension.isalnum() and _is_id(stem):
        return ID + "." + extension
    return segment


@functools.lru_cache(maxsize=4096)
def _template(path: str) -> str:
    return "/".join([_segment(segment) for segment in path.split("/")])[:MAX_TEMPLATE]


def template(path: str) -> str:
    """The fallback template of a path: id-like segments become ``{id}`` (rules above).

    Memoised (bounded LRU, ~100 ns a hit): real traffic repeats a few hundred paths.
    """
    return _template(path[: MAX_TEMPLATE * 2])  # the work is bounded whatever the caller passes


def route_member(method: str, route: str) -> str:
    """The ``routes`` member: ``"GET /items/{item_id}"``; unknown methods become ``OTHER``."""
    if method not in _METHODS:
        upper = method.upper()
        method = upper if upper in _METHODS else "OTHER"
    return f"{method} {route}"


def explicit_route(mapping: Mapping[str, Any]) -> str | None:
    """The template an app set under :data:`ROUTE_KEY` in its environ or scope, if any."""
    value = mapping.get(ROUTE_KEY)
    if isinstance(value, str) and value:
        return value[:MAX_TEMPLATE]
    return None


def template_from_scope(scope: MutableMapping[str, Any]) -> str | None:
    """The route template of an ASGI request after the app ran: explicit key, then Starlette.

    None when neither names one (not Starlette, no route matched, a mounted router that matched
    nothing): the caller then uses ``UNMATCHED`` for a 404 and :func:`template` otherwise. Never
    raises: the scope is the app's, and an odd one must not break the request.
    """
    explicit = scope.get(ROUTE_KEY)  # `explicit_route`, inline: a call less on every request
    if isinstance(explicit, str) and explicit:
        return explicit[:MAX_TEMPLATE]
    if "endpoint" not in scope:  # no Starlette router matched anything: skip the rest
        return None
    try:
        found = _starlette_template(scope)
    except Exception:
        return None
    return found[:MAX_TEMPLATE] if found else None


# What a Starlette (>= 0.13) or FastAPI router leaves in the scope, which it mutates in place:
#
# - "route": the matched route object; nested routers overwrite it, so it is the innermost one.
#   FastAPI's own router does not set it for a mount of a plain ASGI app (StaticFiles), and for
#   routers added with include_router(prefix=...) it is the route as declared, WITHOUT the
#   prefix (FastAPI >= 0.16x); the prefixed template is then in FastAPI's private
#   scope["fastapi"]["effective_route_context"].path_format, read here duck-typed.
# - "endpoint": the matched endpoint, or the mounted app for a Mount.
# - "root_path": the server's root_path plus every Mount's matched prefix, concrete values
#   ("/u/5" for Mount("/u/{uid}")); "app_root_path": the server's root_path, set by the first Mount.
# - "path_params": every parameter matched so far, mounts' included.
#
# So the template is: the mounts' prefix (root_path minus app_root_path, with the mounts' own
# formats when a mount has parameters) + the route's path_format. starlette_exporter and
# OpenTelemetry's FastAPI instrumentation instead walk app.routes again with route.matches();
# reading what the router left costs less and also sees routers FastAPI no longer lists.


def _starlette_template(scope: MutableMapping[str, Any]) -> str | None:
    route = scope.get("route")
    seen = _endpoints.get(id(route))
    if (
        seen is not None
        and seen[0] is route
        and not scope.get("root_path")
        and "fastapi" not in scope
    ):
        # The usual request: a route seen before, no mount, no FastAPI route context. The
        # general case below gives the same.
        regex = seen[2]
        if regex is None or regex.match(scope.get("path", "")) is not None:
            return seen[1]
    root_path: str = scope.get("root_path", "") or ""
    app_root_path: str = scope.get("app_root_path", root_path) or ""
    mounted = root_path[len(app_root_path) :] if root_path.startswith(app_root_path) else ""
    params: Mapping[str, Any] = scope.get("path_params") or {}
    route_format = _effective_format(scope)
    if route_format is None and route is not None:
        if seen is not None and seen[0] is route:
            # a route seen before: no attribute probing
            route_format = _complete(scope, seen[2], seen[1], root_path, params)
        else:
            if getattr(route, "routes", None):
                # The innermost object is a Mount (or Host) of a router: that router matched
                # nothing.
                return None
            route_format = getattr(route, "path_format", None)
            if not isinstance(route_format, str):
                return None
            if _is_mount(route):
                if route_format.endswith("/{path}"):
                    # A Mount of a plain app (StaticFiles, a WSGI app): root_path holds its
                    # prefix.
                    route_format = "/{path}"
            else:
                regex = getattr(route, "path_regex", None)
                _remember(route, route_format, regex)
                route_format = _complete(scope, regex, route_format, root_path, params)
    if route_format is None:
        # FastAPI does not set "route" for a Mount of a plain app; the mounted app is the endpoint.
        endpoint = scope.get("endpoint")
        if not mounted or endpoint is None or getattr(endpoint, "routes", None):
            return None
        route_format = "/{path}"
    if mounted:
        owned = _format_params(route_format)
        if any(name not in owned for name in params):
            # A mount has parameters: root_path holds their values, rebuild the mounts' formats.
            mounted = _mount_formats(scope, root_path, app_root_path) or template(mounted)
    return mounted + route_format


# Endpoint routes seen (not mounts, not routers, whose `routes` can still grow), by id, with
# the route itself (kept alive, so its id cannot be reused), its format and its regex: on
# FastAPI the probing of a route's attributes (two of them missing, each an AttributeError
# caught inside getattr) cost ~0.5 µs of every request. Routes live as long as the app; an
# app minting routes per request would only refill this after each clear.
_endpoints: dict[int, tuple[object, str, Any]] = {}
_MAX_ENDPOINTS = 4096


def _remember(route: object, route_format: str, regex: Any) -> None:
    if len(_endpoints) >= _MAX_ENDPOINTS:
        _endpoints.clear()
    _endpoints[id(route)] = (route, route_format, regex)


def _complete(
    scope: Mapping[str, Any],
    regex: Any,
    route_format: str,
    root_path: str,
    params: Mapping[str, Any],
) -> str:
    """The route's format, with the prefix a router added in front of it if it lacks one.

    A route as declared may not know the prefix it was included under (FastAPI's
    include_router(prefix=...) without the private key read above, or any router doing the
    same). Its own regex then fails on the path the router saw; the part of that path before
    the suffix it does match is the prefix, with the values of parameters the route does not
    own put back as ``{name}``, and any other id collapsed. One regex match per request.
    """
    path: str = scope.get("path", "")
    relative = path[len(root_path) :] if root_path and path.startswith(root_path) else path
    if regex is None or regex.match(relative) is not None:
        return route_format
    start = relative.find("/", 1)
    while start != -1 and regex.match(relative[start:]) is None:
        start = relative.find("/", start + 1)
    if start == -1:
        return route_format
    owned = _format_params(route_format)
    values = {str(value): name for name, value in params.items() if name not in owned}
    prefix = "/".join(
        "{" + values[segment] + "}" if segment in values else segment
        for segment in relative[:start].split("/")
    )
    return template(prefix) + route_format


def _is_mount(route: object) -> bool:
    return type(route).__name__ == "Mount" or hasattr(route, "_base_app")


def _effective_format(scope: Mapping[str, Any]) -> str | None:
    fastapi = scope.get("fastapi")
    if not isinstance(fastapi, dict):
        return None
    context = fastapi.get("effective_route_context")
    value = getattr(context, "path_format", None)
    return value if isinstance(value, str) and value.startswith("/") else None


_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?}")


@functools.lru_cache(maxsize=1024)
def _format_params(route_format: str) -> frozenset[str]:
    return frozenset(_PARAM.findall(route_format))


def _mount_formats(scope: Mapping[str, Any], root_path: str, app_root_path: str) -> str | None:
    """Re-match the mounts from the outermost router to recover their parameter names."""
    router = scope.get("router")
    path: str = scope.get("path", "")
    probe: dict[str, Any] = {
        "type": scope.get("type", "http"),
        "path": path,
        "root_path": app_root_path,
        "method": scope.get("method", "GET"),
        "path_params": {},
    }
    prefix = ""
    routes = getattr(router, "routes", None)
    while routes and probe["root_path"] != root_path:
        for candidate in routes:
            if not _is_mount(candidate):
                continue
            match, child = candidate.matches(probe)
            if getattr(match, "name", "") != "FULL":
                continue
            probe = {**probe, **child}
            if not root_path.startswith(probe["root_path"]):
                return None
            mount_format: str = candidate.path_format
            prefix += mount_format.removesuffix("/{path}")
            routes = getattr(candidate, "routes", None)
            break
        else:
            return None
    return prefix if probe["root_path"] == root_path else None
