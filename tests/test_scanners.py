"""Scanners: 100,000 random URLs answered 404, with random referrers and agents.

None of it is a page view, so ``paths``, ``referrers`` and the browser dimensions stay empty.
What grows is ``not_found`` (one member per URL) and ``bots`` (scanners' agents), and both are
bounded: members are cut at 512 characters and each sorted set is trimmed to its top
``max_members`` (10,000 by default), plus a slack of ``max_members // 8`` per live process
between trims. Day keys expire after ``retention_days``. So a scanner can take at most, per
trimmed key, ``(max_members + slack) * (member bytes + ~110 bytes)`` of Redis memory, whatever
the number of requests. Measured here (Redis 7.0, 100,000 requests of 8-60 character URLs, 1%
of 3,000): used_memory grew by 5.7 MB with the defaults (four keys of 10,000 members) and by
0.19 MB with ``max_members=100``; without trimming it would grow with every URL.

The requests go through `WSGIAnalytics` in process: the point is what reaches Redis, and a real
server would only add time.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterable
from typing import Any

import pytest
import redis

from wsgi_analytics import WSGIAnalytics
from wsgi_analytics.adapters.wsgi import StartResponse
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.keys import Keys, today
from wsgi_analytics.recording.rules import MAX_MEMBER

from .servers import Figures, figures

__all__ = ["figures"]  # the fixture, imported for pytest


pytestmark = pytest.mark.slow

REQUESTS = 100_000
# In process the loop runs at ~30,000 requests a second, far beyond what one server process
# serves in a flush interval (a second): flushing every 5,000 requests keeps the test honest.
PER_FLUSH = 5_000
# What one sorted-set entry costs Redis beyond its member's bytes, generously: the skiplist
# node (~64 B with its levels), the dict entry (32 B) and bucket (8-16 B), the sds header and
# allocator rounding. Measured: about 120 B.
ENTRY_OVERHEAD = 200
FIXED_OVERHEAD = 2 * 1024 * 1024  # key objects, dict tables at their peak size, salt, expiries


def not_found(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such page\n"]


def scanner_environs(count: int, seed: int = 4) -> Iterable[dict[str, Any]]:
    rng = random.Random(seed)
    letters = string.ascii_letters + string.digits + "-_.%"
    for number in range(count):
        length = 3000 if number % 100 == 0 else rng.randint(8, 60)  # 1% far beyond the cap
        path = "/" + "".join(rng.choices(letters, k=length))
        token = "".join(rng.choices(string.ascii_lowercase, k=12))
        agent = rng.choice(
            [
                f"Mozilla/5.0 (compatible; {token}/1.{number})",
                f"python-requests-{token}/2.{number}",  # a library: its name is the bot label
                f"{token} {number}",
                f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{number}.0 Safari/537.36",
            ]
        )
        yield {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": path.encode().decode("latin-1"),
            "QUERY_STRING": f"id={number}",
            "HTTP_HOST": "example.org",
            "HTTP_USER_AGENT": agent,
            "HTTP_REFERER": f"https://{token}.example.net/{number}",
            "REMOTE_ADDR": f"198.51.{number // 256 % 256}.{number % 256}",
            "wsgi.url_scheme": "https",
        }


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def scan(url: str, *, per_flush: int = PER_FLUSH, **options: Any) -> WSGIAnalytics:
    """Send the scanner's requests through the middleware, flushing every ``per_flush``."""
    app = WSGIAnalytics(not_found, redis_url=url, flush_interval=3600.0, **options)
    try:
        for number, environ in enumerate(scanner_environs(REQUESTS), 1):
            body = app(environ, lambda status, headers, exc_info=None: lambda data: None)
            list(body)
            body.close()  # type: ignore[attr-defined]
            if number % per_flush == 0:
                app.recorder.flush()
    finally:
        app.recorder.close()
    return app


@pytest.mark.parametrize(
    "max_members",
    [pytest.param(10_000, id="default-10000"), pytest.param(100, id="small-100")],
)
def test_scanner_leaves_paths_alone_and_memory_bounded(
    private_server: EmbeddedServer, figures: Figures, max_members: int
) -> None:
    client = redis.Redis.from_url(private_server.url, decode_responses=True)
    try:
        before = used_memory(client)
        scan(private_server.url, max_members=max_members)
        after = used_memory(client)
        keys = Keys()

        assert client.zscore(keys.all("statuses"), "404") == REQUESTS
        untouched = ("paths", "referrers", "browsers", "platforms", "devices", "timeline")
        for dimension in untouched:
            assert not client.exists(keys.all(dimension), keys.day(dimension, today()))
        assert not client.exists(keys.uniques(today()))

        slack = max(1, max_members // 8)
        trimmed = [
            keys.all("not_found"),
            keys.day("not_found", today()),
            keys.all("bots"),
            keys.day("bots", today()),
        ]
        measured_bound = FIXED_OVERHEAD
        for key in trimmed:
            members: list[str] = client.zrange(key, 0, -1)  # type: ignore[assignment]
            assert 0 < len(members) <= max_members + slack
            assert max(len(member) for member in members) <= MAX_MEMBER
            measured_bound += sum(len(m.encode()) + ENTRY_OVERHEAD for m in members)
        for key in trimmed[1::2]:
            assert client.ttl(key) > 0

        worst_case = len(trimmed) * (max_members + slack) * (4 * MAX_MEMBER + ENTRY_OVERHEAD)
        grown = after - before
        sizes = [client.zcard(key) for key in trimmed]
        figures(before=before, after=after, grown=grown, bound=measured_bound, members=sizes)
        assert grown < measured_bound
        assert grown < FIXED_OVERHEAD + worst_case
    finally:
        client.close()


def test_a_burst_beyond_max_pending_keeps_its_statuses(client: redis.Redis, redis_url: str) -> None:
    """More distinct members than ``max_pending`` within one flush, Redis up: the flush drains
    and writes in slices, so nothing is dropped and every status is counted."""
    app = WSGIAnalytics(not_found, redis_url=redis_url, flush_interval=3600.0, max_pending=1000)
    try:
        for environ in scanner_environs(3000):
            body = app(environ, lambda status, headers, exc_info=None: lambda data: None)
            list(body)
            body.close()  # type: ignore[attr-defined]
        app.recorder.flush()
        assert app.recorder.dropped == 0
    finally:
        app.recorder.close()
    assert client.zscore(Keys().all("statuses"), "404") == 3000
