"""Members Redis cannot take: text with a lone surrogate has no UTF-8 form.

Flask's ``get_json()`` turns ``"\\ud800"`` in a JSON body into a lone surrogate, and a server
that decodes with ``surrogateescape`` leaves them in the environ. Where text comes in (`track`,
request facts) each lone surrogate becomes U+FFFD; anything that still reaches the writer is
dropped, counted and logged. Either way the other counts keep flowing.
"""

from __future__ import annotations

import logging

import pytest
import redis

from wsgi_analytics import Recorder
from wsgi_analytics.request.facts import Facts, from_environ, from_scope, valid_text

from .helpers import zset

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        pytest.param("plain", "plain", id="ascii"),
        pytest.param("café ☕ 😀", "café ☕ 😀", id="valid unicode"),
        pytest.param("abc\ud800", "abc\ufffd", id="lone high surrogate"),
        pytest.param("\udce9t\udce9", "\ufffdt\ufffd", id="surrogateescape bytes"),
        pytest.param("\ud83d\ude00", "😀", id="a pair split in two code points"),
        pytest.param("\ude00\ud83d", "\ufffd\ufffd", id="halves in the wrong order"),
    ],
)
def test_valid_text(text: str, valid: str) -> None:
    assert valid_text(text) == valid
    valid.encode()


def test_a_tracked_lone_surrogate_is_repaired_and_blocks_nothing(
    recorder: Recorder, client: redis.Redis
) -> None:
    recorder.track("searches", "abc\ud800")
    recorder.track("searches", "abc\ud800")
    recorder.track("searches", "plain")
    recorder.flush()
    recorder.track("searches", "later")
    recorder.flush()
    assert zset(client, "searches") == {"abc\ufffd": 2.0, "plain": 1.0, "later": 1.0}
    assert recorder.pending == 0
    assert recorder.dropped == 0


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(
            from_environ(
                {
                    "REQUEST_METHOD": "GET",
                    "PATH_INFO": "/caf\udce9/",  # decoded with surrogateescape
                    "HTTP_HOST": "example.com",
                    "HTTP_USER_AGENT": CHROME + "\udcff",
                    "REMOTE_ADDR": "192.0.2.1",
                }
            ),
            id="WSGI",
        ),
        pytest.param(
            from_scope(
                {
                    "type": "http",
                    "method": "GET",
                    "path": "/caf\udce9/",
                    "headers": [(b"user-agent", CHROME.encode() + b"\xff")],
                    "client": ("192.0.2.1", 1234),
                }
            ),
            id="ASGI",
        ),
    ],
)
def test_request_text_from_a_lax_server_is_repaired(
    facts: Facts, recorder: Recorder, client: redis.Redis
) -> None:
    assert facts.path == "/caf\ufffd/"
    recorder.record(facts, 200)
    recorder.flush()
    assert zset(client, "paths") == {"/caf\ufffd/": 1.0}
    assert client.pfcount(next(iter(client.scan_iter("{analytics:uniques}:2*")))) == 1


def test_the_writer_drops_what_slipped_through_and_writes_the_rest(
    recorder: Recorder, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """Facts built by hand skip the repair: the writer is the backstop."""
    good = from_environ(
        {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/ok/",
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": CHROME,
            "REMOTE_ADDR": "192.0.2.1",
        }
    )
    bad = good._replace(path="/x\ud800/", client="192.0.2.2")
    with caplog.at_level(logging.ERROR, logger="wsgi_analytics"):
        recorder.record(good, 200)
        recorder.record(bad, 200)
        recorder.flush()
        recorder.record(good, 200)
        recorder.flush()
    assert zset(client, "paths") == {"/ok/": 2.0}
    assert zset(client, "statuses") == {"200": 3.0}
    assert recorder.dropped == 1
    assert recorder.pending == 0
    assert "cannot be encoded" in caplog.text
    # The visitor of the dropped path still counts: two distinct visitors.
    assert client.pfcount(next(iter(client.scan_iter("{analytics:uniques}:2*")))) == 2
