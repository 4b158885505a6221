"""Shared fixtures: one real Redis-protocol server per test session, a clean database per test.

Set WSGI_ANALYTICS_TEST_REDIS_URL to use a server of your own instead (its database is flushed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from wsgi_analytics import Recorder, _log
from wsgi_analytics.embedded import EmbeddedServer


@pytest.fixture(autouse=True)
def _fresh_log_limiter() -> None:
    """Each test sees its own rate-limited warnings, whatever ran before it."""
    _log.reset_limits()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    configured = os.environ.get("WSGI_ANALYTICS_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with EmbeddedServer(prefer="redis-server") as server:
        yield server.url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url, decode_responses=True)
    connection.flushdb()
    yield connection
    connection.close()


@pytest.fixture
def recorder(redis_url: str, client: redis.Redis) -> Iterator[Recorder]:
    """A recorder on the session server (empty database) that flushes only when told to."""
    made = Recorder(redis_url, flush_interval=60)
    yield made
    made.close()


@pytest.fixture
def private_server() -> Iterator[EmbeddedServer]:
    """A server of the test's own, to stop and start (outage tests)."""
    server = EmbeddedServer(prefer="redis-server")
    server.start()
    yield server
    server.close()
