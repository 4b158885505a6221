"""Stats against a real server: known counts over today, 7 days and all time; ties; a cluster."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
import redis.cluster

from wsgi_analytics.keys import Keys, day_label, hour_label, today
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.request.facts import from_environ

from .cluster import ClusterNodes, cluster_nodes

# the fixture, imported for pytest
__all__ = ["cluster_nodes"]

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
KEYS = Keys("analytics")


def visit(recorder: Recorder, path: str, client: str = "192.0.2.1", status: int = 200) -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "example.org",
        "HTTP_USER_AGENT": FIREFOX,
        "REMOTE_ADDR": client,
    }
    recorder.record(from_environ(environ), status)


def write_past_day(client: redis.Redis, offset: int, paths: dict[str, int]) -> None:
    """Counts for ``offset`` days ago, written with the recorder's key layout."""
    day = today() - offset
    views = sum(paths.values())
    client.zadd(KEYS.day("paths", day), paths)
    client.zincrby(KEYS.all("days"), views, day_label(day))
    client.zadd(KEYS.day("timeline", day), {hour_label(day * 24 + 9): views})
    for path, count in paths.items():
        client.zincrby(KEYS.all("paths"), count, path)
    client.pfadd(KEYS.uniques(day), *(f"past-{offset}-{n}" for n in range(3)))
    client.pfadd(KEYS.uniques(None), *(f"past-{offset}-{n}" for n in range(3)))


@pytest.fixture
def filled(client: redis.Redis, redis_url: str) -> Iterator[Stats]:
    """Today: / x3, /a x2, /b x1 from two visitors; 3 days ago and 20 days ago: older counts."""
    recorder = Recorder(redis_url)
    for path, who in [("/", "1"), ("/", "2"), ("/", "1"), ("/a", "1"), ("/a", "2"), ("/b", "1")]:
        visit(recorder, path, client=f"192.0.2.{who}")
    visit(recorder, "/missing", status=404)
    recorder.close()
    write_past_day(client, 3, {"/a": 5, "/old": 1})
    write_past_day(client, 20, {"/ancient": 7})
    with Stats(client=client) as stats:
        yield stats


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        pytest.param(1, [("/", 3), ("/a", 2), ("/b", 1)], id="today"),
        pytest.param(7, [("/a", 7), ("/", 3), ("/b", 1), ("/old", 1)], id="7 days"),
        pytest.param(
            None, [("/a", 7), ("/ancient", 7), ("/", 3), ("/b", 1), ("/old", 1)], id="all"
        ),
    ],
)
def test_top_paths_over_ranges(filled: Stats, days: int | None, expected: list[object]) -> None:
    assert filled.top("paths", limit=10, days=days) == expected


@pytest.mark.parametrize(
    ("days", "total", "uniques"),
    [
        pytest.param(1, 6, 2, id="today"),
        pytest.param(7, 12, 5, id="7 days"),
        pytest.param(30, 19, 8, id="30 days"),
        pytest.param(None, 19, 8, id="all"),
    ],
)
def test_totals_and_uniques(filled: Stats, days: int | None, total: int, uniques: int) -> None:
    assert filled.total(days) == total
    assert filled.uniques(days) == uniques


def test_other_dimensions_today(filled: Stats) -> None:
    assert filled.top("not_found") == [("/missing", 1)]
    assert filled.top("statuses") == [("200", 6), ("404", 1)]
    assert filled.top("browsers") == [("Firefox", 6)]
    assert filled.top("referrers") == [("(direct)", 6)]
    assert filled.top("throttled") == []


def test_limit_cuts_rows(filled: Stats) -> None:
    assert filled.top("paths", limit=1, days=None) == [("/a", 7)]
    assert filled.top("paths", limit=0) == []


def test_ties_at_the_cut_off_are_ordered_by_member(client: redis.Redis) -> None:
    day = today()
    tied = {f"/t{n:03d}": 4 for n in range(200)}
    client.zadd(KEYS.day("paths", day), {"/top": 9, "/z-second": 5, **tied})
    # Yesterday lifts one tied member above the rest, and adds more members at the tie score.
    client.zadd(KEYS.day("paths", day - 1), {"/t150": 2, "/a-late": 4, "/t151": 0})
    with Stats(client=client) as stats:
        assert stats.top("paths", 4, days=1) == [
            ("/top", 9),
            ("/z-second", 5),
            ("/t000", 4),
            ("/t001", 4),
        ]
        assert stats.top("paths", 5, days=2) == [
            ("/top", 9),
            ("/t150", 6),
            ("/z-second", 5),
            ("/a-late", 4),
            ("/t000", 4),
        ]


def test_timeline_is_zero_filled_up_to_this_hour(filled: Stats) -> None:
    now_hour = int(time.time() // 3600)
    points = filled.timeline(1)
    assert [label for label, _ in points] == [
        hour_label(hour) for hour in range(today() * 24, now_hour + 1)
    ]
    assert dict(points)[hour_label(now_hour)] == 6
    assert sum(count for _, count in points) == 6


def test_timeline_over_seven_days(filled: Stats) -> None:
    points = dict(filled.timeline(7))
    assert len(points) == 6 * 24 + (int(time.time() // 3600) - today() * 24 + 1)
    assert points[hour_label((today() - 3) * 24 + 9)] == 6
    assert sum(points.values()) == 12


def test_timeline_all_time_starts_at_the_first_day(filled: Stats) -> None:
    points = filled.timeline(None)
    assert points[0] == (hour_label((today() - 20) * 24), 0)
    assert sum(count for _, count in points) == 19


def test_timeline_all_time_leaves_out_expired_days(filled: Stats, client: redis.Redis) -> None:
    client.delete(KEYS.day("timeline", today() - 20))
    labels = [label for label, _ in filled.timeline(None)]
    assert hour_label((today() - 20) * 24 + 9) not in labels
    assert hour_label((today() - 19) * 24) in labels


def test_daily_series_zero_filled(filled: Stats) -> None:
    assert filled.daily(4) == [
        (day_label(today() - 3), 6),
        (day_label(today() - 2), 0),
        (day_label(today() - 1), 0),
        (day_label(today()), 6),
    ]
    assert filled.daily(None)[0] == (day_label(today() - 20), 7)
    assert len(filled.daily(None)) == 21


def test_snapshot_holds_every_dimension(filled: Stats) -> None:
    snapshot = filled.snapshot(days=7, limit=2)
    assert snapshot.page_views == 12
    assert snapshot.uniques == 5
    assert snapshot.series.unit == "day"
    assert snapshot.series.points[-1] == (day_label(today()), 6)
    assert snapshot.first == day_label(today() - 6)
    paths = snapshot.tables["paths"]
    assert paths.rows == [("/a", 7), ("/", 3)]
    assert (paths.total, paths.distinct) == (12, 4)
    assert list(snapshot.tables) == [
        "paths",
        "referrers",
        "sources",
        "channels",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_content",
        "utm_term",
        "browsers",
        "platforms",
        "devices",
        "countries",
        "bots",
        "not_found",
        "statuses",
        "routes",
        "routes_4xx",
        "routes_5xx",
        "throttled",
    ]
    document = snapshot.to_json()
    assert document["dimensions"]["paths"]["rows"][0] == {
        "member": "/a",
        "count": 7,
        "share": round(7 / 12, 4),
    }
    assert document["series"]["unit"] == "day"


def test_snapshot_today_is_hourly(filled: Stats) -> None:
    snapshot = filled.snapshot(days=1)
    assert snapshot.series.unit == "hour"
    assert snapshot.page_views == 6
    assert snapshot.label == "today"


def test_snapshot_on_an_empty_prefix(client: redis.Redis) -> None:
    with Stats(client=client, prefix="nothing") as stats:
        assert not stats.exists()
        snapshot = stats.snapshot(days=None)
        assert (snapshot.page_views, snapshot.uniques, snapshot.first) == (0, 0, None)
        assert snapshot.series.points == []
        assert snapshot.tables["paths"].rows == []


def test_script_reloaded_after_script_flush(filled: Stats, client: redis.Redis) -> None:
    client.script_flush()
    assert filled.snapshot(days=1).tables["paths"].rows[0] == ("/", 3)
    client.script_flush()
    assert filled.top("paths", 1) == [("/", 3)]


def test_no_scratch_keys_left_behind(filled: Stats, client: redis.Redis) -> None:
    filled.snapshot(days=30)
    assert not list(client.scan_iter(match="*scratch*"))


def test_custom_dimensions_are_discovered(client: redis.Redis, redis_url: str) -> None:
    recorder = Recorder(redis_url)
    recorder.track("signups", "newsletter", 3)
    recorder.track("signups", "trial")
    recorder.close()
    with Stats(client=client) as stats:
        assert stats.dimensions()[-1] == "signups"
        assert stats.top("signups", days=None) == [("newsletter", 3), ("trial", 1)]
        assert stats.exists()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda s: s.top("no such"), "invalid dimension", id="dimension"),
        pytest.param(lambda s: s.top("timeline"), "invalid dimension", id="reserved"),
        pytest.param(lambda s: s.top("paths", days=0), "days must be", id="days 0"),
        pytest.param(lambda s: s.total(days=-1), "days must be", id="negative days"),
        pytest.param(lambda s: s.top("paths", limit=-1), "limit must be", id="limit"),
    ],
)
def test_bad_arguments(client: redis.Redis, call: object, message: str) -> None:
    with Stats(client=client) as stats, pytest.raises(ValueError, match=message):
        call(stats)  # type: ignore[operator]


def test_passed_client_is_left_open(client: redis.Redis) -> None:
    Stats(client=client).close()
    assert client.ping()


def test_own_client_is_closed(client: redis.Redis, redis_url: str) -> None:
    # By connection id, not by count: other tests' flushers share this server.
    with Stats(redis_url) as stats:
        assert stats.total() == 0
        own = str(stats.client.client_id())
        assert own in {entry["id"] for entry in client.client_list()}
    assert own not in {entry["id"] for entry in client.client_list()}


# -- Redis Cluster --------------------------------------------------------------------------


@pytest.fixture
def cluster_url(cluster_nodes: ClusterNodes) -> str:
    """A local three-primary cluster (`tests.cluster`), emptied for this test."""
    cluster_nodes.flush()
    return cluster_nodes.url


@pytest.mark.slow
def test_reads_on_a_cluster(cluster_url: str) -> None:
    recorder = Recorder(cluster_url)
    for path in ["/", "/", "/x"]:
        visit(recorder, path)
    recorder.close()
    with Stats(cluster_url) as stats:
        assert isinstance(stats.client, redis.cluster.RedisCluster)
        assert stats.top("paths", days=7) == [("/", 2), ("/x", 1)]
        assert stats.total(7) == 3
        assert stats.uniques(7) == 1
        snapshot = stats.snapshot(days=30)
        assert snapshot.tables["statuses"].rows == [("200", 3)]
        stats.client.script_flush()
        assert stats.snapshot(days=7).page_views == 3
        assert stats.exists()


def test_past_days_are_summed_once_a_minute_today_is_live(
    filled: Stats, client: redis.Redis
) -> None:
    assert dict(filled.top("paths", 10, days=7))["/old"] == 1
    client.zincrby(KEYS.day("paths", today() - 3), 10, "/old")  # a late flush for a past day
    client.zincrby(KEYS.day("paths", today()), 5, "/b")
    top = dict(filled.top("paths", 10, days=7))
    assert (top["/old"], top["/b"]) == (1, 6)  # the past from the cache, today live
    cache = KEYS.range_cache("paths", today() - 6, today() - 1)
    assert 0 < client.pttl(cache) <= 60_000
    client.delete(cache)
    assert dict(filled.top("paths", 10, days=7))["/old"] == 11
