"""A long spoofed ``X-Forwarded-For`` cannot push the trusted proxies' entries out.

Proxies append on the right, so with ``trusted_proxies=N`` the client is the N-th entry from
the right, however much the client wrote to the left of it. Header text is read from its right
end (the last 4 KB of bytes), under WSGI and ASGI alike, and through a real uvicorn.
"""

from __future__ import annotations

import http.client
import random
from collections.abc import Callable

import pytest
import redis

from wsgi_analytics.request.facts import Facts, from_environ, from_scope
from wsgi_analytics.request.identity import client_identity

from .servers import APPS, ServerProcess, server_process, uvicorn_argv

__all__ = ["server_process"]

PEER = "127.0.0.1"  # the proxy
CLIENT = "198.51.100.7"  # what the proxy appended


def spoofed(size: int, seed: int = 0) -> str:
    """``size`` characters of random addresses, as a client trying to pick its own."""
    pick = random.Random(seed)
    entries: list[str] = []
    length = 0
    while length < size:
        entries.append(f"{pick.randrange(1, 224)}.{pick.randrange(256)}.0.{pick.randrange(256)}")
        length += len(entries[-1]) + 2
    return ", ".join(entries)


def via_wsgi(lines: list[str]) -> Facts:
    # A WSGI server joins repeated lines with commas; the text is latin-1 for UTF-8 bytes.
    joined = ",".join(lines).encode().decode("latin-1")
    return from_environ({"REQUEST_METHOD": "POST", "REMOTE_ADDR": PEER,
                         "HTTP_X_FORWARDED_FOR": joined})  # fmt: skip


def via_asgi(lines: list[str]) -> Facts:
    headers = [(b"x-forwarded-for", line.encode()) for line in lines]
    return from_scope({"type": "http", "method": "POST", "path": "/", "headers": headers,
                       "client": (PEER, 1234)})  # fmt: skip


@pytest.mark.parametrize("read", [via_wsgi, via_asgi], ids=["WSGI", "ASGI"])
@pytest.mark.parametrize(
    ("lines", "client"),
    [
        pytest.param([spoofed(70_000) + ", " + CLIENT], CLIENT, id="70 KB spoofed prefix"),
        pytest.param([spoofed(3_000_000) + ", " + CLIENT], CLIENT, id="3 MB spoofed prefix"),
        pytest.param(
            [spoofed(8_000, seed) for seed in range(20)] + [CLIENT], CLIENT, id="20 long lines"
        ),
        pytest.param(["😀" * 50_000 + ", 6.6.6.6, " + CLIENT], CLIENT, id="four-byte characters"),
        pytest.param(["😀" * 50_000 + CLIENT], PEER, id="one long entry: no proxy's, so the peer"),
    ],
)
def test_the_right_end_is_kept(
    read: Callable[[list[str]], Facts], lines: list[str], client: str | None
) -> None:
    facts = read(lines)
    assert len(facts.forwarded_for) <= 1024
    assert client_identity(facts.client, facts.forwarded_for, 1) == client


def post(port: int, forwarded: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/comment", body=b"hi", headers={"X-Forwarded-For": forwarded})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@pytest.mark.slow
@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_a_long_spoofed_prefix_does_not_escape_the_throttle_under_uvicorn(
    server_process: Callable[..., ServerProcess], redis_url: str, client: redis.Redis, http: str
) -> None:
    """Five POSTs from one client behind one proxy, each with a different 100 KB spoofed
    prefix: limit=2 lets the first two through and refuses the other three."""
    assert (APPS / "throttled_asgi.py").exists()
    server = server_process(
        lambda port: uvicorn_argv(
            port, "--http", http, "--h11-max-incomplete-event-size", str(1 << 20),
            app="throttled_asgi:app",
        ),
        redis_url,
        SAMPLE_LIMIT="2",
    )  # fmt: skip
    server.wait_ready()
    statuses = [post(server.port, spoofed(100_000, seed) + ", " + CLIENT) for seed in range(5)]
    assert statuses == [200, 200, 429, 429, 429], server.log()
