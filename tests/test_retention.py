"""The retention a recorder stores under its prefix (``{prefix:meta}``)."""

from __future__ import annotations

import logging

import pytest
import redis

from wsgi_analytics.keys import Keys
from wsgi_analytics.recording.recorder import Recorder

from .helpers import visit

PREFIX = "site"
META = Keys(PREFIX).meta()


def record(redis_url: str, retention_days: int) -> None:
    """One page view of ``/`` today, by a recorder keeping ``retention_days``."""
    recorder = Recorder(
        redis_url, prefix=PREFIX, flush_interval=3600, retention_days=retention_days
    )
    visit(recorder, "/")
    recorder.close()


# -- the recorder stores it ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "retentions", "stored", "warning"),
    [
        pytest.param(None, [30], "30", None, id="first recorder"),
        pytest.param(None, [30, 120], "120", None, id="a longer one raises it"),
        pytest.param(
            None,
            [120, 30],
            "120",
            "HSET {site:meta} retention_days 30",
            id="a shorter one leaves it and says so",
        ),
        pytest.param(None, [90, 90], "90", None, id="the default twice"),
        pytest.param("abc", [30], "30", None, id="garbage replaced"),
        pytest.param("0", [30], "30", None, id="zero replaced"),
        pytest.param("1e3", [30], "30", None, id="not digits replaced"),
        pytest.param("1" * 10, [30], "30", None, id="ten digits replaced"),
        pytest.param("365", [30], "365", "retention_days=365", id="a longer one kept"),
    ],
)
def test_the_longest_retention_is_stored(
    redis_url: str,
    client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    before: str | None,
    retentions: list[int],
    stored: str,
    warning: str | None,
) -> None:
    if before is not None:
        client.hset(META, "retention_days", before)
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        for days in retentions:
            record(redis_url, days)
    meta = client.hgetall(META)
    assert meta == {"timezone": "UTC", "retention_days": stored}
    messages = [r.getMessage() for r in caplog.records if r.name == "wsgi_analytics"]
    if warning is None:
        assert messages == []
    else:
        assert len(messages) == 1
        assert warning in messages[0]


def test_stored_at_the_first_write_only(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, prefix=PREFIX, flush_interval=3600, retention_days=30)
    try:
        assert not client.exists(META)  # a recorder that never counts leaves no trace
        visit(recorder, "/")
        recorder.flush()
        assert client.hget(META, "retention_days") == "30"
        client.config_resetstat()
        visit(recorder, "/")
        recorder.flush()
        calls = client.info("commandstats")
    finally:
        recorder.close()
    # Nothing per request or per flush: the meta hash is not touched again.
    hashes = {"cmdstat_hget", "cmdstat_hset", "cmdstat_hsetnx", "cmdstat_hmget"}
    assert hashes & set(calls) == set()
