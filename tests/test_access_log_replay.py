"""A day of a real site's traffic (tests/data/access.log) replayed through WSGIAnalytics, the app
answering each line with the status and Content-Type the site sent: the counts are the ones a
person counts by hand (tests/access_log.py)."""

from __future__ import annotations

import io
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import redis

from wsgi_analytics import Recorder, Stats, WSGIAnalytics

from . import access_log
from .helpers import zset


def replay(app_wrapper: Callable[[Any], Any], hits: list[access_log.Hit]) -> None:
    """Each line as a WSGI request; the wrapped app answers what the log says it answered."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        hit: access_log.Hit = environ["test.hit"]
        start_response(f"{hit.status} -", hit.headers)
        return [b"" if hit.status == 304 else b"x" * min(hit.size, 64)]

    wrapped = app_wrapper(app)
    for hit in hits:
        environ = {
            "REQUEST_METHOD": hit.method,
            # As a server hands the path over: bytes in a latin-1 str (PEP 3333).
            "PATH_INFO": hit.path.encode().decode("latin-1"),
            "QUERY_STRING": hit.query,
            "SERVER_NAME": "example.com",
            "SERVER_PORT": "443",
            "HTTP_HOST": "example.com",
            "REMOTE_ADDR": hit.client,
            "wsgi.input": io.BytesIO(),
            "wsgi.errors": sys.stderr,
            "wsgi.url_scheme": "https",
            "test.hit": hit,
        }
        if hit.user_agent:
            environ["HTTP_USER_AGENT"] = hit.user_agent
        if hit.referer:
            environ["HTTP_REFERER"] = hit.referer
        body = wrapped(environ, lambda status, headers, exc_info=None: None)
        b"".join(body)
        body.close()


def test_replayed_log_counts_what_a_person_counts(recorder: Recorder, client: redis.Redis) -> None:
    hits = access_log.read()
    replay(lambda app: WSGIAnalytics(app, recorder=recorder), hits)
    recorder.flush()

    with Stats(client=client) as stats:
        assert stats.total() == access_log.PAGE_VIEWS == 56
        assert stats.uniques() == access_log.UNIQUES
        top = stats.top("paths", 5)
    assert zset(client, "paths") == access_log.PATHS
    # The five most viewed "pages" are pages, not the favicon and the stylesheets.
    assert top == [
        ("/blog/", 10),
        ("/", 9),
        ("/blog/rust-vs-go/", 8),
        ("/about/", 6),
        ("/blog/my-first-post/", 5),
    ]
    assert zset(client, "bots") == access_log.BOTS
    assert "(unparseable)" not in zset(client, "bots")
    assert zset(client, "not_found") == access_log.NOT_FOUND
    assert zset(client, "statuses") == access_log.STATUSES
    assert zset(client, "browsers") == access_log.BROWSERS
    assert zset(client, "devices") == access_log.DEVICES
    # Every request is a request of some route; 404s that matched nothing share one member.
    routes = zset(client, "routes")
    assert sum(routes.values()) == len(hits)
    unmatched = Counter(hit.method for hit in hits if hit.status == 404)
    for method, count in unmatched.items():
        assert routes[f"{method} (unmatched)"] == count
    # The API's ids are collapsed (numbers and a UUID): one row per endpoint, not per user.
    api = {member: count for member, count in routes.items() if " /api/" in member}
    assert api == {
        "GET /api/users/{id}": 3.0,  # /api/users/456 was a 404: unmatched
        "GET /api/users/{id}/posts": 2.0,
        "POST /api/comments": 2.0,
    }
