"""What the recorder queues is invisible to the garbage collector: a few thousand queued requests
a second must neither be promoted into the oldest generation nor bring on the collections that
promote what the requests in flight hold (each full collection of a web app's heap stalls every
request for tens of ms)."""

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
        young = gc.get_count()[0]
        for status in (200, 404, 500) * 400:
            recorder.record(from_environ(ENVIRON), status, content_type="text/html")
        # Not one tracked object more: queued requests never bring on a collection, which
        # would promote whatever the requests in flight hold at that instant.
        assert gc.get_count()[0] - young < 10
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
    assert type(packed) is bytes
    assert unpack(packed) == event
    assert type(unpack(packed).facts) is type(event.facts)
