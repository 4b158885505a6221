"""The benchmark scripts run end to end on a tiny input (no timing is asserted anywhere), and the
recorder's optimised batch drain counts exactly what the reference `increments` says."""

from __future__ import annotations

import collections
import json
import os
import random
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import pytest
import redis

from wsgi_analytics import Recorder, _log
from wsgi_analytics.keys import today
from wsgi_analytics.recording.pending import Pending
from wsgi_analytics.recording.rules import Event, increments, viewed
from wsgi_analytics.request.agents import default_classifier
from wsgi_analytics.request.facts import Facts
from wsgi_analytics.request.identity import client_identity

ROOT = Path(__file__).resolve().parent.parent
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
            path=rng.choice(["/", "/a/", "/b/", "/c/d"]),
            host="example.com",
            referrer=rng.choice(["", "https://www.google.com/", "https://example.com/x", "junk"]),
            user_agent=rng.choice(AGENTS),
            client=rng.choice(["198.51.100.7", "203.0.113.9", "2001:db8::1", None]),
            forwarded_for=rng.choice(["", "192.0.2.1", "192.0.2.1, 10.0.0.1"]),
            ch_platform=rng.choice(["", '"Windows"']),
            ch_mobile=rng.choice(["", "?0", "?1"]),
        )
        status = rng.choice([200, 200, 304, 301, 404, 500, 429])
        events.append(
            Event(
                rng.choice([493_000, 493_001, 493_030]),
                facts,
                status,
                status == 429,
                rng.choice([0, 1]),
            )
        )
    return events


@pytest.mark.parametrize("seed", range(5))
def test_batch_drain_counts_what_increments_says(seed: int) -> None:
    classify = default_classifier()
    events = _events(500, seed)
    expected: collections.Counter[tuple[str, int, str]] = collections.Counter()
    visitors: dict[int, set[str]] = {}
    for event in events:
        agent = classify(event.facts.user_agent, event.facts.ch_platform, event.facts.ch_mobile)
        day = event.hour // 24
        for dimension, member in increments(event, agent):
            expected[dimension, day, member] += 1
        if viewed(event, agent):
            who = client_identity(
                event.facts.client, event.facts.forwarded_for, event.trusted_proxies
            )
            visitors.setdefault(day, set()).add(f"{who or '-'}\n{event.facts.user_agent}")
    queue: deque[Any] = deque(events)
    queue.append(("signups", 5700, "pro", 3))
    expected["signups", 5700, "pro"] += 3
    pending = Pending(100_000)
    pending.drain(queue, classify)
    assert not queue
    assert pending.counts == dict(expected)
    assert pending.visitors == visitors


def test_keys_are_trimmed_lazily_but_stay_bounded(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, max_members=80)
    slack = recorder._writer.trim_slack
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


def _run_benchmarks(results: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--results", str(results), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_benchmarks_run_on_a_tiny_input(tmp_path: Path) -> None:
    done = _run_benchmarks(tmp_path, "--skip", "http,latency")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("inprocess", "agents", "redis", "memory", "throttle", "summary"):
        assert (tmp_path / f"{name}.json").exists(), name
    inprocess = json.loads((tmp_path / "inprocess.json").read_text())
    assert set(inprocess["results"]) == {"wsgi", "asgi", "fastapi", "flask"}
    assert set(inprocess["results"]["wsgi"]) == {"bare", "wrapped", "naive"}
    # every peer ran (the bench extra installs them), or says why not
    ran = {name for variants in inprocess["results"].values() for name in variants}
    assert ran | {key.partition("/")[2] for key in inprocess["skipped"]} >= {
        "prometheus", "starlette_exporter", "opentelemetry", "flask_exporter"
    }  # fmt: skip
    throttle = json.loads((tmp_path / "throttle.json").read_text())
    assert set(throttle["versus"]) >= {"ours", "limits"}
    redis_load = json.loads((tmp_path / "redis.json").read_text())
    assert redis_load["results"][0]["commands"] > 0  # the flusher really wrote
    assert "## summary" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_http_benchmarks_on_a_tiny_input(tmp_path: Path) -> None:
    done = _run_benchmarks(tmp_path, "--only", "http,latency")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    http = json.loads((tmp_path / "http.json").read_text())
    for server in ("uvicorn", "gunicorn"):
        variants = http["results"][server]
        assert all(variants[v]["requests_per_s"] > 0 for v in ("bare", "wrapped", "naive"))
        assert variants["wrapped"]["non_2xx"] == 0
        assert variants["wrapped"]["redis_commands"] > 0  # counted, and written at shutdown
    latency = json.loads((tmp_path / "latency.json").read_text())
    rates = latency["results"]["uvicorn"]["rates"]
    for variants in rates.values():
        for variant in ("bare", "wrapped"):
            assert variants[variant]["errors"] == 0
            assert variants[variant]["non_2xx"] == 0
            assert variants[variant]["probe"]["thread_lag"]["count"] > 0  # the probe ticked


def test_wrk_script_rotates_the_stream() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from benchmarks import traffic
    finally:
        sys.path.remove(str(ROOT))
    script = traffic.wrk_script(50)
    assert script.count("Mozilla/5.0") > 10
    assert "request = function()" in script
    requests = list(traffic.stream(200, distinct_paths=20))
    assert requests == list(traffic.stream(200, distinct_paths=20))  # reproducible
    assert len({r.path for r in requests}) > 5
    assert len(set(traffic.distinct_agents(300))) == 300


def test_a_key_of_the_wrong_type_fails_alone(
    redis_url: str, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The batched increments (one EVAL per dimension and day) keep the per-command behaviour:
    a key someone overwrote with a string is reported, and every other key is still counted."""
    _log._last.pop("command", None)  # the warning is rate-limited per process
    recorder = Recorder(redis_url, flush_interval=3600)
    client.set(recorder.keys.all("paths"), "not a sorted set")
    for path in ("/a/", "/b/", "/a/"):
        recorder.record(_view(path), 200)
    with caplog.at_level("WARNING", logger="wsgi_analytics"):
        recorder.flush()
    recorder.close()
    _log._last.pop("command", None)  # leave the limiter as other tests expect it
    assert client.zscore(recorder.keys.day("paths", today()), "/a/") == 2.0
    assert client.zscore(recorder.keys.day("paths", today()), "/b/") == 1.0
    assert client.zscore(recorder.keys.all("browsers"), "Chrome") == 3.0
    assert client.get(recorder.keys.all("paths")) == "not a sorted set"
    assert "WRONGTYPE" in caplog.text
