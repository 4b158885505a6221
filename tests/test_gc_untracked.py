"""What the recorder queues is invisible to the garbage collector once a young collection has
seen it: a few thousand queued requests a second must not be promoted into the oldest
generation (each full collection of a web app's heap stalls every request for tens of ms)."""

from __future__ import annotations

import gc

from wsgi_analytics import Recorder
from wsgi_analytics.recording.pending import pack, unpack
from wsgi_analytics.recording.rules import Event
from wsgi_analytics.request.facts import from_environ

ENVIRON = {
    "REQUEST_METHOD": "GET",
    "PATH_INFO": "/blog/post/",
    "QUERY_STRING": "utm_source=news",
    "HTTP_HOST": "example.com",
    "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "HTTP_REFERER": "https://www.google.com/",
    "REMOTE_ADDR": "198.51.100.7",
}


def test_queued_requests_are_untracked_after_a_young_collection(redis_url: str) -> None:
    recorder = Recorder(redis_url, flush_interval=3600)
    try:
        recorder.record(from_environ(ENVIRON), 200)  # the flusher thread, started once
        gc.collect()
        before = len(gc.get_objects())
        for status in (200, 404, 500) * 400:
            recorder.record(from_environ(ENVIRON), status, content_type="text/html")
        gc.collect(0)
        assert recorder.queued == 1201
        # Named tuples stay tracked for good: queued as Events, these were 2,400 more objects.
        assert len(gc.get_objects()) - before < 100
    finally:
        recorder.close()


def test_pack_and_unpack_round_trip() -> None:
    event = Event(
        493_000, from_environ(ENVIRON), 200, False, "198.51.100.7", "text/html", None, 0.25
    )
    packed = pack(event)
    assert type(packed) is tuple
    assert unpack(packed) == event
    assert type(unpack(packed).facts) is type(event.facts)
