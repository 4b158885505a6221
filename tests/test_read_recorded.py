"""End to end: page views recorded through the WSGI middleware by real recorders, several worker
processes among them, read back by `Stats`: visitors now, filters both ways, the site's zone."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable
from typing import Any

import redis

from wsgi_analytics import Recorder, WSGIAnalytics
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.request.clock import SiteClock

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


def html(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<p>hi</p>"]


def visit(app: Any, path: str, client: str, referrer: str = "", query: str = "") -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": "shop.example",
        "SERVER_PORT": "80",
        "HTTP_HOST": "shop.example",
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": client,
        "HTTP_USER_AGENT": FIREFOX,
        "HTTP_REFERER": referrer,
    }
    body = app(environ, lambda status, headers, exc_info=None: lambda data: None)
    b"".join(body)
    getattr(body, "close", lambda: None)()


def worker(url: str, clients: list[str], zone: str) -> None:
    """One worker process: its own recorder, page views from ``clients``, a clean exit."""
    recorder = Recorder(url, flush_interval=60, timezone=zone)
    app = WSGIAnalytics(html, recorder=recorder)
    for client in clients:
        visit(app, "/", client)
    recorder.close()


def test_visitors_now_from_several_worker_processes(client: redis.Redis, redis_url: str) -> None:
    jobs = [
        [f"198.51.100.{n}" for n in range(1, 11)],
        [f"198.51.100.{n}" for n in range(6, 16)],  # 5 of them seen by the first worker too
        [f"203.0.113.{n}" for n in range(1, 8)],
    ]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=worker, args=(redis_url, job, "UTC")) for job in jobs]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    with Stats(client=client) as stats:
        assert stats.live(5) == 15 + 7
        assert stats.uniques() == 15 + 7
        assert stats.total() == 10 + 10 + 7


def test_filters_both_ways_from_recorded_page_views(client: redis.Redis, redis_url: str) -> None:
    recorder = Recorder(redis_url, flush_interval=60)
    app = WSGIAnalytics(html, recorder=recorder)
    google = "https://www.google.fr/search?q=shop"
    views = [
        ("/pricing/", "192.0.2.1", google, ""),
        ("/pricing/", "192.0.2.2", google, ""),
        ("/pricing/", "192.0.2.3", "https://news.ycombinator.com/item?id=1", ""),
        ("/", "192.0.2.4", google, ""),
        ("/", "192.0.2.5", "", ""),
        ("/blog/", "192.0.2.6", "", "utm_source=newsletter&utm_medium=email"),
    ]
    for path, who, referrer, query in views:
        visit(app, path, who, referrer, query)
    recorder.close()
    with Stats(client=client) as stats:
        assert stats.top("sources", where=("paths", "/pricing/")) == [
            ("Google", 2),
            ("Hacker News", 1),
        ]
        assert stats.top("paths", where=("sources", "Google")) == [("/pricing/", 2), ("/", 1)]
        assert stats.top("paths", where=("sources", "newsletter")) == [("/blog/", 1)]
        assert stats.total(where=("paths", "/pricing/")) == 3
        assert stats.total(where=("sources", "Google")) == 3
        snapshot = stats.snapshot(where=("sources", "Google"))
        assert (snapshot.page_views, snapshot.uniques) == (3, None)
        assert snapshot.tables["browsers"].rows == [("Firefox", 3)]
        assert sum(count for _, count in snapshot.series.points) == 3


def test_days_in_the_zone_the_recorder_stored(client: redis.Redis, redis_url: str) -> None:
    zone = "Pacific/Kiritimati"  # UTC+14: its today is never UTC's yesterday
    worker(redis_url, ["192.0.2.1", "192.0.2.2"], zone)
    clock = SiteClock(zone)
    with Stats(client=client) as stats:
        assert stats.zone == zone
        assert stats.today() == clock.today()
        assert stats.top("paths") == [("/", 2)]
        snapshot = stats.snapshot()
        assert snapshot.last == clock.day_label(clock.today())
        assert snapshot.series.unit == "hour"
        assert sum(count for _, count in snapshot.series.points) == 2
        assert snapshot.series.points[0][0] == f"{snapshot.last}T00"
