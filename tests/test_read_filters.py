"""Filtered reads (``where``) in both directions, visitors now from several processes, and the
site's time zone, against a real server. The counts are written straight into the documented
key layout (`wsgi_analytics.keys`), as a backfill would."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import redis

from wsgi_analytics import connection
from wsgi_analytics.keys import Keys, day_label, pair_bucket, pair_member
from wsgi_analytics.reading import stats as stats_module
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.request.clock import SiteClock

from .cluster import ClusterNodes, cluster_nodes

# the fixture, imported for pytest
__all__ = ["cluster_nodes"]

KEYS = Keys("analytics")


def page_views(
    client: connection.Client, day: int | None, views: list[tuple[str, str, str, int]]
) -> None:
    """``views``: (path, source, browser, count) of one day, counted as the recorder does: each
    dimension's own key, and every pair of a filter dimension with another dimension."""
    for path, source, browser, count in views:
        own = {"paths": path, "sources": source, "browsers": browser}
        for name, member in own.items():
            key = KEYS.all(name) if day is None else KEYS.day(name, day)
            client.zincrby(key, count, member)
        for filter_ in ("paths", "sources"):
            w = own[filter_]
            for name, member in own.items():
                if name != filter_:
                    client.zincrby(KEYS.pairs(filter_, day, w), count, pair_member(w, name, member))
            if day is not None:
                hour = f"{day_label(day)}T00"
                client.zincrby(KEYS.pairs(filter_, day, w), count, pair_member(w, "timeline", hour))
        if day is not None:
            client.zincrby(KEYS.all("days"), count, day_label(day))


def neighbour(path: str) -> str:
    """A path whose pairs share ``path``'s bucket key and which contains it."""
    for n in range(10_000):
        other = f"{path}x{n}"
        if pair_bucket(other) == pair_bucket(path):
            return other
    raise AssertionError("no neighbour")


@pytest.fixture
def filtered(client: redis.Redis) -> Iterator[Stats]:
    with Stats(client=client) as stats:
        today = stats.today()
        page_views(
            client,
            today,
            [
                ("/pricing/", "Google", "Firefox", 3),
                ("/pricing/", "Hacker News", "Chrome", 2),
                ("/", "Google", "Firefox", 1),
                ("/", "(direct)", "Chrome", 3),
                (neighbour("/pricing/"), "Google", "Safari", 7),
            ],
        )
        page_views(client, today - 1, [("/pricing/", "Hacker News", "Firefox", 10)])
        page_views(client, today - 3, [("/", "Google", "Firefox", 4)])
        page_views(client, None, [("/pricing/", "Hacker News", "Firefox", 50)])
        yield stats


@pytest.mark.parametrize(
    ("dimension", "where", "days", "expected"),
    [
        pytest.param(
            "sources",
            ("paths", "/pricing/"),
            1,
            [("Google", 3), ("Hacker News", 2)],
            id="paths to sources",
        ),
        pytest.param(
            "sources",
            ("paths", "/pricing/"),
            2,
            [("Hacker News", 12), ("Google", 3)],
            id="paths to sources, 2 days",
        ),
        pytest.param(
            "paths",
            ("sources", "Google"),
            1,
            [("/pricing/x", 7), ("/pricing/", 3), ("/", 1)],
            id="sources to paths",
        ),
        pytest.param(
            "paths",
            ("sources", "Google"),
            7,
            [("/pricing/x", 7), ("/", 5), ("/pricing/", 3)],
            id="sources to paths, 7 days",
        ),
        pytest.param(
            "browsers",
            ("paths", "/pricing/"),
            7,
            [("Firefox", 13), ("Chrome", 2)],
            id="paths to browsers",
        ),
        pytest.param(
            "paths", ("paths", "/pricing/"), 2, [("/pricing/", 15)], id="its own dimension"
        ),
        pytest.param("sources", ("paths", "/nowhere"), 7, [], id="no such member"),
        pytest.param("browsers", ("paths", "/pricing/"), None, [("Firefox", 50)], id="all time"),
    ],
)
def test_top_where(
    filtered: Stats,
    dimension: str,
    where: tuple[str, str],
    days: int | None,
    expected: list[tuple[str, int]],
) -> None:
    rows = filtered.top(dimension, where=where, days=days)
    # the neighbour's name ("/pricing/x123") is found at run time
    shown = [("/pricing/x" if m.startswith("/pricing/x") else m, n) for m, n in rows]
    assert shown == expected


@pytest.mark.parametrize(
    ("where", "days", "total"),
    [
        pytest.param(("paths", "/pricing/"), 1, 5, id="today"),
        pytest.param(("paths", "/pricing/"), 7, 15, id="7 days"),
        pytest.param(("sources", "Hacker News"), 2, 12, id="a source"),
        pytest.param(("sources", "Google"), 7, 15, id="a source, 7 days"),
        pytest.param(("paths", "/pricing/"), None, 50, id="all time"),
    ],
)
def test_total_where(filtered: Stats, where: tuple[str, str], days: int | None, total: int) -> None:
    assert filtered.total(days, where=where) == total


def test_filtered_snapshot(filtered: Stats) -> None:
    today = filtered.today()
    snapshot = filtered.snapshot(days=1, where=("paths", "/pricing/"))
    assert (snapshot.page_views, snapshot.uniques) == (5, None)
    assert snapshot.where == ("paths", "/pricing/")
    assert list(snapshot.tables) == ["paths", "sources", "browsers"] or set(snapshot.tables) <= {
        "paths",
        "referrers",
        "sources",
        "channels",
        "utm_medium",
        "utm_campaign",
        "browsers",
        "platforms",
        "devices",
        "countries",
    }
    assert "statuses" not in snapshot.tables
    assert snapshot.tables["sources"].rows == [("Google", 3), ("Hacker News", 2)]
    assert snapshot.tables["sources"].total == 5
    assert snapshot.tables["paths"].rows == [("/pricing/", 5)]
    assert snapshot.series.unit == "hour"
    assert dict(snapshot.series.points)[f"{day_label(today)}T00"] == 5
    assert snapshot.previous is not None
    assert (snapshot.previous.page_views, snapshot.previous.uniques) == (10, None)
    document = snapshot.to_json()
    assert document["where"] == {"dimension": "paths", "member": "/pricing/"}
    assert document["uniques"] is None

    week = filtered.snapshot(days=7, where=("sources", "Google"))
    assert week.page_views == 15
    assert week.series.unit == "day"
    assert week.series.points[-1] == (day_label(today), 11)
    assert week.series.points[-4] == (day_label(today - 3), 4)


def test_past_days_of_a_filter_are_remembered_a_minute(
    filtered: Stats, client: redis.Redis
) -> None:
    where = ("paths", "/pricing/")
    assert filtered.top("sources", where=where, days=2) == [("Hacker News", 12), ("Google", 3)]
    today = filtered.today()
    late = pair_member("/pricing/", "sources", "Google")
    client.zincrby(KEYS.pairs("paths", today - 1, "/pricing/"), 20, late)  # a late flush
    client.zincrby(KEYS.pairs("paths", today, "/pricing/"), 1, late)
    assert filtered.top("sources", where=where, days=2) == [("Hacker News", 12), ("Google", 4)]
    with Stats(client=client) as fresh:
        assert fresh.top("sources", where=where, days=2) == [("Google", 24), ("Hacker News", 12)]


# -- visitors now ---------------------------------------------------------------------------

NOW = 1_800_000_030.0  # 30 s into a minute
MINUTE = int(NOW // 60)


def add_visitors(url: str, minutes_ago: int, visitors: list[str]) -> None:
    """One worker process adding its visitors to a minute's HyperLogLog."""
    client = redis.Redis.from_url(url)
    client.pfadd(KEYS.live(MINUTE - minutes_ago), *visitors)
    client.close()


def test_live_counts_visitors_of_several_workers(
    client: redis.Redis, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stats_module, "_now", lambda: NOW)
    work = [
        (0, [f"a{n}" for n in range(10)]),
        (0, [f"a{n}" for n in range(5, 15)]),  # 5 seen by the other worker this minute
        (3, [f"b{n}" for n in range(7)]),
        (4, ["a1", "a2"]),  # already counted
        (5, [f"c{n}" for n in range(4)]),  # 5 minutes ago: outside the last 5
        (29, ["d1"]),
        (31, ["e1"]),  # gone (its key expires after 35 minutes; outside 30 anyway)
    ]
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=add_visitors, args=(redis_url, *job)) for job in work]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with Stats(client=client) as stats:
        assert stats.live() == 15 + 7
        assert stats.live(1) == 15
        assert stats.live(6) == 15 + 7 + 4
        assert stats.live(30) == 15 + 7 + 4 + 1
        snapshot = stats.snapshot(days=1, live=5)
        assert snapshot.live == 22
        assert snapshot.to_json()["live"] == 22
        assert stats.snapshot(days=1).live is None


# -- the site's time zone -------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Europe/Paris"])
def test_days_and_hours_in_the_stored_zone(client: redis.Redis, zone: str) -> None:
    client.hset(KEYS.meta(), "timezone", zone)
    clock = SiteClock(zone)
    local_today = clock.today()
    client.zadd(KEYS.day("paths", local_today), {"/here": 2})
    client.zadd(KEYS.day("paths", local_today - 1), {"/yesterday": 1})
    with Stats(client=client) as stats:
        assert stats.zone == zone
        assert stats.today() == local_today
        assert stats.top("paths") == [("/here", 2)]
        assert stats.top("paths", days=2) == [("/here", 2), ("/yesterday", 1)]
        hours = [label for label, _ in stats.timeline(1)]
        assert hours[0] == f"{day_label(local_today)}T00"
        assert hours[-1] == clock.hour_label(time.time())
        snapshot = stats.snapshot(days=1)
        assert snapshot.zone == zone
        assert snapshot.last == day_label(local_today)
        assert snapshot.to_json()["zone"] == zone


def test_far_apart_zones_have_different_todays(client: redis.Redis) -> None:
    east, west = Keys("east"), Keys("west")
    client.hset(east.meta(), "timezone", "Pacific/Kiritimati")  # UTC+14
    client.hset(west.meta(), "timezone", "Pacific/Pago_Pago")  # UTC-11
    with (
        Stats(client=client, prefix="east") as ahead,
        Stats(client=client, prefix="west") as behind,
    ):
        assert ahead.today() - behind.today() in (1, 2)


def test_unknown_or_absent_zone_reads_as_utc(client: redis.Redis) -> None:
    with Stats(client=client) as stats:
        assert stats.zone == "UTC"
    client.hset(KEYS.meta(), "timezone", "Mars/Olympus_Mons")
    with Stats(client=client) as stats:
        assert stats.zone == "UTC"


def test_filtered_hours_are_all_there_whatever_the_limit(
    filtered: Stats, client: redis.Redis
) -> None:
    yesterday = filtered.today() - 1
    key = KEYS.pairs("paths", yesterday, "/pricing/")
    for hour, count in [("10", 4), ("11", 2)]:
        member = pair_member("/pricing/", "timeline", f"{day_label(yesterday)}T{hour}")
        client.zincrby(key, count, member)
    day = as_date(yesterday)
    snapshot = filtered.snapshot(start=day, end=day, limit=1, where=("paths", "/pricing/"))
    points = dict(snapshot.series.points)
    assert len(points) == 24
    assert [points[f"{day_label(yesterday)}T{h}"] for h in ("00", "10", "11", "12")] == [
        10,
        4,
        2,
        0,
    ]
    assert snapshot.page_views == 10
    assert "timeline" not in snapshot.tables


def as_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


# -- Redis Cluster --------------------------------------------------------------------------


@pytest.mark.slow
def test_filters_live_routes_and_dates_on_a_cluster(cluster_nodes: ClusterNodes) -> None:
    cluster_nodes.flush()
    client = connection.connect(cluster_nodes.url, decode_responses=True)
    try:
        with Stats(client=client) as stats:
            today = stats.today()
            page_views(client, today, [("/pricing/", "Google", "Firefox", 3)])
            page_views(client, today - 1, [("/pricing/", "Hacker News", "Chrome", 2)])
            client.pfadd(KEYS.live(int(time.time() // 60)), "a", "b")
            client.zincrby(KEYS.day("routes", today), 5, "GET /x")
            client.zincrby(KEYS.sketch("GET /x", today), 5, "300")
            assert stats.top("sources", days=2, where=("paths", "/pricing/")) == [
                ("Google", 3),
                ("Hacker News", 2),
            ]
            assert stats.top("paths", start=as_date(today - 1), end=as_date(today - 1)) == [
                ("/pricing/", 2)
            ]
            assert stats.live(5) in (0, 2)  # 0 only if the minute turned meanwhile
            assert [(row.route, row.requests) for row in stats.routes()] == [("GET /x", 5)]
            snapshot = stats.snapshot(days=7, routes=5, live=5)
            assert snapshot.tables["paths"].rows == [("/pricing/", 5)]
            client.script_flush()
            assert stats.snapshot(days=7).page_views == 5
    finally:
        client.close()
