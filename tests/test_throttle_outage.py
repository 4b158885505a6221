"""Redis down or slow: fail open with a warning, or answer 503; never an exception."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.throttle import Throttle, policy
from wsgi_analytics.throttle.policy import Refusal

from .test_throttle import post


@pytest.fixture
def recorder(private_server: EmbeddedServer) -> Iterator[Recorder]:
    made = Recorder(private_server.url, flush_interval=60)
    yield made
    made.close()


@pytest.fixture
def throttles() -> Iterator[list[Throttle]]:
    made: list[Throttle] = []
    yield made
    for throttle in made:
        throttle.close()


def check(
    throttle: Throttle,
    recorder: Recorder,
    flavour: str,
    times: int,
    between: Callable[[], object] | None = None,
) -> list[Any]:
    """``times`` checks through a sync or an asyncio gate; with ``between``, one check first
    (connected, secret fetched), then ``between()``, then the ``times`` checks."""
    if flavour == "sync":
        gate = throttle.bind_sync(client=recorder.client)
        if between is not None:
            assert gate.check(post(), 0) is None
            between()
        return [gate.check(post(), 0) for _ in range(times)]
    agate = throttle.bind_async(client=recorder.client)

    async def run() -> list[Refusal | None]:
        if between is not None:
            assert await agate.check(post(), 0) is None
            between()
        return [await agate.check(post(), 0) for _ in range(times)]

    return asyncio.run(run())


FLAVOURS = [pytest.param("sync", id="wsgi"), pytest.param("async", id="asgi")]


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_down_fail_open_lets_through_and_warns_once(
    private_server: EmbeddedServer,
    recorder: Recorder,
    throttles: list[Throttle],
    flavour: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = Throttle(limit=1, window=60)
    throttles.append(throttle)
    private_server.stop()
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        outcomes = check(throttle, recorder, flavour, 5)
    assert outcomes == [None] * 5  # limit 1, yet all through: the site stays up
    warnings = [r for r in caplog.records if "throttle could not ask Redis" in r.getMessage()]
    assert len(warnings) == 1
    assert "letting requests through" in warnings[0].getMessage()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_down_fail_closed_answers_503(
    private_server: EmbeddedServer,
    recorder: Recorder,
    throttles: list[Throttle],
    flavour: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = Throttle(limit=1, window=60, fail_open=False)
    throttles.append(throttle)
    private_server.stop()
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        outcomes = check(throttle, recorder, flavour, 3)
    for outcome in outcomes:
        assert isinstance(outcome, Refusal)
        assert outcome.status == 503
        assert outcome.status_line == "503 Service Unavailable"
        assert dict(outcome.headers)["Retry-After"] == "1"
        assert dict(outcome.headers)["Content-Type"] == "text/plain; charset=utf-8"
    assert "answering 503" in caplog.text


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_slow_redis_times_out(
    private_server: EmbeddedServer,
    recorder: Recorder,
    throttles: list[Throttle],
    flavour: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = Throttle(limit=5, window=60, fail_open=False, timeout=0.2)
    throttles.append(throttle)
    # CLIENT PAUSE holds every command for 1 s: a server that answers, but too late.
    admin = redis.Redis.from_url(private_server.url)
    try:
        with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
            outcomes = check(
                throttle, recorder, flavour, 2, lambda: admin.client_pause(1000, all=True)
            )
    finally:
        admin.close()
    assert [outcome.status for outcome in outcomes] == [503, 503]
    assert "Timeout" in caplog.text


def test_recovers_when_redis_is_back(
    private_server: EmbeddedServer,
    recorder: Recorder,
    throttles: list[Throttle],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(policy, "REST", 0.2)
    throttle = Throttle(limit=2, window=60, fail_open=False)
    throttles.append(throttle)
    gate = throttle.bind_sync(client=recorder.client)
    assert gate.check(post(), 0) is None
    private_server.stop()
    down = gate.check(post(), 0)
    assert down is not None
    assert down.status == 503
    private_server.start()  # an empty server: the quota starts over
    time.sleep(0.3)  # past the rest after a failure
    outcomes = [gate.check(post(), 0) for _ in range(3)]
    assert [getattr(outcome, "status", None) for outcome in outcomes] == [None, None, 429]


def test_rest_after_failure_spares_a_dead_server(
    private_server: EmbeddedServer,
    recorder: Recorder,
    throttles: list[Throttle],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # After a transport failure the gate leaves Redis alone for a moment: a black-holed
    # server costs one timeout, not one per request. Counted, not timed: the script calls.
    throttle = Throttle(limit=1, window=60, secret="k" * 32)  # no secret to fetch first
    throttles.append(throttle)
    gate = throttle.bind_sync(client=recorder.client)
    private_server.stop()
    calls = 0
    lock = threading.Lock()
    real = gate.script

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        with lock:
            calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(gate, "script", counting)
    assert [gate.check(post(), 0) for _ in range(20)] == [None] * 20
    assert calls == 1


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_pooled_connection_lost_in_a_restart_is_replaced(
    private_server: EmbeddedServer, recorder: Recorder, throttles: list[Throttle], flavour: str
) -> None:
    # The gate's idle connection dies with the server; the next request must be decided on a
    # new one (as redis-py reconnects), not failed: with fail_open=False that would be a 503.
    throttle = Throttle(limit=2, window=60, fail_open=False)
    throttles.append(throttle)

    def restart() -> None:
        private_server.stop()
        private_server.start()  # an empty server: the quota starts over

    outcomes = check(throttle, recorder, flavour, 3, between=restart)
    assert [getattr(outcome, "status", None) for outcome in outcomes] == [None, None, 429]
