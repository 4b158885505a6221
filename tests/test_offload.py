"""``Recorder(offload=True)``: the flusher's work in a helper process, with the same numbers.

A real helper process each time (the worker's own interpreter, started by the recorder), real
Redis servers; the helper is killed for real where its death is the point.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any

import pytest
import redis

from wsgi_analytics import Recorder, WSGIAnalytics
from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.keys import DIMENSIONS, Keys

from .helpers import zscores
from .test_acquisition import CHROME, FIREFOX, environ, serve

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

# (path, query, referrer, client, agent): page views from search, social and direct visits,
# a campaign, a bot, an asset and a 404, from several clients.
STREAM: list[tuple[str, str, str, str, str]] = [
    ("/", "", "https://www.google.com/", "8.8.8.8", CHROME),
    ("/", "", "", "8.8.4.4", FIREFOX),
    ("/pricing/", "utm_source=newsletter&utm_medium=email", "", "1.1.1.1", CHROME),
    ("/blog/1/", "", "https://news.ycombinator.com/item?id=1", "9.9.9.9", FIREFOX),
    ("/blog/1/", "", "https://t.co/x", "8.8.8.8", CHROME),
    ("/", "", "", "66.249.66.1", GOOGLEBOT),
    ("/static/site.css", "", "https://shop.example/", "8.8.8.8", CHROME),
    ("/missing/", "", "", "1.1.1.1", CHROME),
]


def site(env: dict[str, Any], start_response: Any) -> list[bytes]:
    path = env["PATH_INFO"]
    if path.startswith("/missing"):
        start_response("404 Not Found", [("Content-Type", "text/html")])
    elif path.endswith(".css"):
        start_response("200 OK", [("Content-Type", "text/css")])
    else:
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"hi"]


def drive(recorder: Recorder, repeat: int = 5) -> None:
    app = WSGIAnalytics(site, recorder=recorder)
    for _ in range(repeat):
        for path, query, referrer, client, agent in STREAM:
            serve(app, environ(path, query=query, referrer=referrer, client=client, agent=agent))


def day_sets(client: redis.Redis, prefix: str) -> dict[str, dict[str, float]]:
    keys = Keys(prefix)
    day = int(time.time() // 86400)
    return {d: zscores(client, keys.day(d, day)) for d in DIMENSIONS}


def wait_for(condition: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_the_same_numbers_as_in_process(redis_url: str, client: redis.Redis) -> None:
    here = Recorder(redis_url, prefix="here", flush_interval=60)
    there = Recorder(redis_url, prefix="there", flush_interval=60, offload=True)
    for recorder in (here, there):
        drive(recorder)
        recorder.track("signups", "free", 2)
        recorder.flush()
    expected = day_sets(client, "here")
    assert expected["paths"] == {"/": 10, "/pricing/": 5, "/blog/1/": 10}  # not the bot's
    assert expected["bots"] == {"Googlebot": 5}
    assert day_sets(client, "there") == expected
    keys = {"here": Keys("here"), "there": Keys("there")}
    day = int(time.time() // 86400)
    assert zscores(client, keys["there"].day("signups", day)) == {"free": 2}
    assert client.pfcount(keys["there"].uniques(day)) == client.pfcount(keys["here"].uniques(day))
    here.close()
    there.close()


def test_close_writes_everything_and_the_helper_leaves(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, prefix="closing", flush_interval=3600, offload=True)
    drive(recorder, repeat=1)
    wait_for(lambda: recorder._offload is not None, "the helper never started")
    helper = recorder._offload
    assert helper is not None
    recorder.close()  # no flush before: the queue goes over at close
    assert helper.process.returncode == 0
    assert day_sets(client, "closing")["paths"] == {"/": 2, "/pricing/": 1, "/blog/1/": 2}


def test_an_outage_is_reported_and_retried(private_server: EmbeddedServer) -> None:
    recorder = Recorder(private_server.url, prefix="away", flush_interval=0.2, offload=True)
    drive(recorder, repeat=1)
    recorder.flush()
    private_server.stop()
    drive(recorder, repeat=1)
    with pytest.raises(redis.ConnectionError):
        recorder.flush()  # the helper's error, as the in-process flush raises it
    wait_for(lambda: recorder.pending > 0, "the helper never said what it holds")
    private_server.start()
    wait_for(lambda: recorder.pending == 0, "the held counts were never written")
    client = redis.Redis.from_url(private_server.url, decode_responses=True)
    # the server came back empty (no persistence): what it holds is what the helper held
    assert day_sets(client, "away")["paths"] == {"/": 2, "/pricing/": 1, "/blog/1/": 2}
    assert recorder.dropped == 0
    client.close()
    recorder.close()


def test_a_dead_helper_is_counted_and_the_recorder_goes_on_in_process(
    redis_url: str, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Recorder(redis_url, prefix="orphan", flush_interval=3600, offload=True)
    drive(recorder, repeat=1)
    recorder.flush()
    helper = recorder._offload
    assert helper is not None
    with caplog.at_level(logging.ERROR, logger="wsgi_analytics"):
        os.kill(helper.process.pid, signal.SIGKILL)
        wait_for(lambda: recorder._offload is None, "the helper's death went unnoticed")
    assert "the offload process exited" in caplog.text
    drive(recorder, repeat=1)
    recorder.flush()  # in process now
    assert day_sets(client, "orphan")["paths"] == {"/": 4, "/pricing/": 2, "/blog/1/": 4}
    recorder.close()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"client": "made below"}, id="client"),
        pytest.param({"classifier": lambda agent, platform, mobile: None}, id="classifier"),
    ],
)
def test_what_cannot_cross_to_another_process_is_refused(
    redis_url: str, options: dict[str, Any]
) -> None:
    if options.get("client"):
        options = {"client": redis.Redis.from_url(redis_url)}
    with pytest.raises(ValueError, match="offload=True needs redis_url"):
        Recorder(redis_url if "client" not in options else None, offload=True, **options)


def test_without_a_python_interpreter_it_flushes_in_process(
    redis_url: str,
    client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under uWSGI or mod_wsgi ``sys.executable`` is the server's binary: no helper is started
    with it, the recorder says so and counts in process."""
    monkeypatch.setattr(sys, "executable", "/usr/bin/uwsgi")
    with caplog.at_level(logging.ERROR, logger="wsgi_analytics"):
        recorder = Recorder(redis_url, prefix="nohelper", flush_interval=3600, offload=True)
        drive(recorder, repeat=1)
        wait_for(lambda: recorder._offload_config is None, "the recorder kept waiting")
    assert "is not a Python interpreter" in caplog.text
    assert recorder._offload is None
    recorder.flush()
    assert day_sets(client, "nohelper")["paths"] == {"/": 2, "/pricing/": 1, "/blog/1/": 2}
    recorder.close()
