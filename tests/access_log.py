"""A day of a personal site's access log (tests/data/access.log), and what a person counts in it.

The log is in the combined format with one extra quoted field after the agent: the response's
Content-Type as the app sent it (``"-"``: none, as on a 304). 317 lines: browser visits to ten
pages, each first page pulling in its stylesheets, script, images, font and favicon, returning
visitors revalidating (304 without a Content-Type), a dead link with a styled 404 page, query
strings with utm parameters, two contact-form POSTs answered 303, RSS/Atom feeds polled by feed
fetchers, Googlebot, bingbot and Ezooms crawling, HTTP libraries on a JSON API with ids in its
paths, and 404 scanners (``/wp-login.php``, ``/.env``) with no agent or a Go client. It was
laid out visit by visit by tests/data/make_access_log.py, which rebuilds it byte for byte.

Counted by hand, with the contract's rules (DESIGN A3):

- **page views**: GET, answered 2xx or 304, by a browser (not a bot), of an HTML page (one of
  the ten pages, whether answered ``text/html`` or a bare 304): **56**. Without the document
  rule, everything browsers fetched with GET 2xx/304 counts: 235, and the top five "pages" are
  ``/css/reset.css``, ``/css/style2.css``, ``/js/site.js`` (28 each), ``/favicon.ico`` (24) and
  ``/img/header.png`` (23) -- issue 10's symptom.
- **paths** of those page views: :data:`PATHS`; the query string is not part of the path.
- **uniques**: 21 distinct (address, agent) pairs among the page views.
- **bots**: every request from a bot, any method or status, by the name a person recognises
  (ua-parser's family, else the agent's own name; ``(empty)`` for no agent): :data:`BOTS`, 77.
- **not_found**: GET answered 404, any agent: :data:`NOT_FOUND`, 14 (the scanner's 404 POST
  to ``/wp-login.php`` is not a GET).
- **statuses**: every request: :data:`STATUSES`, 317.
- **browsers** and **devices** of the page views, as ua-parser names them: :data:`BROWSERS`,
  :data:`DEVICES`.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

__all__ = [
    "BOTS",
    "BROWSERS",
    "DEVICES",
    "LOG",
    "NOT_FOUND",
    "PAGES",
    "PAGE_VIEWS",
    "PATHS",
    "STATUSES",
    "UNIQUES",
    "Hit",
    "read",
]

LOG = Path(__file__).with_name("data") / "access.log"

PAGES = frozenset(
    {
        "/",
        "/about/",
        "/blog/",
        "/blog/my-first-post/",
        "/blog/rust-vs-go/",
        "/blog/self-hosting-email/",
        "/projects/",
        "/contact/",
        "/contact/thanks/",
        "/now/",
    }
)
PAGE_VIEWS = 56
PATHS = {
    "/blog/": 10,
    "/": 9,
    "/blog/rust-vs-go/": 8,
    "/about/": 6,
    "/blog/my-first-post/": 5,
    "/blog/self-hosting-email/": 5,
    "/projects/": 4,
    "/now/": 4,
    "/contact/": 3,
    "/contact/thanks/": 2,
}
UNIQUES = 21
BOTS = {
    "Feedfetcher-Google": 12,
    "FeedBurner": 12,
    "Googlebot": 11,
    "Python Requests": 8,
    "UniversalFeedParser": 6,
    "bingbot": 6,
    "Ezooms": 6,
    "(empty)": 6,
    "Go-http-client": 5,
    "curl": 3,
    "zgrab": 1,
    "Wget": 1,
}
NOT_FOUND = {
    "/wp-login.php": 3,
    "/blog/old-post/": 2,
    "/.env": 2,
    "/xmlrpc.php": 1,
    "/.git/config": 1,
    "/wp-admin/": 1,
    "/phpmyadmin/": 1,
    "/admin.php": 1,
    "/api/users/456": 1,
    "/apple-touch-icon.png": 1,
}
STATUSES = {
    "200": 253,
    "201": 1,
    "301": 1,
    "303": 2,
    "304": 43,
    "403": 1,
    "404": 15,
    "422": 1,
}
BROWSERS = {
    "Chrome": 13,
    "Mobile Safari": 11,
    "Firefox": 9,
    "Safari": 9,
    "Chrome Mobile": 7,
    "Edge": 4,
    "Samsung Internet": 3,
}
DEVICES = {"desktop": 35, "mobile": 16, "tablet": 5}


class Hit(NamedTuple):
    """One log line: the request as the client sent it and the head of what the app answered."""

    client: str
    when: datetime
    method: str
    target: str  # path and query string, as requested
    path: str
    query: str
    status: int
    size: int
    referer: str  # "" when the log says "-"
    user_agent: str  # "" when the log says "-"
    content_type: str | None  # None when the app sent none

    @property
    def headers(self) -> list[tuple[str, str]]:
        """The response headers to replay (WSGI style)."""
        return [] if self.content_type is None else [("Content-Type", self.content_type)]


_LINE = re.compile(
    r'(?P<client>\S+) \S+ \S+ \[(?P<when>[^\]]+)\] "(?P<method>\S+) (?P<target>\S+) [^"]*" '
    r'(?P<status>\d{3}) (?P<size>\S+) "(?P<referer>[^"]*)" "(?P<agent>[^"]*)" "(?P<type>[^"]*)"$'
)


def _field(value: str) -> str:
    return "" if value == "-" else value


def read(path: Path = LOG) -> list[Hit]:
    """Parse the log; a line that does not match raises ValueError with its number."""
    hits: list[Hit] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        match = _LINE.match(line)
        if match is None:
            raise ValueError(f"{path}:{number}: not a combined log line with a Content-Type")
        target = match["target"]
        hits.append(
            Hit(
                client=match["client"],
                when=datetime.strptime(match["when"], "%d/%b/%Y:%H:%M:%S %z"),
                method=match["method"],
                target=target,
                path=target.partition("?")[0],
                query=target.partition("?")[2],
                status=int(match["status"]),
                size=0 if match["size"] == "-" else int(match["size"]),
                referer=_field(match["referer"]),
                user_agent=_field(match["agent"]),
                content_type=_field(match["type"]) or None,
            )
        )
    return hits
