"""The recorder against a real Redis-protocol server: flushing, shutdown, fork, outages, bounds."""

from __future__ import annotations

import logging
import os
import time

import pytest
import redis

from wsgi_analytics import Recorder
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.keys import Keys, today
from wsgi_analytics.request.facts import Facts, from_environ

from .helpers import zscores

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
KEYS = Keys("analytics")


def view(path: str = "/", client: str = "192.0.2.10", agent: str = CHROME) -> Facts:
    return from_environ(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": agent,
            "REMOTE_ADDR": client,
        }
    )


def paths_today(client: redis.Redis) -> dict[str, float]:
    return zscores(client, KEYS.day("paths", today()))


def test_counts_arrive_after_flush(recorder: Recorder, client: redis.Redis) -> None:
    for path in ["/", "/", "/a/"]:
        recorder.record(view(path), 200)
    assert paths_today(client) == {}
    recorder.flush()
    assert paths_today(client) == {"/": 2.0, "/a/": 1.0}
    assert zscores(client, KEYS.all("paths")) == {"/": 2, "/a/": 1}
    assert client.zscore(KEYS.all("days"), time.strftime("%Y-%m-%d", time.gmtime())) == 3.0
    recorder.flush()  # nothing pending: writes nothing twice
    assert paths_today(client) == {"/": 2.0, "/a/": 1.0}


def test_background_flusher_writes_without_being_asked(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=0.05)
    try:
        recorder.record(view("/bg/"), 200)
        deadline = time.monotonic() + 10
        while not paths_today(client) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert paths_today(client) == {"/bg/": 1.0}
    finally:
        recorder.close()


def test_close_flushes_and_is_idempotent(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=60)
    for _ in range(7):
        recorder.record(view("/bye/"), 200)
    recorder.close()
    recorder.close()
    assert paths_today(client) == {"/bye/": 7.0}


def test_client_ownership(redis_url: str, client: redis.Redis) -> None:
    mine = redis.Redis.from_url(redis_url)
    recorder = Recorder(client=mine, flush_interval=60)
    recorder.record(view(), 200)
    recorder.close()
    assert mine.ping() is True  # a client passed in is left open
    mine.close()
    owned = Recorder(redis_url, flush_interval=60)
    owned.record(view(), 200)
    owned.close()
    assert paths_today(client) == {"/": 2.0}


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_starts_clean(recorder: Recorder, client: redis.Redis) -> None:
    for _ in range(3):
        recorder.record(view("/parent/"), 200)
    pid = os.fork()
    if pid == 0:  # the child: count one request of its own, flush, leave without atexit
        code = 1
        try:
            recorder.record(view("/child/"), 200)
            recorder.flush()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert paths_today(client) == {"/child/": 1.0}
    recorder.flush()
    assert paths_today(client) == {"/child/": 1.0, "/parent/": 3.0}


def test_outage_keeps_counts_until_redis_is_back(private_server: EmbeddedServer) -> None:
    recorder = Recorder(private_server.url, flush_interval=60)
    try:
        recorder.record(view("/before/"), 200)
        recorder.flush()
        private_server.stop()
        for _ in range(50):
            recorder.record(view("/during/"), 200)
        with pytest.raises(redis.ConnectionError):
            recorder.flush()
        # 50 requests to one path are one pending member per key: bounded by members. Thirteen:
        # statuses, browsers, platforms, devices, the hour, the day, the path, the referrer,
        # the source, the channel, the country, the route and its response-time bucket.
        assert recorder.pending_entries == 13
        private_server.start()
        recorder.flush()
        reader = redis.Redis.from_url(private_server.url, decode_responses=True)
        # The test server keeps nothing on disk: what it held before the stop is gone, and
        # what was counted during the outage arrives whole.
        assert paths_today(reader) == {"/during/": 50.0}
        reader.close()
    finally:
        recorder.close()


def test_pending_is_bounded_and_drops_are_counted(
    redis_url: str, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder("redis://127.0.0.1:1/0", flush_interval=60, max_pending=10)
    try:
        for index in range(30):
            recorder.record(view(f"/p{index}/"), 200)
        with pytest.raises(redis.ConnectionError):
            recorder.flush()
        assert recorder.pending_entries == 10
        assert recorder.dropped > 0
        assert "max_pending" in caplog.text
    finally:
        recorder.close()


def test_track_custom_events(recorder: Recorder, client: redis.Redis) -> None:
    recorder.track("signups", "pro")
    recorder.track("signups", "pro", amount=2)
    recorder.track("signups", "free")
    recorder.flush()
    assert zscores(client, KEYS.day("signups", today())) == {
        "pro": 3.0,
        "free": 1.0,
    }
    with pytest.raises(ValueError, match="invalid dimension"):
        recorder.track("Bad Name", "x")
    with pytest.raises(ValueError, match="positive"):
        recorder.track("signups", "x", amount=0)


def test_uniques_hash_visitors_and_store_no_address(
    recorder: Recorder, client: redis.Redis
) -> None:
    for who in [
        "198.51.100.1",
        "198.51.100.1",
        "198.51.100.2",
        "2001:db8:1:2::1",
        "2001:db8:1:2::9",
    ]:
        recorder.record(view(client=who), 200)
    recorder.record(view(client="198.51.100.3"), 404)  # not a page view: not a visitor
    recorder.flush()
    assert client.pfcount(KEYS.uniques(today())) == 3  # the two IPv6 hosts share a /64
    assert client.pfcount(KEYS.uniques(None)) == 3
    dump = b"".join(bytes(client.dump(key) or b"") + key.encode() for key in client.scan_iter("*"))
    for address in [b"198.51.100.1", b"198.51.100.2", b"2001:db8"]:
        assert address not in dump


def test_day_keys_expire_and_sets_are_trimmed(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=60, retention_days=30, max_members=3)
    try:
        for index, repeat in enumerate([5, 4, 3, 2, 1]):
            for _ in range(repeat):
                recorder.record(view(f"/p{index}/"), 200)
        recorder.flush()
    finally:
        recorder.close()
    assert paths_today(client) == {"/p0/": 5.0, "/p1/": 4.0, "/p2/": 3.0}
    ttl = client.ttl(KEYS.day("paths", today()))
    assert 30 * 86400 < ttl <= 31 * 86400
    assert client.ttl(KEYS.all("paths")) == -1
    assert 0 < client.ttl(KEYS.salt(today())) <= 86400 + 3600


def test_command_error_is_logged_not_retried(
    recorder: Recorder, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    client.set(KEYS.day("paths", today()), "not a sorted set")
    recorder.record(view("/x/"), 200)
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        recorder.flush()
    assert "WRONGTYPE" in caplog.text
    assert recorder.pending == 0
    assert client.zscore(KEYS.all("paths"), "/x/") == 1.0


def test_a_burst_beyond_max_pending_is_written_whole_while_redis_answers(
    redis_url: str, client: redis.Redis
) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, max_pending=1000)
    try:
        for index in range(5000):
            recorder.record(view(f"/burst/{index}/"), 200)
        recorder.flush()
    finally:
        recorder.close()
    assert recorder.dropped == 0
    assert client.zcard(KEYS.day("paths", today())) == 5000
    assert zscores(client, KEYS.day("statuses", today())) == {"200": 5000.0}


def test_record_and_track_after_close_are_refused(
    redis_url: str, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Counts that arrive after close() could never be written: refused, said once, counted in
    `dropped`; never queued where no flusher will take them."""
    recorder = Recorder(redis_url, flush_interval=60)
    recorder.record(view("/before/"), 200)
    recorder.close()
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        for _ in range(3):
            recorder.record(view("/late/"), 200)
            recorder.track("signups", "late", amount=2)
    refusals = [r for r in caplog.records if "closed" in r.getMessage()]
    assert len(refusals) == 1
    assert recorder.queued == 0
    assert recorder.pending == 0
    assert recorder.dropped == 3 + 3 * 2
    assert paths_today(client) == {"/before/": 1.0}
