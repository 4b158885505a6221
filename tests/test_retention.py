"""The retention a recorder stores under its prefix, and readers cutting ranges there unless told
otherwise: `Stats`, ``wsgi-analytics report`` and the dashboard (the Django and Flask entry
points: tests/test_django_native.py, tests/test_flask_native.py)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from wsgi_analytics.cli import main
from wsgi_analytics.dashboard import app
from wsgi_analytics.keys import Keys, day_label, today
from wsgi_analytics.reading import stats as stats_module
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.recording.recorder import Recorder

from .helpers import put_past, visit

PREFIX = "site"
META = Keys(PREFIX).meta()
T = today()


def record(redis_url: str, retention_days: int) -> None:
    """One page view of ``/`` today, by a recorder keeping ``retention_days``."""
    recorder = Recorder(
        redis_url, prefix=PREFIX, flush_interval=3600, retention_days=retention_days
    )
    visit(recorder, "/")
    recorder.close()


@pytest.fixture
def thirty(redis_url: str, client: redis.Redis) -> str:
    """A site recording with retention_days=30: ``/`` today, ``/old`` x4 20 days ago, ``/older``
    x8 45 days ago (past the retention)."""
    record(redis_url, 30)
    put_past(client, PREFIX, 20, {"/old": 4})
    put_past(client, PREFIX, 45, {"/older": 8})
    return redis_url


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
    with Stats(redis_url, prefix=PREFIX) as stats:
        assert stats.retention_days == int(stored)


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


# -- Stats reads it -----------------------------------------------------------------------------


def test_a_range_is_cut_at_the_stored_retention(thirty: str) -> None:
    with Stats(thirty, prefix=PREFIX) as stats:
        assert stats.retention_days == 30
        assert stats.top("paths", days=60) == [("/old", 4), ("/", 1)]
        assert stats.total(days=60) == 5
        snapshot = stats.snapshot(days=60)
    assert snapshot.clipped
    assert (snapshot.first, snapshot.last) == (day_label(T - 30), day_label(T))
    assert len(snapshot.series.points) == 31
    assert snapshot.page_views == 5


@pytest.mark.parametrize(
    ("retention_days", "used", "first", "page_views", "clipped"),
    [
        pytest.param(7, 7, T - 7, 1, True, id="shorter than the stored one"),
        pytest.param(60, 60, T - 59, 13, False, id="longer than the stored one"),
        pytest.param(None, 30, T - 30, 5, True, id="not given: the stored one"),
    ],
)
def test_a_given_retention_wins(
    thirty: str,
    retention_days: int | None,
    used: int,
    first: int,
    page_views: int,
    clipped: bool,
) -> None:
    with Stats(thirty, prefix=PREFIX, retention_days=retention_days) as stats:
        assert stats.retention_days == used
        snapshot = stats.snapshot(days=60)
    assert (snapshot.first, snapshot.page_views, snapshot.clipped) == (
        day_label(first),
        page_views,
        clipped,
    )


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param(None, 90, id="no meta hash"),
        pytest.param({"timezone": "UTC"}, 90, id="written by an older version"),
        pytest.param({"retention_days": "30"}, 30, id="stored"),
        pytest.param({"retention_days": "3650"}, 3650, id="ten years"),
        pytest.param({"retention_days": "abc"}, 90, id="not a number"),
        pytest.param({"retention_days": "0"}, 90, id="zero"),
        pytest.param({"retention_days": "-30"}, 90, id="negative"),
        pytest.param({"retention_days": "30.5"}, 90, id="fraction"),
        pytest.param({"retention_days": " 30"}, 90, id="space"),
        pytest.param({"retention_days": "\u0663\u0660"}, 90, id="non-ASCII digits"),
        pytest.param({"retention_days": "1" * 10}, 90, id="ten digits"),
        pytest.param({"retention_days": ""}, 90, id="empty"),
        pytest.param({"retention_days": b"\xff30"}, 90, id="not UTF-8"),
    ],
)
def test_what_is_stored_is_read_or_ignored(
    redis_url: str, client: redis.Redis, meta: dict[str, str | bytes] | None, expected: int
) -> None:
    put_past(client, PREFIX, 0, {"/": 1})
    for field, value in (meta or {}).items():
        client.hset(META, field, value)
    with Stats(redis_url, prefix=PREFIX) as stats:
        assert stats.retention_days == expected
        assert stats.span(60).first == max(T - expected, T - 59)
        assert stats.total(days=60) == 1


def test_zone_and_retention_in_one_command_then_again_after_a_while(
    redis_url: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.hset(META, mapping={"timezone": "UTC", "retention_days": "30"})
    client.config_resetstat()
    with Stats(redis_url, prefix=PREFIX) as stats:
        assert stats.span(60).first == T - 30
        assert stats.span(60).first == T - 30
        calls = client.info("commandstats")
        assert calls["cmdstat_hmget"]["calls"] == 1
        assert "cmdstat_hget" not in calls
        # A worker started since with a longer retention raised it: read again after a while,
        # while the zone stays the one the reader began with.
        client.hset(META, mapping={"timezone": "Asia/Tokyo", "retention_days": "120"})
        assert stats.retention_days == 30
        monkeypatch.setattr(stats_module, "_RETENTION_SECONDS", 0.0)
        assert stats.retention_days == 120
        assert stats.zone == "UTC"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param(7, 7, id="a number"),
        pytest.param(None, 30, id="None: the stored one again"),
    ],
)
def test_the_attribute_can_still_be_set(thirty: str, given: int | None, expected: int) -> None:
    with Stats(thirty, prefix=PREFIX, retention_days=60) as stats:
        stats.retention_days = given
        assert stats.retention_days == expected
        with pytest.raises(ValueError, match="retention_days must be at least 1"):
            stats.retention_days = 0
        assert stats.retention_days == expected


@pytest.mark.parametrize(
    "retention_days",
    [
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(True, id="a bool"),
        pytest.param(2.5, id="a float"),
        pytest.param("30", id="text"),
    ],
)
def test_a_bad_retention_is_refused(client: redis.Redis, retention_days: Any) -> None:
    with pytest.raises(ValueError, match="retention_days"):
        Stats(client=client, retention_days=retention_days)


# -- the command line and the dashboard ----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "first", "page_views", "clipped"),
    [
        pytest.param([], T - 30, 5, True, id="the stored retention"),
        pytest.param(["--retention-days", "60"], T - 59, 13, False, id="--retention-days 60"),
        pytest.param(["--retention-days", "7"], T - 7, 1, True, id="--retention-days 7"),
    ],
)
def test_report_cuts_at_the_stored_retention(
    thirty: str,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    first: int,
    page_views: int,
    clipped: bool,
) -> None:
    argv = ["report", "--redis-url", thirty, "--prefix", PREFIX, "--days", "60", *options]
    assert main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["first"], document["page_views"], document["clipped"]) == (
        day_label(first),
        page_views,
        clipped,
    )
    assert main(argv) == 0
    text = capsys.readouterr().out
    note = f"  (cut at the retention: the days before {day_label(first)} have expired)"
    assert (note in text.splitlines()) is clipped


def test_report_help_names_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert "default: what the recorder stored, else 90" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    ("retention_days", "first", "page_views", "clipped"),
    [
        pytest.param(None, T - 30, 5, True, id="the stored retention"),
        pytest.param(60, T - 59, 13, False, id="retention_days=60"),
    ],
)
def test_dashboard_cuts_at_the_stored_retention(
    thirty: str,
    client: redis.Redis,
    retention_days: int | None,
    first: int,
    page_views: int,
    clipped: bool,
) -> None:
    dashboard = app(client=client, prefix=PREFIX, trust_local=True, retention_days=retention_days)
    with TestClient(dashboard, base_url="http://127.0.0.1:8050", client=("127.0.0.1", 40000)) as tc:
        data = tc.get("/api.json?days=60").json()
        page = tc.get("/?days=60").text
    assert (data["first"], data["page_views"], data["clipped"]) == (
        day_label(first),
        page_views,
        clipped,
    )
    assert ("are no longer kept (the recorder's retention)" in page) is clipped
