"""Small readers shared by the tests."""

from __future__ import annotations

from typing import cast

import redis

from wsgi_analytics.keys import Keys, day_label, today
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.request.facts import from_environ

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"


def zscores(client: redis.Redis, key: str) -> dict[str, float]:
    """A sorted set as {member: score} (the client decodes responses)."""
    rows = cast("list[tuple[str, float]]", client.zrange(key, 0, -1, withscores=True))
    return dict(rows)


def zset(client: redis.Redis, dimension: str, prefix: str = "analytics") -> dict[str, float]:
    """Today's sorted set of ``dimension`` as {member: score}."""
    return zscores(client, Keys(prefix).day(dimension, today()))


def visit(
    recorder: Recorder,
    path: str,
    referrer: str = "",
    status: int = 200,
    address: str = "203.0.113.9",
) -> None:
    """One Firefox GET of ``path`` on example.org, recorded as the adapters record it (no
    Content-Type: the path decides whether it is a page view)."""
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "example.org",
        "HTTP_USER_AGENT": FIREFOX,
        "HTTP_REFERER": referrer,
        "REMOTE_ADDR": address,
    }
    recorder.record(from_environ(environ), status)


def put_past(client: redis.Redis, prefix: str, offset: int, paths: dict[str, int]) -> None:
    """Page views ``offset`` days ago, in the recorder's key layout (the day's paths and the
    days key), written by hand: a day key the retention would have expired still answers, so
    only a reader's cut can leave it out."""
    keys, day = Keys(prefix), today() - offset
    client.zadd(keys.day("paths", day), paths)
    client.zincrby(keys.all("days"), sum(paths.values()), day_label(day))
