"""The pure counting rules and the key layout, without Redis."""

from __future__ import annotations

import pytest

from wsgi_analytics.keys import Keys, check_dimension, sketch_family
from wsgi_analytics.recording.rules import Event, increments, referrer_host
from wsgi_analytics.request.agents import Agent
from wsgi_analytics.request.facts import Facts
from wsgi_analytics.sketch import bucket

PERSON = Agent("Chrome", "Windows", "desktop", None)
BOT = Agent("Googlebot", "Other", "other", "Googlebot")
HOUR = 495_054  # 2026-06-23T06 UTC
WHEN = HOUR * 3600  # its first second
DAY = "2026-06-23"


@pytest.mark.parametrize(
    ("referrer", "host", "expected"),
    [
        pytest.param("", "example.com", "(direct)", id="absent"),
        pytest.param("https://www.Google.com/search?q=x", "example.com", "google.com", id="www"),
        pytest.param(
            "https://news.ycombinator.com/", "example.com", "news.ycombinator.com", id="hn"
        ),
        pytest.param("https://example.com/other", "example.com", None, id="self"),
        pytest.param("https://www.example.com/", "example.com:8000", None, id="self with port"),
        pytest.param("http://EXAMPLE.com./x", "www.example.com", None, id="self, trailing dot"),
        pytest.param("https://[2001:db8::1]/", "[2001:db8::1]:443", None, id="self, IPv6"),
        pytest.param("android-app://com.google.gm/", "example.com", "com.google.gm", id="app"),
        pytest.param("not a url", "example.com", None, id="junk"),
        pytest.param("http://[broken/", "example.com", None, id="invalid IPv6 literal"),
    ],
)
def test_referrer_host(referrer: str, host: str, expected: str | None) -> None:
    assert referrer_host(referrer, host) == expected


def _facts(method: str = "GET", path: str = "/", referrer: str = "") -> Facts:
    return Facts(method, path, "example.com", referrer, "ua", "192.0.2.1", "", "", "")


def _route(member: str, seconds: float = 0.0, status: int = 200) -> list[tuple[str, str]]:
    """The pairs every counted request adds for its route."""
    pairs = [("routes", member), (sketch_family(member), str(bucket(seconds)))]
    if 400 <= status < 500:
        pairs.append(("routes_4xx", member))
    elif status >= 500:
        pairs.append(("routes_5xx", member))
    return pairs


HTML = "text/html; charset=utf-8"
VIEW = [
    ("browsers", "Chrome"),
    ("platforms", "Windows"),
    ("devices", "desktop"),
    ("timeline", f"{DAY}T06"),
    ("days", DAY),
]


@pytest.mark.parametrize(
    ("event", "agent", "expected"),
    [
        pytest.param(
            Event(
                WHEN, _facts(referrer="https://google.com/"), 200, False, None, HTML, None, 0.012
            ),
            PERSON,
            [
                ("statuses", "200"),
                ("paths", "/"),
                ("referrers", "google.com"),
                ("sources", "Google"),
                ("channels", "Organic Search"),
                *VIEW,
                *_route("GET /", 0.012),
            ],
            id="page view",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/x/", referrer="https://example.com/"), 304, False, None),
            PERSON,
            [("statuses", "304"), ("paths", "/x/"), *VIEW, *_route("GET /x/", status=304)],
            id="304 with self-referral, no Content-Type: by the path",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/css/site.css"), 304, False, None),
            PERSON,
            [("statuses", "304"), *_route("GET /css/site.css")],
            id="304 of an asset, no Content-Type",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/blog/"), 200, False, None, "text/css", "/blog/", 0.001),
            PERSON,
            [("statuses", "200"), *_route("GET /blog/", 0.001)],
            id="the header wins over the path",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/feed.xml"), 200, False, None, "application/rss+xml"),
            PERSON,
            [("statuses", "200"), *_route("GET /feed.xml")],
            id="feed",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/api/users/42"), 200, False, None, "application/json"),
            PERSON,
            [("statuses", "200"), *_route("GET /api/users/{id}")],
            id="JSON, fallback template",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/index.PHP"), 200, False, None, "Text/HTML ; Charset=UTF-8"),
            PERSON,
            [
                ("statuses", "200"),
                ("paths", "/index.PHP"),
                ("referrers", "(direct)"),
                ("sources", "(direct)"),
                ("channels", "Direct"),
                *VIEW,
                *_route("GET /index.PHP"),
            ],
            id="document whatever the letter case",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/about"), 301, False, None, HTML),
            PERSON,
            [("statuses", "301"), *_route("GET /about", status=301)],
            id="redirect",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/nope"), 404, False, None, HTML),
            PERSON,
            [("statuses", "404"), ("not_found", "/nope"), *_route("GET (unmatched)", status=404)],
            id="404, no route matched",
        ),
        pytest.param(
            Event(WHEN, _facts(path="/items/7"), 404, False, None, HTML, "/items/{item_id}"),
            PERSON,
            [
                ("statuses", "404"),
                ("not_found", "/items/7"),
                *_route("GET /items/{item_id}", status=404),
            ],
            id="404 of a matched route",
        ),
        pytest.param(
            Event(WHEN, _facts(method="POST", path="/nope"), 404, False, None),
            PERSON,
            [("statuses", "404"), *_route("POST (unmatched)", status=404)],
            id="POST 404 is not a missing page",
        ),
        pytest.param(
            Event(WHEN, _facts(method="HEAD"), 200, False, None, HTML),
            PERSON,
            [("statuses", "200"), *_route("HEAD /")],
            id="HEAD",
        ),
        pytest.param(
            Event(WHEN, _facts(), 500, False, None, None, "/", 2.5),
            PERSON,
            [("statuses", "500"), *_route("GET /", 2.5, status=500)],
            id="error",
        ),
        pytest.param(
            Event(WHEN, _facts(), 200, False, None, HTML),
            BOT,
            [("statuses", "200"), ("bots", "Googlebot"), *_route("GET /")],
            id="bot",
        ),
        pytest.param(
            Event(WHEN, _facts(method="POST", path="/contact"), 429, True, None, "text/plain"),
            PERSON,
            [("statuses", "429"), ("throttled", "/contact"), *_route("POST /contact", status=429)],
            id="throttled",
        ),
        pytest.param(
            Event(WHEN, _facts(method="BREW", path="/pot"), 418, False, None),
            PERSON,
            [("statuses", "418"), *_route("OTHER /pot", status=418)],
            id="unknown method",
        ),
    ],
)
def test_increments(event: Event, agent: Agent, expected: list[tuple[str, str]]) -> None:
    assert sorted(increments(event, agent)) == sorted(expected)


def test_key_layout() -> None:
    keys = Keys("shop")
    day = HOUR // 24
    assert keys.targets("paths", day) == ("{shop:paths}:2026-06-23", "{shop:paths}:all")
    assert keys.targets("timeline", day) == ("{shop:timeline}:2026-06-23",)
    assert keys.targets("days", day) == ("{shop:days}:all",)
    assert keys.uniques(day) == "{shop:uniques}:2026-06-23"
    assert keys.uniques(None) == "{shop:uniques}:all"
    now = day * 86400 + 5.0
    assert keys.range("paths", 3, now) == [
        "{shop:paths}:2026-06-23",
        "{shop:paths}:2026-06-22",
        "{shop:paths}:2026-06-21",
    ]
    assert keys.range("paths", None) == ["{shop:paths}:all"]


@pytest.mark.parametrize(
    "prefix", [pytest.param("", id="empty"), pytest.param("a{b", id="brace"), "a b"]
)
def test_bad_prefix(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid prefix"):
        Keys(prefix)


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        pytest.param("signups", True, id="plain"),
        pytest.param("plan.pro-2", True, id="dots and dashes"),
        pytest.param("Signups", False, id="upper case"),
        pytest.param("a" * 65, False, id="too long"),
        pytest.param("timeline", False, id="reserved"),
        pytest.param("has space", False, id="space"),
        pytest.param("{x}", False, id="hash tag"),
        pytest.param("paths\n", False, id="trailing newline"),
        pytest.param("signups\n", False, id="custom name, trailing newline"),
        pytest.param("pairs.paths", False, id="a drill-down pair"),
    ],
)
def test_check_dimension(name: str, valid: bool) -> None:
    if valid:
        assert check_dimension(name) == name
    else:
        with pytest.raises(ValueError, match="invalid dimension"):
            check_dimension(name)
