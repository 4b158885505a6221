"""The rolling window is exact: the timed burst that beats fixed windows and sliding counters.

With a fixed window (or a weighted sliding counter), "1 at t=0, 4 just before the window ends,
more just after" lets up to twice the limit through in one rolling window. Here real time passes
(a 3 s window) and the accepted requests' own timestamps, read from Redis, are checked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import cast

import pytest
import redis

from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.throttle import Throttle
from wsgi_analytics.throttle.gates import SyncGate

from .test_throttle import post, throttle_keys

LIMIT = 5
WINDOW = 3.0
EPSILON = 0.4  # far more than a round trip or a scheduler hiccup, far less than the window


@pytest.fixture
def gate(redis_url: str, client: redis.Redis) -> Iterator[SyncGate]:
    recorder = Recorder(redis_url, flush_interval=60)
    throttle = Throttle(limit=LIMIT, window=WINDOW)
    yield throttle.bind_sync(client=recorder.client)
    throttle.close()
    recorder.close()


def burst(gate: SyncGate, client: redis.Redis, tries: int, accepted: list[int]) -> int:
    """Fire ``tries`` requests; note each accepted one's Redis time in µs (the newest member)."""
    passed = 0
    for _ in range(tries):
        if gate.check(post(), 0) is None:
            passed += 1
            (key,) = throttle_keys(client)
            newest = cast("list[tuple[str, float]]", client.zrange(key, -1, -1, withscores=True))
            ((_, score),) = newest
            accepted.append(int(score))
    return passed


@pytest.mark.slow
def test_timed_bursts_never_beat_the_rolling_window(gate: SyncGate, client: redis.Redis) -> None:
    accepted: list[int] = []
    start = time.monotonic()

    def at(offset: float) -> None:
        time.sleep(max(0.0, start + offset - time.monotonic()))

    passed = [burst(gate, client, 1, accepted)]  # t = 0
    at(WINDOW - EPSILON)
    passed.append(burst(gate, client, 10, accepted))  # the rest of the quota, and refusals
    at(WINDOW + EPSILON)
    passed.append(burst(gate, client, 10, accepted))  # only the t=0 slot is free again
    at(2 * WINDOW)
    passed.append(burst(gate, client, 10, accepted))  # the four from t≈window-ε have left
    assert passed == [1, LIMIT - 1, 1, LIMIT - 1]

    # Whatever the scheduling, any limit+1 accepted requests span at least one window.
    accepted.sort()
    spans = [b - a for a, b in zip(accepted, accepted[LIMIT:], strict=False)]
    assert len(spans) == len(accepted) - LIMIT
    assert min(spans) >= WINDOW * 1_000_000
