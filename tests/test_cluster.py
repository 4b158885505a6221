"""Redis Cluster and TLS: the whole path (counting, throttle, Stats) on real servers.

On a cluster every multi-key command must stay in one hash slot. The key layout guarantees it
with hash tags: all keys of one dimension share ``{prefix:dimension}``, all throttle keys of one
client share ``{prefix:throttle:<client hash>}``. A three-primary local cluster proves it: a
cluster client refuses a cross-slot command outright, and the counts land on several nodes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import pytest
import redis
import redis.cluster
from redis.crc import key_slot

from wsgi_analytics import ASGIAnalytics, Recorder, Stats, WSGIAnalytics
from wsgi_analytics.adapters.asgi import Message
from wsgi_analytics.adapters.wsgi import StartResponse
from wsgi_analytics.connection import close_cluster_connections
from wsgi_analytics.keys import DIMENSIONS, Keys, today
from wsgi_analytics.throttle import Rule, Throttle

from .cluster import (
    ClusterNodes,
    TLSCluster,
    TLSServer,
    cluster_nodes,
    tls_cluster,
    tls_directory,
    tls_server,
)
from .servers import Figures, figures

# the fixtures, imported for pytest
__all__ = ["cluster_nodes", "figures", "tls_cluster", "tls_directory", "tls_server"]

AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"
# (method, path, client address, expected status): page views, 404s, and POSTs that the
# throttle (3 an hour, and 1 on /login) lets through or refuses.
VISITS: list[tuple[str, str, str, int]] = [
    *[("GET", "/a", "198.51.100.1", 200)] * 4,
    *[("GET", "/b", "198.51.100.1", 200)] * 2,
    *[("GET", "/missing", "198.51.100.1", 404)] * 2,
    *[("POST", "/form", "198.51.100.2", 200)] * 3,
    *[("POST", "/form", "198.51.100.2", 429)] * 2,
    ("POST", "/login", "198.51.100.3", 200),
    ("POST", "/login", "198.51.100.3", 429),
]


def make_throttle() -> Throttle:
    return Throttle(limit=3, window=3600.0, rules=[Rule(1, 3600.0, "/login", "login")])


def wsgi_site(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    missing = environ["PATH_INFO"].startswith("/missing")
    # A document: only documents are page views.
    headers = [("Content-Type", "text/html; charset=utf-8")]
    start_response("404 Not Found" if missing else "200 OK", headers)
    return [b"page"]


async def asgi_site(scope: Any, receive: Any, send: Any) -> None:
    missing = scope["path"].startswith("/missing")
    await send({"type": "http.response.start", "status": 404 if missing else 200, "headers": []})
    await send({"type": "http.response.body", "body": b"page"})


def visit_wsgi(app: WSGIAnalytics) -> list[int]:
    answered = []
    for method, path, peer, _ in VISITS:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "HTTP_HOST": "example.org",
            "HTTP_USER_AGENT": AGENT,
            "HTTP_REFERER": "https://www.search.example/?q=x",
            "REMOTE_ADDR": peer,
        }
        started: list[str] = []

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            started.append(status)  # noqa: B023 - called before the loop moves on
            return lambda data: None

        body = app(environ, start_response)
        list(body)
        close = getattr(body, "close", None)
        if close is not None:
            close()
        answered += [int(status[:3]) for status in started]
    return answered


def visit_asgi(app: ASGIAnalytics) -> list[int]:
    answered: list[int] = []

    async def main() -> None:
        for method, path, peer, _ in VISITS:
            scope = {
                "type": "http",
                "method": method,
                "path": path,
                "headers": [
                    (b"host", b"example.org"),
                    (b"user-agent", AGENT.encode()),
                    (b"referer", b"https://www.search.example/?q=x"),
                ],
                "client": (peer, 40000),
            }

            async def receive() -> Message:
                return {"type": "http.request", "body": b""}

            async def send(message: Message) -> None:
                if message["type"] == "http.response.start":
                    answered.append(message["status"])

            await app(scope, receive, send)

    asyncio.run(main())
    return answered


def close_cluster(client: redis.cluster.RedisCluster) -> None:
    """``close()`` and disconnect: redis-py (8.1) leaves a closed cluster client's connections
    open until garbage collection (`wsgi_analytics.connection` does this for its own clients)."""
    client.close()
    close_cluster_connections(client)


def check_stats(stats: Stats) -> None:
    """The same numbers, whatever the deployment."""
    for days in (1, 7, None):
        assert stats.top("paths", days=days) == [("/a", 4), ("/b", 2)]
        assert stats.total(days) == 6
        assert stats.uniques(days) == 1
    assert stats.top("statuses") == [("200", 10), ("429", 3), ("404", 2)]
    assert stats.top("throttled") == [("/form", 2), ("/login", 1)]
    assert stats.top("not_found") == [("/missing", 2)]
    assert stats.top("referrers") == [("search.example", 6)]
    assert stats.top("browsers") == [("Chrome", 6)]
    assert stats.top("signups") == [("alice", 1)]
    assert [count for _, count in stats.timeline() if count] == [6]  # one hour, 24 listed
    # The drill-down pairs (one script call over one filter's keys: one slot) and the live
    # minutes (PFCOUNT over several minutes: one slot).
    assert stats.top("sources") == [("search.example", 6)]
    assert stats.top("sources", where=("paths", "/a")) == [("search.example", 4)]
    assert stats.top("paths", where=("sources", "search.example")) == [("/a", 4), ("/b", 2)]
    assert stats.top("paths", days=None, where=("countries", "(unknown)")) == [("/a", 4), ("/b", 2)]
    assert stats.live(5) == 1


def test_each_dimension_lives_in_one_slot() -> None:
    keys = Keys()
    names = [*DIMENSIONS, "timeline", "days", "uniques", "salt", "signups"]
    for dimension in names:
        every = [keys.all(dimension), *keys.range(dimension, 400)]
        assert len({key_slot(key.encode()) for key in every}) == 1, dimension
    # ...while the dimensions themselves spread over the slots (and so over the nodes).
    assert len({key_slot(keys.all(dimension).encode()) for dimension in names}) == len(names)


ADAPTERS = [pytest.param("wsgi", id="wsgi"), pytest.param("asgi", id="asgi")]


def visit_and_check(url: str, adapter: str) -> object:
    """The whole path through one adapter built from ``url``: the visits (throttled POSTs
    included), a custom event, the final flush, then every number read back through `Stats`.
    Returns the recorder's client, to say what kind it was."""
    throttle = make_throttle()
    try:
        if adapter == "wsgi":
            app: Any = WSGIAnalytics(wsgi_site, redis_url=url, throttle=throttle)
            answered = visit_wsgi(app)
        else:
            app = ASGIAnalytics(asgi_site, redis_url=url, throttle=throttle)
            answered = visit_asgi(app)
        app.recorder.track("signups", "alice")
        app.recorder.close()
    finally:
        throttle.close()
    assert answered == [status for *_, status in VISITS]
    with Stats(url) as stats:
        check_stats(stats)
    return app.recorder.client


@pytest.fixture
def cluster(cluster_nodes: ClusterNodes) -> ClusterNodes:
    cluster_nodes.flush()
    return cluster_nodes


@pytest.mark.slow
@pytest.mark.parametrize(
    "adapter", [pytest.param("wsgi", id="wsgi"), pytest.param("asgi", id="asgi")]
)
@pytest.mark.parametrize(
    "given", [pytest.param("url", id="url"), pytest.param("client", id="client")]
)
def test_counting_throttle_and_stats_on_a_cluster(
    cluster: ClusterNodes, figures: Figures, adapter: str, given: str
) -> None:
    # A client of the user's making, as `Recorder(client=...)` and `Stats(client=...)` take it.
    client = redis.cluster.RedisCluster.from_url(cluster.url.replace("redis+cluster", "redis"))
    throttle = make_throttle()
    try:
        if given == "url":
            recorder = Recorder(cluster.url)
            assert isinstance(recorder.client, redis.cluster.RedisCluster)
            url: str | None = cluster.url
        else:
            recorder = Recorder(client=client)
            url = None
        if adapter == "wsgi":
            answered = visit_wsgi(
                WSGIAnalytics(wsgi_site, recorder=recorder, throttle=throttle, redis_url=url)
            )
        else:
            answered = visit_asgi(
                ASGIAnalytics(asgi_site, recorder=recorder, throttle=throttle, redis_url=url)
            )
        recorder.track("signups", "alice")
        recorder.close()
        assert answered == [status for *_, status in VISITS]

        with Stats(cluster.url) if given == "url" else Stats(client=client) as stats:
            check_stats(stats)
        per_node = cluster.keys_per_node()
        figures(keys_per_node=per_node)
        spread = [count for count in per_node.values() if count]
        assert len(spread) == 3  # the dimensions and the throttle keys sit on every node
        day_key = Keys().day("paths", today())
        assert client.ttl(day_key) > 0
    finally:
        throttle.close()
        close_cluster(client)


# -- TLS and AUTH through the URL ------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "adapter", [pytest.param("wsgi", id="wsgi"), pytest.param("asgi", id="asgi")]
)
def test_tls_and_password_through_the_url(tls_server: TLSServer, adapter: str) -> None:
    url = tls_server.url()
    with redis.Redis.from_url(url) as admin:
        admin.flushdb()
    visit_and_check(url, adapter)


@pytest.mark.slow
@pytest.mark.parametrize("adapter", ADAPTERS)
def test_tls_cluster_with_password_through_the_url(tls_cluster: TLSCluster, adapter: str) -> None:
    url = tls_cluster.url()
    admin = redis.cluster.RedisCluster.from_url(url.replace("+cluster", ""))
    try:
        admin.flushall(target_nodes=redis.cluster.RedisCluster.PRIMARIES)
    finally:
        close_cluster(admin)
    assert isinstance(visit_and_check(url, adapter), redis.cluster.RedisCluster)


@pytest.mark.slow
def test_wrong_password_never_breaks_the_app_nor_leaks(
    tls_server: TLSServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = tls_server.url(password="not-the-Pa55")
    throttle = make_throttle()
    app = WSGIAnalytics(wsgi_site, redis_url=url, throttle=throttle, flush_interval=3600.0)
    try:
        with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
            # Every request answered by the app (the throttle fails open), none lost to an error.
            assert visit_wsgi(app) == [
                200 if method == "POST" else status for method, _, _, status in VISITS
            ]
            with pytest.raises(redis.AuthenticationError):
                app.recorder.flush()
    finally:
        app.recorder.close()
        throttle.close()
    assert "not-the-Pa55" not in caplog.text
