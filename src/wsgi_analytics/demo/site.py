"""The demo's sample site: a tiny blog as a plain WSGI app, with the usual redirects and 404s."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from typing import Any

__all__ = ["POSTS", "route", "site"]

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
_NAV = '<p><a href="/">Home</a> · <a href="/blog/">Blog</a> · <a href="/about/">About</a> · '
_NAV += '<a href="/contact">Contact</a></p>'

StartResponse = Callable[..., Any]


def _html(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>"
        f"<body style='font:16px system-ui;max-width:40em;margin:3em auto'>{_NAV}"
        f"<h1>{escape(title)}</h1>{body}</body>"
    ).encode()


def route(method: str, path: str) -> tuple[str, list[tuple[str, str]], bytes]:
    """Status line, headers and body for a request: pure, so the traffic generator can predict
    what the site answers."""
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
        return (
            "404 Not Found",
            [("Content-Type", "text/html; charset=utf-8")],
            _html("Not found", "<p>Nothing here.</p>"),
        )
    return "200 OK", [("Content-Type", "text/html; charset=utf-8")], page


def site(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The WSGI app."""
    path = environ.get("PATH_INFO") or "/"
    status, headers, body = route(environ.get("REQUEST_METHOD", "GET"), path)
    if environ.get("REQUEST_METHOD") == "POST":
        # Read the form like a real app would (and so the server need not drain it).
        length = environ.get("CONTENT_LENGTH") or "0"
        environ["wsgi.input"].read(int(length) if length.isdigit() else 0)
    start_response(status, [*headers, ("Content-Length", str(len(body)))])
    return [body]
