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

from collections.abc import Callable, Iterable, Mapping
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


# The environ keys `from_environ` reads, read in one pass.
_ENVIRON_KEYS = (
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "REMOTE_ADDR",
    "HTTP_REFERER",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_SEC_CH_UA_PLATFORM",
    "HTTP_SEC_CH_UA_MOBILE",
    "QUERY_STRING",
)


def from_environ(environ: Mapping[str, Any], country_header: str | None = None) -> Facts:
    """Facts from a WSGI environ (missing or malformed values become empty strings).

    ``country_header``: the environ key of a trusted country header
    (`wsgi_analytics.request.geo.header_environ_key`), read into ``Facts.country``; ``None``
    (the default) reads none.
    """
    get: Callable[[str], Any] = environ.get  # any value: each is checked below
    method, script, path, host, agent, peer, referrer, forwarded, platform, mobile, query = map(
        get, _ENVIRON_KEYS
    )
    if not host:
        host = get("SERVER_NAME")
    # Absent headers (most requests send no Referer, X-Forwarded-For or client hints) skip
    # the helper; so does an ASCII value (what `_wsgi_text` would return, capped, in a call).
    if referrer:
        referrer = (
            referrer[:MAX_REFERER]
            if isinstance(referrer, str) and referrer.isascii()
            else _wsgi_text(referrer, MAX_REFERER)
        )
    if query:
        query = (
            query[:MAX_QUERY]
            if isinstance(query, str) and query.isascii()
            else _wsgi_text(query, MAX_QUERY)
        )
    country = _wsgi_text(get(country_header), _MAX_COUNTRY) if country_header else ""
    # The usual request: these all text, all ASCII, no mount prefix. One join tells (it
    # refuses anything that is not text), where a test each costs ~0.1 µs on every request.
    try:
        usual = not script and "".join((method, path, host, agent, peer)).isascii()
    except TypeError:
        usual = False
    if usual:
        return _new_facts(
            Facts,
            (
                method.upper()[:16],
                path[:MAX_PATH] or "/",
                host[:MAX_HEADER],
                referrer or "",
                agent[:MAX_HEADER],
                peer[:64] or None,
                _wsgi_forwarded(forwarded) if forwarded else "",
                _wsgi_text(platform, 64) if platform else "",
                _wsgi_text(mobile, 8) if mobile else "",
                query or "",
                country,
            ),
        )
    path = _join_path(_wsgi_text(script, MAX_PATH) if script else "", _wsgi_text(path, MAX_PATH))
    return _new_facts(
        Facts,
        (
            method.upper()[:16] if isinstance(method, str) else "",
            path[:MAX_PATH],
            _wsgi_text(host, MAX_HEADER),
            referrer or "",
            _wsgi_text(agent, MAX_HEADER),
            peer[:64] if isinstance(peer, str) and peer else None,
            _wsgi_forwarded(forwarded) if forwarded else "",
            _wsgi_text(platform, 64) if platform else "",
            _wsgi_text(mobile, 8) if mobile else "",
            query or "",
            country,
        ),
    )


# ASGI header names are lower-case bytes; each maps to its slot in `_scope_headers`' result,
# the bytes of its value read (a UTF-8 character takes at most 4) and the characters kept.
_HOST, _REFERRER, _AGENT, _PLATFORM, _MOBILE, _COUNTRY, _FORWARDED = range(7)
_Spec = tuple[int, int, int]
_WANTED: dict[bytes, _Spec] = {
    b"host": (_HOST, 4 * MAX_HEADER, MAX_HEADER),
    b"referer": (_REFERRER, 4 * MAX_REFERER, MAX_REFERER),
    b"user-agent": (_AGENT, 4 * MAX_HEADER, MAX_HEADER),
    b"sec-ch-ua-platform": (_PLATFORM, 4 * 64, 64),
    b"sec-ch-ua-mobile": (_MOBILE, 4 * 8, 8),
    b"x-forwarded-for": (_FORWARDED, _READ_FORWARDED, _READ_FORWARDED),  # read in `_asgi_forwarded`
}


@lru_cache(maxsize=16)
def _wanted_with(country_header: bytes) -> dict[bytes, _Spec]:
    """The wanted headers plus a country header (one table: no extra test per header)."""
    return {**_WANTED, country_header: (_COUNTRY, 4 * _MAX_COUNTRY, _MAX_COUNTRY)}


def _scope_headers(headers: Iterable[Any], wanted: dict[bytes, _Spec]) -> list[Any]:
    """The wanted headers' text by slot (None for a header not sent; the X-Forwarded-For slot
    holds the joined text), the first line of each winning, every X-Forwarded-For line kept.

    Every request pays for this loop over all its headers, so it is written for what servers
    send: well-formed pairs of bytes, names in lower case (the ASGI spec asks for it). Anything
    else (a malformed item, a name in upper case) is read again by `_careful_headers`, which
    gives the same result for what both accept."""
    found: list[Any] = [None] * 7
    try:
        for name, value in headers:
            if name not in wanted:
                if name.islower():  # an ordinary header we do not read
                    continue
                return _careful_headers(headers, wanted)
            # The name may be a bytes look-alike (a memoryview compares equal to bytes).
            if not (isinstance(value, bytes) and isinstance(name, bytes)):
                continue
            slot, read, cap = wanted[name]
            if slot == _FORWARDED:
                if found[slot] is None:
                    found[slot] = [value]
                else:
                    found[slot].append(value)
            elif found[slot] is None:
                # Decoding a prefix can split a multi-byte sequence: U+FFFD covers it.
                found[slot] = value[:read].decode("utf-8", "replace")[:cap]
    except (TypeError, ValueError, AttributeError):  # unpacking, unhashable or odd names
        return _careful_headers(headers, wanted)
    if found[_FORWARDED] is not None:
        found[_FORWARDED] = _asgi_forwarded(found[_FORWARDED])
    return found


def _careful_headers(headers: Iterable[Any], wanted: dict[bytes, _Spec]) -> list[Any]:
    """`_scope_headers` for any header list: malformed items are skipped, and names are
    matched in any letter case."""
    found: list[Any] = [None] * 7
    forwarded: list[bytes] = []
    get = wanted.get
    for item in headers:
        try:
            name, value = item
        except (TypeError, ValueError):
            continue
        if not isinstance(name, bytes):
            continue
        spec = get(name)
        if spec is None:
            if name.islower() or not name.isascii():
                continue
            spec = get(name.lower())
            if spec is None:
                continue
        if not isinstance(value, bytes):
            continue
        slot, read, cap = spec
        if slot == _FORWARDED:
            forwarded.append(value)
        elif found[slot] is None:
            found[slot] = value[:read].decode("utf-8", "replace")[:cap]
    if forwarded:
        found[_FORWARDED] = _asgi_forwarded(forwarded)
    return found


_NO_HEADERS: list[Any] = [None] * 7


# The scope keys `from_scope` reads, read in one pass.
_SCOPE_KEYS = ("method", "root_path", "path", "headers", "query_string", "client")


def from_scope(scope: Mapping[str, Any], country_header: bytes | None = None) -> Facts:
    """Facts from an ASGI HTTP scope (missing or malformed values become empty strings).

    ``country_header``: the lower-case name of a trusted country header
    (`wsgi_analytics.request.geo.header_scope_key`), read into ``Facts.country``; ``None`` (the
    default) reads none.
    """
    get: Callable[[str], Any] = scope.get  # any value: each is checked below
    method, root, path, headers, query, client = map(get, _SCOPE_KEYS)
    if isinstance(headers, (list, tuple)):
        wanted = _wanted_with(country_header) if country_header else _WANTED
        host, referrer, agent, platform, mobile, country, forwarded = _scope_headers(
            headers, wanted
        )
    else:
        host, referrer, agent, platform, mobile, country, forwarded = _NO_HEADERS
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
            full = path
        full = full[:MAX_PATH]
    return _new_facts(
        Facts,
        (
            method.upper()[:16] if isinstance(method, str) else "",
            # a server's own text: may hold lone surrogates
            full if full.isascii() else valid_text(full),
            host or "",
            referrer or "",
            agent or "",
            # (host, port); a Unix socket's is None
            client[0][:64]
            if isinstance(client, (tuple, list))
            and client
            and isinstance(client[0], str)
            and client[0]
            else None,
            forwarded or "",  # capped from the left already
            platform or "",
            mobile or "",
            # `_bytes_text`, inline
            query[: 4 * MAX_QUERY].decode("utf-8", "replace")[:MAX_QUERY]
            if query and isinstance(query, bytes)
            else "",
            country or "",
        ),
    )
