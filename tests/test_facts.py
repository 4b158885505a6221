"""Request facts: one value object from a WSGI environ or an ASGI scope, never an error."""

from __future__ import annotations

import random
from typing import Any

import pytest

from wsgi_analytics.request.facts import (
    MAX_HEADER,
    MAX_PATH,
    MAX_QUERY,
    Facts,
    _asgi_forwarded,
    _join_path,
    _wsgi_forwarded,
    _wsgi_text,
    from_environ,
    from_scope,
)

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0.0.0 Safari/537.36"


def _latin1(text: str) -> str:
    """How a PEP 3333 server hands UTF-8 bytes to the app."""
    return text.encode("utf-8").decode("latin-1")


def facts(**changes: Any) -> Facts:
    base = Facts("GET", "/", "", "", "", None, "", "", "")
    return base._replace(**changes)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, facts(method=""), id="empty environ"),
        pytest.param(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/a", "QUERY_STRING": "x=1"},
            facts(path="/a", query="x=1"),
            id="query string not in path",
        ),
        pytest.param(
            {"REQUEST_METHOD": "head", "SCRIPT_NAME": "/app", "PATH_INFO": "/page"},
            facts(method="HEAD", path="/app/page"),
            id="script name joined, method upper-cased",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "PATH_INFO": _latin1("/café/日本")},
            facts(path="/café/日本"),
            id="utf-8 path through latin-1",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/bad\xff\xfe"},
            facts(path="/bad\ufffd\ufffd"),
            id="invalid utf-8 replaced",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/日本"},
            facts(path="/日本"),
            id="text a server decoded already is kept",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "PATH_INFO": "/" + "a" * 70_000},
            facts(path="/" + "a" * (MAX_PATH - 1)),
            id="long path capped",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "HTTP_USER_AGENT": "x" * 65_536},
            facts(user_agent="x" * MAX_HEADER),
            id="64 KB user agent capped",
        ),
        pytest.param(
            {"REQUEST_METHOD": 7, "PATH_INFO": None, "HTTP_USER_AGENT": b"bytes", "REMOTE_ADDR": 1},
            facts(method=""),
            id="non-string values ignored",
        ),
        pytest.param(
            {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/f",
                "HTTP_HOST": "example.com",
                "HTTP_REFERER": "https://www.google.com/",
                "HTTP_USER_AGENT": CHROME,
                "REMOTE_ADDR": "2001:db8::1",
                "HTTP_X_FORWARDED_FOR": "198.51.100.7, 10.0.0.1",
                "HTTP_SEC_CH_UA_PLATFORM": '"Windows"',
                "HTTP_SEC_CH_UA_MOBILE": "?0",
            },
            Facts(
                "POST",
                "/f",
                "example.com",
                "https://www.google.com/",
                CHROME,
                "2001:db8::1",
                "198.51.100.7, 10.0.0.1",
                '"Windows"',
                "?0",
            ),
            id="every field, IPv6 peer",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "SERVER_NAME": "fallback.example"},
            facts(host="fallback.example"),
            id="host from SERVER_NAME",
        ),
        pytest.param(
            {"REQUEST_METHOD": "GET", "REMOTE_ADDR": ""},
            facts(),
            id="unix socket peer: no client",
        ),
    ],
)
def test_from_environ(environ: dict[str, Any], expected: Facts) -> None:
    assert from_environ(environ) == expected


def _scope(**changes: Any) -> dict[str, Any]:
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "root_path": "",
        "headers": [],
        "client": None,
    }
    scope.update(changes)
    return scope


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        pytest.param({}, facts(method=""), id="empty scope"),
        pytest.param(
            _scope(path="/a", query_string=b"x=1"), facts(path="/a", query="x=1"), id="query string"
        ),
        pytest.param(
            _scope(query_string=b"utm_source=caf\xc3\xa9&q=\xff" + b"z" * 5000),
            facts(query="utm_source=café&q=\ufffd" + "z" * (MAX_QUERY - 19)),
            id="query string decoded like the path, capped",
        ),
        pytest.param(_scope(query_string="x=1"), facts(), id="query string not bytes"),
        pytest.param(
            _scope(headers=[(b"cf-ipcountry", b"FR")]), facts(), id="country header not asked for"
        ),
        pytest.param(
            _scope(root_path="/app", path="/page"),
            facts(path="/app/page"),
            id="root path joined",
        ),
        pytest.param(
            _scope(root_path="/app", path="/app/page"),
            facts(path="/app/page"),
            id="root path already in path",
        ),
        pytest.param(
            _scope(root_path="/" + "r" * 400, path="/" + "p" * 400),
            facts(path=("/" + "r" * 400 + "/" + "p" * 400)[:MAX_PATH]),
            id="root path joined, capped",
        ),
        pytest.param(
            _scope(root_path="/a", path="/about"),
            facts(path="/a/about"),
            id="root path prefix is not a segment",
        ),
        pytest.param(_scope(path="/café"), facts(path="/café"), id="unicode path"),
        pytest.param(
            _scope(headers=[(b"user-agent", b"bad \xff\xfe")]),
            facts(user_agent="bad \ufffd\ufffd"),
            id="invalid utf-8 header",
        ),
        pytest.param(
            _scope(headers=[(b"user-agent", b"y" * 65_536)]),
            facts(user_agent="y" * MAX_HEADER),
            id="64 KB header capped",
        ),
        pytest.param(
            _scope(
                headers=[
                    (b"X-Forwarded-For", b"198.51.100.7"),
                    (b"x-forwarded-for", b"10.0.0.1"),
                    (b"user-agent", b"first"),
                    (b"user-agent", b"second"),
                ]
            ),
            facts(forwarded_for="198.51.100.7,10.0.0.1", user_agent="first"),
            id="repeated forwarded-for joined, first user agent wins",
        ),
        pytest.param(
            _scope(headers=[("str", "pair"), (b"only-one",), None, (b"host", 5)]),
            facts(),
            id="malformed header items skipped",
        ),
        pytest.param(_scope(headers="nope"), facts(), id="headers not a list"),
        pytest.param(
            _scope(client=("2001:db8::5", 443)),
            facts(client="2001:db8::5"),
            id="IPv6 client",
        ),
        pytest.param(_scope(client=None), facts(), id="unix socket: no client"),
        pytest.param(_scope(method="HEAD"), facts(method="HEAD"), id="HEAD"),
    ],
)
def test_from_scope(scope: dict[str, Any], expected: Facts) -> None:
    assert from_scope(scope) == expected


def test_both_protocols_agree() -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": _latin1("/blog/ünïcode/"),
        "QUERY_STRING": _latin1("utm_campaign=été&utm_source=hn"),
        "HTTP_HOST": "example.com",
        "HTTP_REFERER": "https://news.ycombinator.com/",
        "HTTP_USER_AGENT": CHROME,
        "REMOTE_ADDR": "203.0.113.5",
    }
    scope = _scope(
        path="/blog/ünïcode/",
        query_string="utm_campaign=été&utm_source=hn".encode(),
        headers=[
            (b"host", b"example.com"),
            (b"referer", b"https://news.ycombinator.com/"),
            (b"user-agent", CHROME.encode()),
        ],
        client=("203.0.113.5", 5000),
    )
    assert from_environ(environ) == from_scope(scope)


def test_long_forwarded_for_keeps_the_rightmost_entries() -> None:
    spoof = "6.6.6.6, " * 500
    environ = {"REQUEST_METHOD": "POST", "HTTP_X_FORWARDED_FOR": spoof + "198.51.100.1, 10.0.0.2"}
    scope = _scope(
        method="POST",
        headers=[
            (b"x-forwarded-for", spoof.rstrip(", ").encode()),
            (b"x-forwarded-for", b"198.51.100.1"),
        ],
    )
    for facts in (from_environ(environ), from_scope(scope)):
        assert len(facts.forwarded_for) <= 1024
        assert facts.forwarded_for.startswith("6.6.6.6")  # cut at an entry boundary
    assert from_environ(environ).forwarded_for.endswith("6.6.6.6, 198.51.100.1, 10.0.0.2")
    assert from_scope(scope).forwarded_for.endswith("6.6.6.6,198.51.100.1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("FR", "FR", id="code"),
        pytest.param("", "", id="empty"),
        pytest.param("x" * 100, "x" * 8, id="capped"),
    ],
)
def test_country_header_read_only_when_asked(value: str, expected: str) -> None:
    environ = {"REQUEST_METHOD": "GET", "HTTP_CF_IPCOUNTRY": value}
    scope = _scope(headers=[(b"CF-IPCountry", value.encode()), (b"x-country", b"DE")])
    assert from_environ(environ).country == ""
    assert from_scope(scope).country == ""
    assert from_environ(environ, "HTTP_CF_IPCOUNTRY").country == expected
    assert from_scope(scope, b"cf-ipcountry").country == expected
    assert from_scope(scope, b"x-country").country == "DE"


# The header reading as first written, one Python loop over every header: the fast read of the
# usual header list must give the same facts for any list.
_REFERENCE_FIELDS = {
    b"host": ("host", MAX_HEADER),
    b"referer": ("referrer", 2048),
    b"user-agent": ("user_agent", MAX_HEADER),
    b"x-forwarded-for": ("forwarded_for", 4096),
    b"sec-ch-ua-platform": ("ch_platform", 64),
    b"sec-ch-ua-mobile": ("ch_mobile", 8),
}
_FIELDS = ("host", "referrer", "user_agent", "forwarded_for", "ch_platform", "ch_mobile", "country")


def _reference_headers(headers: list[Any], country_header: bytes | None) -> dict[str, str]:
    wanted = dict(_REFERENCE_FIELDS)
    if country_header:
        wanted[country_header] = ("country", 8)
    text = dict.fromkeys(_FIELDS, "")
    seen: set[str] = set()
    forwarded: list[bytes] = []
    for item in headers:
        try:
            name, value = item
        except (TypeError, ValueError):
            continue
        if not isinstance(name, bytes):
            continue
        spec = wanted.get(name)
        if spec is None:
            if name.islower() or not name.isascii():
                continue
            spec = wanted.get(name.lower())
            if spec is None:
                continue
        if not isinstance(value, bytes):
            continue
        field, cap = spec
        if field == "forwarded_for":
            forwarded.append(value)
        elif field not in seen:
            seen.add(field)
            text[field] = value[: cap * 4].decode("utf-8", "replace")[:cap]
    if forwarded:
        text["forwarded_for"] = _asgi_forwarded(forwarded)  # the right end: tested above
    return text


_USUAL = [
    b"host", b"user-agent", b"referer", b"x-forwarded-for", b"sec-ch-ua-platform",
    b"sec-ch-ua-mobile", b"cf-ipcountry", b"accept", b"accept-language", b"cookie",
]  # fmt: skip
_ODD_NAMES = [
    b"Host", b"HOST", b"User-Agent", b"Referer", b"X-Forwarded-For", b"CF-IPCountry", b"Accept",
    b"x-1", b"", b"\xc3\xa9", "host", "user-agent", memoryview(b"host"), 5,
]  # fmt: skip
_BYTES = [b"a", b"", b"caf\xc3\xa9", b"bad \xff", b"y" * 3000]
_VALUES: list[Any] = [*_BYTES, "text", None, b"10.0.0.1"]
_MALFORMED = [None, (b"host",), (b"host", b"a", b"b"), b"ab", [b"x"], ([b"unhashable"], b"v")]


@pytest.mark.parametrize("seed", range(400))
def test_header_reading_matches_the_reference(seed: int) -> None:
    pick = random.Random(seed)
    # Half the lists as servers send them (distinct lower-case names, bytes values), half with
    # repeated, upper-case, odd or malformed items among them.
    headers: list[Any] = [
        (name, pick.choice(_BYTES) + b"%d" % n)
        for n, name in enumerate(pick.sample(_USUAL, pick.randrange(len(_USUAL) + 1)))
    ]
    if seed % 2:
        for _ in range(pick.randrange(1, 6)):
            roll = pick.random()
            if roll < 0.2:
                item: Any = pick.choice(_MALFORMED)
            elif roll < 0.5:
                item = (pick.choice(_USUAL), pick.choice(_VALUES))
            else:
                item = (pick.choice(_ODD_NAMES), pick.choice(_VALUES))
            headers.insert(pick.randrange(len(headers) + 1), item)
    country = pick.choice([None, b"cf-ipcountry"])
    expected = _reference_headers(headers, country)
    for container in (headers, tuple(headers)):
        got = from_scope(_scope(headers=container), country)
        assert {field: getattr(got, field) for field in _FIELDS} == expected, headers


def _reference_environ(environ: dict[str, Any]) -> Facts:
    """`from_environ` as first written, one helper call a field."""
    get = environ.get
    method = get("REQUEST_METHOD")
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
    return Facts(
        method.upper()[:16] if isinstance(method, str) else "",
        path[:MAX_PATH],
        _wsgi_text(get("HTTP_HOST") or get("SERVER_NAME"), MAX_HEADER),
        _wsgi_text(referrer, 2048) if referrer else "",
        _wsgi_text(get("HTTP_USER_AGENT"), MAX_HEADER),
        peer[:64] if isinstance(peer, str) and peer else None,
        _wsgi_forwarded(forwarded) if forwarded else "",
        _wsgi_text(platform, 64) if platform else "",
        _wsgi_text(mobile, 8) if mobile else "",
        _wsgi_text(query, MAX_QUERY) if query else "",
    )


_ENVIRON_VALUES: list[Any] = [
    None, "", "GET", "get", "/a/b", "example.com", CHROME, "203.0.113.5", "x=1&utm_source=hn",
    _latin1("/blog/ünïcode/"), _latin1("café"), "caf\udce9", "\ud800", "y" * 3000, 5, b"bytes",
    "10.0.0.1, 198.51.100.7", "?1", '"Windows"', "/app",
]  # fmt: skip
_ENVIRON_KEYS = [
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "HTTP_HOST", "SERVER_NAME", "HTTP_USER_AGENT",
    "REMOTE_ADDR", "HTTP_REFERER", "HTTP_X_FORWARDED_FOR", "HTTP_SEC_CH_UA_PLATFORM",
    "HTTP_SEC_CH_UA_MOBILE", "QUERY_STRING",
]  # fmt: skip


@pytest.mark.parametrize("seed", range(300))
def test_environ_reading_matches_the_reference(seed: int) -> None:
    pick = random.Random(seed)
    usual = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/p",
        "HTTP_HOST": "example.com",
        "HTTP_USER_AGENT": CHROME,
        "REMOTE_ADDR": "203.0.113.5",
        "QUERY_STRING": "",
    }
    # Mostly what servers send, with a few values changed to anything, or keys left out.
    environ: dict[str, Any] = dict(usual) if seed % 3 else {}
    for key in pick.sample(_ENVIRON_KEYS, pick.randrange(1, 5)):
        if pick.random() < 0.2:
            environ.pop(key, None)
        else:
            environ[key] = pick.choice(_ENVIRON_VALUES)
    assert from_environ(environ) == _reference_environ(environ), environ


def test_a_country_header_of_any_name_is_read() -> None:
    # Even one named like a header the fast read otherwise skips unread.
    scope = _scope(headers=[(b"x-real-ip", b"FR"), (b"accept", b"DE")])
    assert from_scope(scope, b"x-real-ip").country == "FR"
    assert from_scope(scope, b"accept").country == "DE"
