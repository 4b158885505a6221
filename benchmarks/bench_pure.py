"""Per-call cost of the pure request-path lookups (documents, exclude, routes, sketch, bot names).

Each case is timed with ``timeit`` (best of several repeats, in ns per call) on typical inputs.
Memoised functions are shown both as a memo hit and, where it matters, uncached.

    PYTHONPATH=src python -m benchmarks.bench_pure [--number 200000]
"""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

__all__ = ["main", "run"]


def _ns(call: Callable[[], object], number: int) -> float:
    best = min(timeit.repeat(call, number=number, repeat=5))
    return best / number * 1e9


def _cases() -> list[tuple[str, Callable[[], object]]]:
    from wsgi_analytics.request.botnames import bot_category, bot_name
    from wsgi_analytics.request.documents import asgi_content_type, is_document, wsgi_content_type
    from wsgi_analytics.request.exclude import compile_exclude
    from wsgi_analytics.request.routes import _template, route_member, template, template_from_scope
    from wsgi_analytics.sketch import bucket, quantiles

    wsgi_headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "512")]
    asgi_headers = [(b"content-length", b"512"), (b"content-type", b"text/html; charset=utf-8")]
    prefixes = compile_exclude(["/static/", "/healthz", "/admin"])
    globs = compile_exclude(["*.map", "/admin/*"])
    mixed = compile_exclude(["/static/", "/healthz", "*.map", "/admin/*"])
    assert prefixes is not None
    assert globs is not None
    assert mixed is not None
    uncached = _template.__wrapped__
    feedburner = "FeedBurner/1.0 (http://www.FeedBurner.com)"
    ezooms = "Mozilla/5.0 (compatible; Ezooms/1.0; help@moz.com)"
    spider = (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/79.0.3945.88 Safari/537.36; 360Spider"
    )
    fetcher = "Feedfetcher-Google; (+http://www.google.com/feedfetcher.html; 22 subscribers)"
    day = {index: 1 + index % 7 for index in range(150, 190)}

    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    route = Route("/items/{item_id:int}", lambda request: PlainTextResponse("ok"))
    # What Starlette's router leaves in the scope after the app ran.
    scope = {"type": "http", "path": "/items/3", "root_path": "", "endpoint": route.endpoint}
    scope |= {"route": route, "path_params": {"item_id": 3}}
    plain = {"type": "http", "path": "/items/3", "root_path": ""}
    cases: list[tuple[str, Callable[[], object]]] = [
        ("(baseline: an empty lambda)", lambda: None),
        (
            "is_document text/html; charset=utf-8",
            lambda: is_document("text/html; charset=utf-8", "/"),
        ),
        ("is_document text/css (known)", lambda: is_document("text/css", "/a.css")),
        (
            "is_document Text/HTML;Charset=x (parsed)",
            lambda: is_document("Text/HTML;Charset=x", "/"),
        ),
        ("is_document None, /blog/post", lambda: is_document(None, "/blog/post")),
        ("is_document None, /img/a.png", lambda: is_document(None, "/img/a.png")),
        ("wsgi_content_type (first of 2)", lambda: wsgi_content_type(wsgi_headers)),
        ("asgi_content_type (second of 2)", lambda: asgi_content_type(asgi_headers)),
        ("exclude 3 prefixes, miss", lambda: prefixes("/blog/my-first-post")),
        ("exclude 3 prefixes, hit", lambda: prefixes("/static/app.css")),
        ("exclude 2 globs, miss", lambda: globs("/blog/my-first-post")),
        ("exclude prefixes+globs, miss", lambda: mixed("/blog/my-first-post")),
        ("template /blog/my-first-post (no digit)", lambda: template("/blog/my-first-post")),
        ("template /api/users/123/orders (memo hit)", lambda: template("/api/users/123/orders")),
        ("template /api/users/123/orders (uncached)", lambda: uncached("/api/users/123/orders")),
        ("template /c/cus_9s6XKzkNRiz8i3 (uncached)", lambda: uncached("/c/cus_9s6XKzkNRiz8i3")),
        ("route_member GET", lambda: route_member("GET", "/items/{item_id}")),
        ("template_from_scope, Starlette route", lambda: template_from_scope(scope)),
        ("template_from_scope, not Starlette", lambda: template_from_scope(plain)),
        ("sketch bucket(0.0123)", lambda: bucket(0.0123)),
        ("sketch quantiles of 40 buckets (p50, p95, p99)", lambda: quantiles(day)),
        ("bot_name FeedBurner/1.0 (...) (uncached)", lambda: bot_name(feedburner)),
        ("bot_name Mozilla/5.0 (compatible; Ezooms/1.0; ...)", lambda: bot_name(ezooms)),
        ("bot_name Mozilla ... Safari/537.36; 360Spider", lambda: bot_name(spider)),
        (
            "bot_name Mozilla/5.0 (compatible) (no name)",
            lambda: bot_name("Mozilla/5.0 (compatible)"),
        ),
        ("bot_category Feedfetcher-Google; (...)", lambda: bot_category(fetcher)),
    ]
    return cases


def run(number: int) -> list[tuple[str, float]]:
    return [(name, _ns(call, number)) for name, call in _cases()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--number", type=int, default=200_000)
    args = parser.parse_args(argv)
    for name, ns in run(args.number):
        print(f"{ns:8.0f} ns  {name}")


if __name__ == "__main__":
    main()
