"""Redis answering with errors instead of going away: counts are held and retried, or dropped
and counted when the error is permanent, and never applied twice.

Each case runs a real server put in the state that answers so: ``maxmemory`` with
``noeviction`` (OOM), a replica (READONLY), a long script (BUSY), an ACL that denies some keys
(NOPERM: a pipeline whose commands partly succeed), a key of the wrong type (WRONGTYPE).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
import redis
from redis._parsers.base import BaseParser

from wsgi_analytics import Recorder
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.recording import recorder as recorder_module
from wsgi_analytics.recording.writer import not_now
from wsgi_analytics.request.facts import Facts, from_environ

from .helpers import zset

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def view(path: str, client: str = "192.0.2.10", agent: str = CHROME) -> Facts:
    return from_environ(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": agent,
            "REMOTE_ADDR": client,
        }
    )


def traffic(recorder: Recorder) -> None:
    """Three page views of two paths from two visitors, and two sign-ups."""
    recorder.record(view("/a/"), 200)
    recorder.record(view("/a/", client="192.0.2.11"), 200)
    recorder.record(view("/b/"), 200)
    recorder.track("signups", "pro", amount=2)


# What `traffic` counts: paths, referrers ("(direct)"), sources, channels, countries, statuses,
# browsers, platforms, devices, the hour, the day, the route and its duration bucket, 3 each;
# two sign-ups.
COUNTS = 3 * 13 + 2


def check_counted_once(client: redis.Redis) -> None:
    assert zset(client, "paths") == {"/a/": 2.0, "/b/": 1.0}
    assert zset(client, "statuses") == {"200": 3.0}
    assert zset(client, "signups") == {"pro": 2.0}
    assert client.pfcount(*list(client.scan_iter("{analytics:uniques}:2*"))) == 2


@pytest.fixture
def server() -> Iterator[EmbeddedServer]:
    made = EmbeddedServer(prefer="redis-server")
    made.start()
    yield made
    made.close()


@pytest.fixture
def admin(server: EmbeddedServer) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(server.url, decode_responses=True)
    yield connection
    connection.close()


def held_then_written(
    recorder: Recorder,
    error: type[Exception],
    code: str,
    heal: Callable[[], Any],
    reader: redis.Redis,
) -> None:
    traffic(recorder)
    held = []
    for _ in range(3):  # retried as often as it takes, never given up
        with pytest.raises(error) as raised:
            recorder.flush()
        assert not_now(raised.value), raised.value
        assert code in f"{getattr(raised.value, 'status_code', '')} {raised.value}"
        held.append(recorder.pending)
    assert held == [COUNTS] * 3
    assert recorder.dropped == 0
    heal()
    recorder.flush()
    assert recorder.pending == 0
    assert recorder.dropped == 0
    check_counted_once(reader)


@pytest.mark.slow
def test_out_of_memory_holds_counts_until_memory_is_back(
    server: EmbeddedServer, admin: redis.Redis
) -> None:
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")  # below what the server uses: every write is refused
    recorder = Recorder(server.url, flush_interval=3600)
    try:
        held_then_written(
            recorder,
            redis.exceptions.OutOfMemoryError,
            "OOM",
            lambda: admin.config_set("maxmemory", "0"),
            admin,
        )
    finally:
        recorder.close()


@pytest.mark.slow
def test_a_demoted_primary_holds_counts_until_promoted_again(server: EmbeddedServer) -> None:
    """READONLY is what the old primary answers after a failover."""
    replica = EmbeddedServer(
        prefer="redis-server", extra_args=("--replicaof", "127.0.0.1", str(server.port))
    )
    replica.start()
    reader = redis.Redis.from_url(replica.url, decode_responses=True)
    recorder = Recorder(replica.url, flush_interval=3600)
    try:
        held_then_written(
            recorder,
            redis.exceptions.ReadOnlyError,
            "READONLY",
            lambda: reader.replicaof("NO", "ONE"),
            reader,
        )
    finally:
        recorder.close()
        reader.close()
        replica.close()


@pytest.mark.slow
def test_a_busy_server_holds_counts_until_the_script_is_killed(
    server: EmbeddedServer, admin: redis.Redis
) -> None:
    admin.config_set("busy-reply-threshold", "20")  # milliseconds before others get BUSY
    busy = redis.Redis.from_url(server.url)
    outcome: list[BaseException] = []

    def spin() -> None:
        try:
            busy.eval("while true do end", 0)
        except redis.RedisError as error:
            outcome.append(error)

    spinner = threading.Thread(target=spin)
    spinner.start()
    time.sleep(0.2)

    def kill() -> None:
        admin.script_kill()
        spinner.join(10)
        assert outcome, "the script was not killed"

    recorder = Recorder(server.url, flush_interval=3600)
    try:
        held_then_written(recorder, redis.ResponseError, "BUSY", kill, admin)
    finally:
        recorder.close()
        busy.close()


@pytest.mark.slow
def test_a_partly_refused_pipeline_is_retried_without_what_was_applied(
    server: EmbeddedServer, admin: redis.Redis
) -> None:
    """An ACL lets the recorder write `paths` but not `statuses` (NOPERM, "not now": an
    operator fixes it). The `paths` increments are applied at the first try; the retry,
    after the batch markers are gone (as they are five minutes later), applies only the rest.
    """
    # Every key but the statuses' ("s" is also salt, sources and signups: granted by name).
    admin.acl_setuser(
        "counter",
        enabled=True,
        passwords=["+pw"],
        commands=["+@all"],
        keys=[
            "{analytics:[^s]*",
            "{analytics:salt}*",
            "{analytics:sources}*",
            "{analytics:signups}*",
        ],
    )
    url = server.url.replace("redis://", "redis://counter:pw@")
    recorder = Recorder(url, flush_interval=3600)
    try:
        traffic(recorder)
        with pytest.raises(redis.exceptions.NoPermissionError):
            recorder.flush()
        assert zset(admin, "paths") == {"/a/": 2.0, "/b/": 1.0}
        assert zset(admin, "statuses") == {}
        assert recorder.pending == 3  # the statuses, still held
        admin.delete(*admin.keys("*:batch:*"))
        admin.acl_setuser("counter", enabled=True, keys=["*"])
        recorder.flush()
        check_counted_once(admin)
        assert recorder.dropped == 0
    finally:
        recorder.close()


@pytest.mark.slow
def test_a_key_of_the_wrong_type_drops_its_counts_and_says_so(
    server: EmbeddedServer, admin: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """WRONGTYPE will not heal by retrying: what it concerns is dropped, counted and logged,
    and the rest is written."""
    admin.set("{analytics:statuses}:all", "not a sorted set")
    recorder = Recorder(server.url, flush_interval=3600)
    try:
        traffic(recorder)
        with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
            recorder.flush()
        assert "WRONGTYPE" in caplog.text
        assert recorder.pending == 0
        assert recorder.dropped == 3  # the three statuses' all-time counts
        assert zset(admin, "statuses") == {"200": 3.0}  # the day key took them
        assert zset(admin, "paths") == {"/a/": 2.0, "/b/": 1.0}
    finally:
        recorder.close()


@pytest.mark.slow
def test_held_counts_are_reported_with_numbers_while_it_lasts(
    server: EmbeddedServer,
    admin: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The rate-limited warnings say it once a minute at most; the summary keeps saying how
    many counts are held and dropped, and says when they are written."""
    monkeypatch.setattr(recorder_module, "_SUMMARY_EVERY", 0.1)
    monkeypatch.setattr(recorder_module, "_MAX_BACKOFF", 0.05)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", "1")
    recorder = Recorder(server.url, flush_interval=0.02)
    try:
        with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
            traffic(recorder)
            deadline = time.monotonic() + 10
            while caplog.text.count(f"holding {COUNTS} counts") < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert caplog.text.count(f"holding {COUNTS} counts") >= 3
            admin.config_set("maxmemory", "0")
            while "Redis is back" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.05)
        assert "Redis is back" in caplog.text
        assert "refusing writes" in caplog.text
        check_counted_once(admin)
    finally:
        recorder.close()


@pytest.mark.parametrize(
    ("reply", "held"),
    [
        pytest.param("OOM command not allowed when used memory > 'maxmemory'.", True, id="OOM"),
        pytest.param("READONLY You can't write against a read only replica.", True, id="READONLY"),
        pytest.param("BUSY Redis is busy running a script.", True, id="BUSY"),
        pytest.param("LOADING Redis is loading the dataset in memory", True, id="LOADING"),
        pytest.param("MASTERDOWN Link with MASTER is down", True, id="MASTERDOWN"),
        pytest.param("MISCONF Redis is configured to save RDB snapshots", True, id="MISCONF"),
        pytest.param("CLUSTERDOWN The cluster is down", True, id="CLUSTERDOWN"),
        pytest.param("TRYAGAIN Multiple keys request during rehashing", True, id="TRYAGAIN"),
        pytest.param(
            "ERR Error running script (call to f_1): @user_script:2: -OOM command not allowed",
            True,
            id="OOM wrapped by an old server",
        ),
        pytest.param("WRONGTYPE Operation against a key", False, id="WRONGTYPE"),
        pytest.param("ERR unknown command 'EVAL'", False, id="ERR"),
    ],
)
def test_which_replies_hold_counts(reply: str, held: bool) -> None:
    # As redis-py's parser makes them: a known code moves into status_code.
    parsed = cast("redis.ResponseError", BaseParser.parse_error(reply))  # type: ignore[no-untyped-call]
    assert not_now(parsed) is held


def test_a_clean_shutdown_with_nothing_pending_reports_no_loss(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(server.url, flush_interval=3600)
    recorder.record(view("/a/"), 200)
    recorder.flush()  # written: only the trim at shutdown would still talk to Redis
    server.stop()
    with caplog.at_level(logging.INFO, logger="wsgi_analytics"):
        recorder.close()
    assert "lost" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_shutdown_with_counts_pending_reports_what_is_lost(
    server: EmbeddedServer, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(server.url, flush_interval=3600)
    server.stop()
    recorder.record(view("/a/"), 200)
    with caplog.at_level(logging.INFO, logger="wsgi_analytics"):
        recorder.close()
    # The path, referrer, source, channel, country, status, browser, platform, device, hour and
    # day, the route and its duration bucket; one visitor.
    assert "final flush failed, 13 counts and 1 visitors lost" in caplog.text
