"""The write path's parts against the reference: the batch drain counts exactly what
`increments` says, and the writer keeps keys bounded, fails a bad key alone, and applies each
batch once."""

from __future__ import annotations

import collections
import random
from collections import deque

import pytest
import redis

from wsgi_analytics import Recorder
from wsgi_analytics.keys import Keys, today
from wsgi_analytics.recording.pairs import PAIRED
from wsgi_analytics.recording.pending import Count, Pending, pack
from wsgi_analytics.recording.rules import UTC, Event, Setup, increments, viewed
from wsgi_analytics.recording.writer import Writer
from wsgi_analytics.request.agents import default_classifier
from wsgi_analytics.request.clock import SiteClock
from wsgi_analytics.request.facts import Facts
from wsgi_analytics.request.identity import client_identity

AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "",
]


def _events(count: int, seed: int) -> list[Event]:
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        facts = Facts(
            method=rng.choice(["GET", "GET", "GET", "POST", "HEAD"]),
            path=rng.choice(["/", "/a/", "/b/", "/c/d", "/users/42", "/s.css", "/" + "x" * 600]),
            host="example.com",
            referrer=rng.choice(["", "https://www.google.com/", "https://example.com/x", "junk"]),
            user_agent=rng.choice(AGENTS),
            client=rng.choice(["198.51.100.7", "203.0.113.9", "2001:db8::1", None]),
            forwarded_for=rng.choice(["", "192.0.2.1", "192.0.2.1, 10.0.0.1"]),
            ch_platform=rng.choice(["", '"Windows"']),
            ch_mobile=rng.choice(["", "?0", "?1"]),
            query=rng.choice(["", "utm_source=news&utm_medium=email", "gclid=1", "q=é"]),
            country=rng.choice(["", "fr", "XX", "De"]),
        )
        status = rng.choice([200, 200, 304, 301, 404, 500, 429])
        who = client_identity(facts.client, facts.forwarded_for, rng.choice([0, 1]))
        when = rng.choice([493_000, 493_001, 493_030]) * 3600 + rng.randrange(3600)
        content_type = rng.choice([None, "text/html; charset=utf-8", "text/css", "image/png"])
        route = rng.choice([None, None, "/users/{id}", "/ü/{x}"])
        duration = rng.choice([0.0, 0.0004, 0.012, 0.3, 2.5])
        events.append(Event(when, facts, status, status == 429, who, content_type, route, duration))
    return events


def _lookup(address: str) -> str:
    return {"198.51.100.7": "FR", "203.0.113.9": "BR"}.get(address, "(unknown)")


SETUPS = [
    pytest.param(UTC, id="no-countries"),
    pytest.param(Setup(SiteClock("Asia/Kolkata"), _lookup), id="countries-looked-up"),
    pytest.param(Setup(SiteClock("America/New_York"), None, True), id="countries-from-a-header"),
]


@pytest.mark.parametrize("setup", SETUPS)
@pytest.mark.parametrize("seed", range(5))
def test_batch_drain_counts_what_increments_says(seed: int, setup: Setup) -> None:
    """Counts, visitors and drill-down views, in one drain and in steps of a few requests."""
    classify = default_classifier()
    events = _events(500, seed)
    expected: collections.Counter[tuple[str, int, str]] = collections.Counter()
    visitors: dict[int, set[str]] = {}
    views: collections.Counter[tuple[int, frozenset[tuple[str, str]]]] = collections.Counter()
    for event in events:
        agent = classify(event.facts.user_agent, event.facts.ch_platform, event.facts.ch_mobile)
        day = setup.clock.day(event.time)
        counted = increments(event, agent, setup)
        for dimension, member in counted:
            expected[dimension, day, member] += 1
        if viewed(event, agent):
            who = event.client_id
            visitors.setdefault(day, set()).add(f"{who or '-'}\n{event.facts.user_agent}")
            views[day, frozenset(pair for pair in counted if pair[0] in PAIRED)] += 1
    counts = deque([Count((5700 * 24 + 5) * 3600, "signups", "pro", 3)])
    expected["signups", setup.clock.day((5700 * 24 + 5) * 3600), "pro"] += 3
    for step in (None, 7):
        queue = deque(map(pack, events))
        pending = Pending(100_000, setup=setup)
        while queue:
            pending.drain(queue, classify, step)
        pending.drain_counts(deque(counts))
        assert pending.counts == dict(expected)
        assert pending.visitors == visitors
        drained: collections.Counter[tuple[int, frozenset[tuple[str, str]]]] = collections.Counter()
        for (day, view), amount in pending.pairs.counts.items():
            assert len(set(view)) == len(view)
            drained[day, frozenset(view)] += amount
        assert drained == views


def test_keys_are_trimmed_lazily_but_stay_bounded(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, max_members=80)
    slack = 80 // 8  # a key is trimmed once max_members // 8 members were written since
    key = recorder.keys.all("paths")
    sizes = []
    for flush in range(40):
        for index in range(5):
            recorder.record(_view(f"/p{flush}-{index}/"), 200)
        recorder.flush()
        sizes.append(client.zcard(key))
    recorder.close()
    assert max(sizes) <= 80 + slack
    assert any(size > 80 for size in sizes)  # trimmed less often than every flush
    assert client.zcard(key) == 80  # close trims what is left
    assert client.zcard(recorder.keys.day("paths", today())) == 80


def _view(path: str) -> Facts:
    return Facts("GET", path, "example.com", "", AGENTS[0], "198.51.100.7", "", "", "")


@pytest.mark.slow
def test_a_key_of_the_wrong_type_fails_alone(
    redis_url: str, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The batched increments (one EVAL per dimension and day) keep the per-command behaviour:
    a key someone overwrote with a string is reported, and every other key is still counted."""
    recorder = Recorder(redis_url, flush_interval=3600)
    client.set(recorder.keys.all("paths"), "not a sorted set")
    for path in ("/a/", "/b/", "/a/"):
        recorder.record(_view(path), 200)
    with caplog.at_level("WARNING", logger="wsgi_analytics"):
        recorder.flush()
    recorder.close()
    assert client.zscore(recorder.keys.day("paths", today()), "/a/") == 2.0
    assert client.zscore(recorder.keys.day("paths", today()), "/b/") == 1.0
    assert client.zscore(recorder.keys.all("browsers"), "Chrome") == 3.0
    assert client.get(recorder.keys.all("paths")) == "not a sorted set"
    assert "WRONGTYPE" in caplog.text
    assert "WRONGTYPE" in caplog.text


def test_visitors_of_a_day_long_past_are_still_written(client: redis.Redis, redis_url: str) -> None:
    """A flush that comes days late (a long outage, or the demo's history) still writes the
    day's visitors: its salt must not be set with an expiry that has already passed."""
    day = today() - 3
    facts = Facts("GET", "/", "example.com", "", AGENTS[0], "198.51.100.7", "", "", "")
    pending = Pending(1000)
    pending.drain(
        deque([pack(Event((day * 24 + 5) * 3600, facts, 200, False, "198.51.100.7"))]),
        default_classifier(),
    )
    source = redis.Redis.from_url(redis_url)
    try:
        Writer(source, Keys(), retention_days=90, max_members=100).write(pending)
    finally:
        source.close()
    keys = Keys()
    assert client.pfcount(keys.uniques(day)) == 1
    assert client.zscore(keys.day("paths", day), "/") == 1.0
    assert 0 < client.ttl(keys.salt(day)) <= 3600 + 5
    assert not pending.visitors
    assert len(pending) == 0
