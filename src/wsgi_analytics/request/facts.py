"""Request facts from a WSGI environ or an ASGI scope.

Pure functions: data in, a :class:`Facts` out, never an exception. Both protocols give the
same value for the same request, so the WSGI and ASGI adapters count identically.

WSGI hands every header and the path over as "bytes in a latin-1 str" (PEP 3333); ASGI gives
the path as text and headers as bytes. Both are turned into UTF-8 text here, with replacement
characters for invalid sequences, and capped so that no client input can grow unbounded.

The query string is kept (capped) for the campaign tags the flusher reads from it; a header
naming the client's country (``country_header=``, set by a CDN) is read only when the caller
asks for it, by the key the recorder's configuration gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

__all__ = [
    "MAX_HEADER",
    "MAX_PATH",
    "MAX_QUERY",
    "Facts",
    "from_environ",
    "from_scope",
    "valid_text",
]

MAX_PATH = 512
# Longer values are truncated, not rejected: a 64 KB User-Agent is an attack or a bug, and the
# first 512 characters are all any parser looks at anyway.
MAX_HEADER = 512
# A Referer is only reduced to its host, but the host can sit behind a long userinfo part.
MAX_REFERER = 2048
# Campaign tags and click ids sit in the first kilobyte of any real landing URL; a longer query
# string (a search form, a tracking blob) is cut, never rejected.
MAX_QUERY = 1024
# A country header holds a two-letter code; a longer value is not one anyway.
_MAX_COUNTRY = 8
# Enough for a long proxy chain; beyond it the rightmost entries (the trusted ones) are kept.
MAX_FORWARDED = 1024
# X-Forwarded-For is read from its right end, however long: our proxies append on the right,
# so a client's long spoofed prefix must never push their entries out. A UTF-8 character takes
# at most 4 bytes, so the last 4 KB of the raw header hold every character that can be kept.
_READ_FORWARDED = 4 * MAX_FORWARDED


class Facts(NamedTuple):
    """What the counters need to know about one request (a tuple: cheap to build, hashable)."""

    method: str
    path: str
    host: str
    referrer: str
    user_agent: str
    client: str | None
    forwarded_for: str
    ch_platform: str
    ch_mobile: str
    query: str = ""  # the query string, without "?"
    country: str = ""  # the configured country header's raw value (`from_environ`)


def valid_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD: Redis takes UTF-8, and a lone
    surrogate (``"abc\ud800"``, as JSON's ``\ud800`` escape decodes) has none. Costs a scan
    of non-ASCII text only."""
    if text.isascii():
        return text
    try:
        text.encode()
    except UnicodeEncodeError:
        # UTF-16 with "surrogatepass" rejoins split pairs and marks only the lone halves.
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def _wsgi_text(value: object, cap: int) -> str:
    if not isinstance(value, str):
        return ""
    if value.isascii():
        return value[:cap]
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        # A server that already decoded (against PEP 3333), maybe with surrogateescape:
        # keep its text, made encodable.
        return valid_text(value[:cap])
    return raw.decode("utf-8", "replace")[:cap]


def _bytes_text(value: bytes, cap: int) -> str:
    # Decoding a prefix can split a multi-byte sequence: the replacement character covers it.
    return value[: cap * 4].decode("utf-8", "replace")[:cap]


def _keep_right(entries: str) -> str:
    """Cap an X-Forwarded-For list from the left: proxies append on the right, so the entries
    our own proxies wrote are the last ones, and a long spoofed prefix must not push them out."""
    if len(entries) <= MAX_FORWARDED:
        return entries
    return entries[-MAX_FORWARDED:].partition(",")[2].lstrip()


def _wsgi_forwarded(value: object) -> str:
    if not isinstance(value, str):
        return ""
    if len(value) > _READ_FORWARDED:
        # The right end, without the entry the cut went through.
        value = value[-_READ_FORWARDED:].partition(",")[2]
    return _keep_right(_wsgi_text(value, _READ_FORWARDED))


def _asgi_forwarded(lines: list[bytes]) -> str:
    # Repeated X-Forwarded-For lines form one list (RFC 9110 section 5.3); only its right end
    # is read, so join no more lines (from the last) than that end needs.
    kept: list[bytes] = []
    size = 0
    for line in reversed(lines):
        kept.append(line)
        size += len(line) + 1
        if size > _READ_FORWARDED:
            break
    raw = b",".join(reversed(kept))
    if len(raw) > _READ_FORWARDED:
        raw = raw[-_READ_FORWARDED:].partition(b",")[2]
    return _keep_right(raw.decode("utf-8", "replace"))


# Facts built positionally, without the keyword-argument __new__ frame (hot path).
_new_facts = tuple.__new__


def _join_path(prefix: str, path: str) -> str:
    full = prefix + path if prefix else path
    return full or "/"


def from_environ(environ: Mapping[str, Any], country_header: str | None = None) -> Facts:
    """Facts from a WSGI environ (missing or malformed values become empty strings).

    ``country_header``: the environ key of a trusted country header
    (`wsgi_analytics.request.geo.header_environ_key`), read into ``Facts.country``; ``None``
    (the default) reads none.
    """
    get = environ.get
    method = get("REQUEST_METHOD")
    # Absent headers (most requests send no X-Forwarded-For or client hints) skip the helper.
    script = get("SCRIPT_NAME")
    path = _join_path(
        _wsgi_text(script, MAX_PATH) if script else "", _wsgi_text(get("PATH_INFO"), MAX_PATH)
    )
    peer = get("REMOTE_ADDR")
    referrer = get("HTTP_REFERER")
    forwarded = get("HTTP_X_FORWARDED_FOR")
    platform = get("HTTP_SEC_CH_UA_PLATFORM")
    mobile = get("HTTP_SEC_CH_UA_MOBILE")
    query = get("QUERY_STRING")
    country = get(country_header) if country_header else None
    return _new_facts(
        Facts,
        (
            method.upper()[:16] if isinstance(method, str) else "",
            path[:MAX_PATH],
            _wsgi_text(get("HTTP_HOST") or get("SERVER_NAME"), MAX_HEADER),
            _wsgi_text(referrer, MAX_REFERER) if referrer else "",
            _wsgi_text(get("HTTP_USER_AGENT"), MAX_HEADER),
            peer[:64] if isinstance(peer, str) and peer else None,
            _wsgi_forwarded(forwarded) if forwarded else "",
            _wsgi_text(platform, 64) if platform else "",
            _wsgi_text(mobile, 8) if mobile else "",
            _wsgi_text(query, MAX_QUERY) if query else "",
            _wsgi_text(country, _MAX_COUNTRY) if country else "",
        ),
    )


# ASGI header names are lower-case bytes; each maps to the Facts field it fills.
_WANTED = {
    b"host": "host",
    b"referer": "referrer",
    b"user-agent": "user_agent",
    b"x-forwarded-for": "forwarded_for",
    b"sec-ch-ua-platform": "ch_platform",
    b"sec-ch-ua-mobile": "ch_mobile",
}
_CAPS = {
    "host": MAX_HEADER,
    "referrer": MAX_REFERER,
    "user_agent": MAX_HEADER,
    "forwarded_for": _READ_FORWARDED,
    "ch_platform": 64,
    "ch_mobile": 8,
}
_WANTED_CAPS = {name: (field, _CAPS[field]) for name, field in _WANTED.items()}


@lru_cache(maxsize=16)
def _wanted_with(country_header: bytes) -> dict[bytes, tuple[str, int]]:
    """The wanted headers plus a country header (one table: no extra test per header)."""
    return {**_WANTED_CAPS, country_header: ("country", _MAX_COUNTRY)}


def _scope_headers(headers: Iterable[Any], country_header: bytes | None = None) -> dict[str, str]:
    text: dict[str, str] = {}
    forwarded: list[bytes] = []
    wanted = (_wanted_with(country_header) if country_header else _WANTED_CAPS).get
    for item in headers:
        try:
            name, value = item
        except (TypeError, ValueError):
            continue
        if not isinstance(name, bytes):
            continue
        # Servers send lower-case names (the ASGI spec asks for it): look up as is, and
        # lower-case only a name that is not.
        spec = wanted(name)
        if spec is None:
            if name.islower() or not name.isascii():
                continue
            spec = wanted(name.lower())
            if spec is None:
                continue
        if not isinstance(value, bytes):
            continue
        field, cap = spec
        if field == "forwarded_for":
            forwarded.append(value)
        elif field not in text:
            text[field] = _bytes_text(value, cap)
    if forwarded:
        text["forwarded_for"] = _asgi_forwarded(forwarded)
    return text


def _scope_client(client: object) -> str | None:
    if isinstance(client, (tuple, list)) and client and isinstance(client[0], str) and client[0]:
        return client[0][:64]
    return None


def from_scope(scope: Mapping[str, Any], country_header: bytes | None = None) -> Facts:
    """Facts from an ASGI HTTP scope (missing or malformed values become empty strings).

    ``country_header``: the lower-case name of a trusted country header
    (`wsgi_analytics.request.geo.header_scope_key`), read into ``Facts.country``; ``None`` (the
    default) reads none.
    """
    method = scope.get("method")
    root = scope.get("root_path")
    path = scope.get("path")
    headers = scope.get("headers")
    query = scope.get("query_string")
    fields = _scope_headers(headers, country_header) if isinstance(headers, (list, tuple)) else {}
    if not root and isinstance(path, str):
        full = path[:MAX_PATH] or "/"  # the usual case: no mount prefix
    else:
        full = _join_path(
            root[:MAX_PATH] if isinstance(root, str) else "",
            path[:MAX_PATH] if isinstance(path, str) else "",
        )
        # Starlette and others set root_path and keep it as a prefix of path (the ASGI spec's
        # newer reading); do not count the prefix twice.
        if (
            isinstance(root, str)
            and root
            and isinstance(path, str)
            and (path == root or path.startswith(root.rstrip("/") + "/"))
        ):
            full = path[:MAX_PATH]
    get = fields.get
    forwarded = get("forwarded_for")  # capped from the left already
    return _new_facts(
        Facts,
        (
            method.upper()[:16] if isinstance(method, str) else "",
            valid_text(full[:MAX_PATH]),  # a server's own text: may hold lone surrogates
            get("host", ""),
            get("referrer", ""),
            get("user_agent", ""),
            _scope_client(scope.get("client")),
            forwarded or "",
            get("ch_platform", ""),
            get("ch_mobile", ""),
            _bytes_text(query, MAX_QUERY) if query and isinstance(query, bytes) else "",
            get("country", ""),
        ),
    )
