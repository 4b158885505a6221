"""The demo's sample site: a tiny blog as a plain WSGI app, with the usual redirects and 404s,
the assets every page pulls in (a stylesheet, a script, an image, a favicon), an RSS feed, and a
small JSON API with ids in its paths.

Every page refers to its assets, so a browser's visit is one page view and several requests: the
demo shows the document rule at work (stylesheets, scripts, images, the favicon and the feed are
requests, never page views). The assets carry an ETag, and a browser that has them revalidates
with ``If-None-Match``: a ``304 Not Modified`` without a Content-Type, judged by its path. The
API names its route templates (``environ["wsgi_analytics.route"]``), as any app may, so the
Endpoints table shows one row per endpoint, with its errors and response times.
"""

from __future__ import annotations

import json
import random
import struct
import time
from collections.abc import Callable, Iterable
from html import escape
from typing import Any

__all__ = [
    "API_TEMPLATES",
    "ASSETS",
    "ETAG",
    "FAVICON",
    "FEED",
    "POSTS",
    "api_template",
    "content_type",
    "route",
    "site",
]

POSTS = (
    "hello-world",
    "counting-with-sorted-sets",
    "why-we-left-google-analytics",
    "wsgi-vs-asgi",
    "a-week-of-rate-limits",
    "hyperloglog-explained",
    "redis-cluster-hash-tags",
    "gunicorn-preload-and-fork",
    "flask-in-production",
    "django-signals-for-events",
    "fastapi-middleware-order",
    "privacy-friendly-uniques",
    "zipf-and-your-traffic",
    "the-404-long-tail",
    "bots-are-people-too",
    "utf-8-in-wsgi-paths",
    "benchmarking-middleware",
    "valkey-for-tests",
)
STYLESHEET = "/static/site.css"
SCRIPT = "/static/site.js"
LOGO = "/static/logo.svg"
FAVICON = "/favicon.ico"
FEED = "/feed.xml"
# What every page refers to (the favicon too, which browsers fetch once a visit).
ASSETS = (STYLESHEET, SCRIPT, LOGO)
ETAG = '"demo-v1"'
HTML = "text/html; charset=utf-8"
JSON = "application/json"
_FILES: dict[str, tuple[str, bytes]] = {
    STYLESHEET: (
        "text/css; charset=utf-8",
        b"body{font:16px system-ui;max-width:40em;margin:3em auto}",
    ),
    SCRIPT: ("text/javascript; charset=utf-8", b"document.documentElement.dataset.js = 'on';"),
    LOGO: (
        "image/svg+xml",
        b'<svg xmlns="http://www.w3.org/2000/svg" width="32" height="32">'
        b'<rect width="32" height="32" rx="6" fill="#2563eb"/></svg>',
    ),
    FAVICON: ("image/x-icon", b""),  # filled in below
}


def _icon() -> bytes:
    """A 1x1 blue icon in the ICO format: directory, bitmap header, one pixel, its mask."""
    bitmap = struct.pack("<IiiHHIIiiII", 40, 1, 2, 1, 32, 0, 8, 0, 0, 0, 0)
    bitmap += bytes((0xEB, 0x63, 0x25, 0xFF)) + bytes(4)  # BGRA, then the AND mask row
    return (
        struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 1, 1, 0, 0, 1, 32, 48, 22) + bitmap
    )


_FILES[FAVICON] = ("image/x-icon", _icon())
_NAV = '<p><a href="/">Home</a> · <a href="/blog/">Blog</a> · <a href="/about/">About</a> · '
_NAV += '<a href="/contact">Contact</a></p>'
_HEAD = (
    f'<link rel="stylesheet" href="{STYLESHEET}"><script src="{SCRIPT}" defer></script>'
    f'<link rel="icon" href="{FAVICON}">'
    f'<link rel="alternate" type="application/rss+xml" title="Feed" href="{FEED}">'
)
# The API's route templates, as the framework of a real API would name them.
API_TEMPLATES = ("/api/posts", "/api/posts/{post_id}", "/api/posts/{post_id}/comments")

StartResponse = Callable[..., Any]
Answer = tuple[str, list[tuple[str, str]], bytes]


def _html(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>{_HEAD}"
        f'<body><img src="{LOGO}" alt="" width="32" height="32">{_NAV}'
        f"<h1>{escape(title)}</h1>{body}</body>"
    ).encode()


def _feed() -> bytes:
    items = "".join(
        f"<item><title>{slug.replace('-', ' ')}</title>"
        f"<link>https://demo.example/blog/{slug}/</link></item>"
        for slug in POSTS
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>A small blog</title>'
        f"<link>https://demo.example/</link>{items}</channel></rss>"
    ).encode()


def _post_id(text: str) -> int | None:
    """The number of a post (1 to the number of posts), or None."""
    if not text.isdigit() or len(text) > 6:
        return None
    number = int(text)
    return number if 1 <= number <= len(POSTS) else None


def api_template(path: str) -> str | None:
    """The route template of an API path (``/api/posts/7`` -> ``/api/posts/{post_id}``)."""
    parts = path.split("/")
    if parts[:3] != ["", "api", "posts"]:
        return None
    if len(parts) == 3:
        return API_TEMPLATES[0]
    if len(parts) == 4:
        return API_TEMPLATES[1]
    if len(parts) == 5 and parts[4] == "comments":
        return API_TEMPLATES[2]
    return None


def _api(method: str, path: str) -> Answer | None:
    template = api_template(path)
    if template is None:
        return None
    parts = path.split("/")
    if template == API_TEMPLATES[0]:
        if method != "GET":
            return _json("405 Method Not Allowed", {"error": "method not allowed"})
        return _json("200 OK", [{"id": n, "slug": s} for n, s in enumerate(POSTS, 1)])
    post = _post_id(parts[3])
    if post is None:
        return _json("404 Not Found", {"error": "no such post"})
    if template == API_TEMPLATES[1]:
        return _json("200 OK", {"id": post, "slug": POSTS[post - 1]})
    if method == "POST":
        return _json("201 Created", {"post": post, "comment": "received"})
    return _json("200 OK", [{"post": post, "text": "Nice post!"}])


def _json(status: str, document: object) -> Answer:
    return status, [("Content-Type", JSON)], json.dumps(document).encode()


def route(method: str, path: str, if_none_match: str = "") -> Answer:
    """Status line, headers and body for a request: pure, so the traffic generator can predict
    what the site answers."""
    asset = _FILES.get(path)
    if asset is not None:
        if if_none_match == ETAG:
            # As static file servers answer a revalidation: no Content-Type, no body.
            return "304 Not Modified", [("ETag", ETAG)], b""
        return "200 OK", [("Content-Type", asset[0]), ("ETag", ETAG)], asset[1]
    if path == FEED:
        return "200 OK", [("Content-Type", "application/rss+xml")], _feed()
    api = _api(method, path)
    if api is not None:
        return api
    page: bytes | None = None
    if path == "/":
        links = "".join(f'<li><a href="/blog/{s}/">{s.replace("-", " ")}</a></li>' for s in POSTS)
        page = _html("A small blog", f"<ul>{links}</ul>")
    elif path == "/about":
        return "301 Moved Permanently", [("Location", "/about/")], b""
    elif path == "/about/":
        page = _html("About", "<p>A sample site for the wsgi_analytics demo.</p>")
    elif path == "/blog/":
        page = _html("Blog", f"<p>{len(POSTS)} posts.</p>")
    elif path.startswith("/blog/") and path.endswith("/") and path[6:-1] in POSTS:
        page = _html(path[6:-1].replace("-", " ").capitalize(), "<p>Lorem ipsum.</p>" * 5)
    elif path == "/contact" and method == "POST":
        page = _html("Thanks", "<p>We will be in touch.</p>")
    elif path == "/contact":
        form = "<form method=post><textarea name=m></textarea><button>Send</button></form>"
        page = _html("Contact", form)
    if page is None:
        return "404 Not Found", [("Content-Type", HTML)], _html("Not found", "<p>Nothing here.</p>")
    return "200 OK", [("Content-Type", HTML)], page


def content_type(headers: Iterable[tuple[str, str]]) -> str | None:
    """The Content-Type among ``route``'s headers, None when it sends none (a 304)."""
    return next((value for name, value in headers if name == "Content-Type"), None)


def site(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI app."""
    path = environ.get("PATH_INFO") or "/"
    method = environ.get("REQUEST_METHOD", "GET")
    status, headers, body = route(method, path, environ.get("HTTP_IF_NONE_MATCH", ""))
    template = api_template(path)
    if template is not None:
        # Any app can name its route; frameworks' own templates are found without this.
        environ["wsgi_analytics.route"] = template
        # The API does some work: a few milliseconds, a list more than one post.
        time.sleep(random.uniform(0.004, 0.012) if template == API_TEMPLATES[0] else 0.002)
    if method == "POST":
        # Read the form like a real app would (and so the server need not drain it).
        length = environ.get("CONTENT_LENGTH") or "0"
        environ["wsgi.input"].read(int(length) if length.isdigit() else 0)
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
