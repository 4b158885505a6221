"""Redis going away: requests keep being answered, counts wait in memory, and nothing is lost.

While Redis is down the recorder holds counts per distinct (dimension, day, member), never per
request: ``max_pending`` entries at most (100,000 by default), beyond which new members are
dropped and counted in ``Recorder.dropped``. Members already pending keep counting.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from wsgi_analytics import Recorder, _log
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.keys import Keys, today
from wsgi_analytics.request.facts import Facts, from_environ

from .helpers import zscores
from .servers import (
    AGENT,
    Figures,
    Load,
    ServerProcess,
    drive,
    figures,
    gunicorn_argv,
    read_counts,
    server_process,
)

__all__ = ["figures", "server_process"]  # the fixtures, imported for pytest

Start = Callable[..., ServerProcess]
OUTAGE = 10.0  # seconds without Redis while requests flow


@pytest.fixture(autouse=True)
def fresh_log_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate limiter's memory is per process: give each test its own, and leave other
    tests' warnings (they expect them) unsuppressed by these."""
    monkeypatch.setattr(_log, "_last", {})


@pytest.fixture
def persistent_server() -> Iterator[EmbeddedServer]:
    """A server that saves on shutdown and loads at start: an outage, not a data loss."""
    server = EmbeddedServer(prefer="redis-server", extra_args=("--save", "3600 1"))
    server.start()
    yield server
    server.close()


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
def test_outage_under_load_loses_nothing_and_fails_nothing(
    server_process: Start, persistent_server: EmbeddedServer, figures: Figures
) -> None:
    url = persistent_server.url
    server = server_process(lambda port: gunicorn_argv(port, "-w", "4", "-k", "sync"), url)
    server.wait_ready(workers=4)
    load = Load()
    clients = threading.Thread(
        target=drive, args=(server.port, 1_000_000, load), kwargs={"threads": 4, "pace": 0.005}
    )
    clients.start()
    try:
        # Some counts are in Redis before it goes away: they must survive, and not twice.
        assert wait_for(lambda: sum(read_counts(url, "statuses").values()) > 200)
        persistent_server.stop()
        before = load.answered
        time.sleep(OUTAGE)
        during = load.answered - before
        persistent_server.start()
        time.sleep(1.0)
    finally:
        load.halted = True
        clients.join()

    figures(answered=load.answered, answered_during_outage=during, failed=load.failed)
    assert during >= 100  # requests kept flowing, and were answered, while Redis was down
    assert load.failed == 0
    assert set(load.statuses) == {200}
    # Written by the workers' flushers once Redis is back (backoff: at most 16 s later).
    assert wait_for(lambda: read_counts(url, "statuses") == {"200": load.answered})
    server.send(signal.SIGTERM)
    assert server.wait() == 0
    assert read_counts(url, "statuses") == {"200": load.answered}
    assert sum(read_counts(url, "paths").values()) == load.answered
    assert read_counts(url, "workers") == {str(pid): n for pid, n in load.served.items()}

    log = server.log()
    assert "Traceback" not in log, log[-4000:]
    ours = [line for line in log.splitlines() if "wsgi_analytics" in line]
    down = [line for line in ours if "Redis unreachable" in line]
    back = [line for line in ours if "Redis is back" in line]
    # Rate-limited: one warning per worker for the whole outage, and one when it is over.
    figures(warnings=len(ours), counted=sum(read_counts(url, "statuses").values()))
    assert 1 <= len(down) <= 4
    assert len(back) == len(down)
    assert len(ours) == len(down) + len(back), ours


# -- the memory bound, in process ------------------------------------------------------------


def facts(path: str, agent: str = AGENT) -> Facts:
    return from_environ(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "HTTP_HOST": "example.org",
            "HTTP_USER_AGENT": agent,
            "REMOTE_ADDR": "203.0.113.7",
        }
    )


def test_while_down_pending_grows_with_members_not_requests(
    private_server: EmbeddedServer,
) -> None:
    recorder = Recorder(private_server.url, flush_interval=3600.0)
    try:
        private_server.stop()
        pages = [facts(f"/page/{n}") for n in range(10)]
        # In bursts of 10,000, each drained by a failing flush: one loop records faster than
        # any server feeds a process, and a queue of more than ~48 MB would drop requests.
        for number in range(100_000):
            recorder.record(pages[number % 10], 200)
            if number % 10_000 == 9_999:
                with pytest.raises(redis.ConnectionError):
                    recorder.flush()
        # 10 paths, and one member each for statuses, referrers, sources, channels, countries,
        # browsers, platforms, devices, the hour, the day, the route (/page/{id}) and its one
        # duration bucket: 22 entries for 100,000 requests (23 if an hour ended meanwhile).
        assert 22 <= recorder.pending_entries <= 23
        assert recorder.dropped == 0

        private_server.start()  # an empty server: what was pending is all there is
        recorder.flush()
        client = redis.Redis.from_url(private_server.url, decode_responses=True)
        try:
            keys = Keys()
            assert zscores(client, keys.all("statuses")) == {"200": 100_000.0}
            assert sum(zscores(client, keys.all("paths")).values()) == 100_000
        finally:
            client.close()
        assert recorder.pending_entries == 0
    finally:
        recorder.close()


def test_beyond_max_pending_new_members_are_dropped_and_counted(
    private_server: EmbeddedServer,
) -> None:
    recorder = Recorder(private_server.url, flush_interval=3600.0, max_pending=1000)
    try:
        private_server.stop()
        for number in range(5000):
            recorder.track("downloads", f"file-{number}")
        for _ in range(7):
            recorder.track("downloads", "file-0")  # a member already pending keeps counting
        with pytest.raises(redis.ConnectionError):
            recorder.flush()
        assert recorder.pending_entries == 1000
        assert recorder.dropped == 4000

        private_server.start()
        recorder.flush()
        client = redis.Redis.from_url(private_server.url, decode_responses=True)
        try:
            counts = zscores(client, Keys().all("downloads"))
        finally:
            client.close()
        assert len(counts) == 1000
        assert counts["file-0"] == 8
        assert sum(counts.values()) == 1007
        assert recorder.dropped == 4000
    finally:
        recorder.close()


def test_day_keys_expire_again_after_an_empty_restart(
    private_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Redis without persistence comes back empty: the recreated day keys need their expiry
    again, although this process already set it once (it re-sends them periodically)."""
    from wsgi_analytics.recording import writer

    monkeypatch.setattr(writer, "_EXPIRY_REFRESH", 0.0)
    recorder = Recorder(private_server.url, flush_interval=3600.0)
    client = redis.Redis.from_url(private_server.url, decode_responses=True)
    day_key = Keys().day("downloads", today())
    try:
        recorder.track("downloads", "a")
        recorder.flush()
        assert client.ttl(day_key) > 0
        private_server.stop()
        private_server.start()
        recorder.track("downloads", "b")
        recorder.flush()
        assert zscores(client, day_key) == {"b": 1.0}
        assert client.ttl(day_key) > 0
    finally:
        client.close()
        recorder.close()


def test_outage_log_lines_are_rate_limited(
    private_server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A flusher retrying against a dead Redis logs once, not once per retry."""
    recorder = Recorder(private_server.url, flush_interval=0.05)
    try:
        private_server.stop()
        with caplog.at_level("WARNING", logger="wsgi_analytics"):
            for _ in range(200):
                recorder.track("downloads", "x")
                time.sleep(0.01)
            assert wait_for(lambda: recorder.failures >= 3, timeout=10)
        messages = [r.getMessage() for r in caplog.records if r.name == "wsgi_analytics"]
        assert len([m for m in messages if re.search("unreachable", m)]) <= 1
        assert not [r for r in caplog.records if r.exc_info]
        private_server.start()
    finally:
        recorder.close()


def test_a_stall_longer_than_the_socket_timeout_does_not_count_twice(
    private_server: EmbeddedServer,
) -> None:
    """Redis paused (SIGSTOP: a stalled server, a long fork, a network hiccup) past the
    client's read timeout, then resumed: it executes the commands it had received."""
    pid = private_server.pid
    assert pid is not None
    client = redis.Redis.from_url(private_server.url, socket_timeout=0.5, decode_responses=True)
    recorder = Recorder(client=client, flush_interval=3600.0)
    try:
        recorder.track("downloads", "x", 100)
        recorder.flush()
        recorder.track("downloads", "x", 100)
        os.kill(pid, signal.SIGSTOP)
        try:
            with pytest.raises(redis.TimeoutError):
                recorder.flush()
        finally:
            os.kill(pid, signal.SIGCONT)
        recorder.flush()
        assert zscores(client, Keys().all("downloads")) == {"x": 200.0}
    finally:
        recorder.close()
        client.close()
