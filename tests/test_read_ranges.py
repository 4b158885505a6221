"""Stats over chosen dates, previous periods, the retention cut, and range reads that stay bounded
when the day keys are full (issue 14 ranges, issue 15 item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import redis

from wsgi_analytics.keys import Keys, day_label, today
from wsgi_analytics.reading import bounded, topscript
from wsgi_analytics.reading.ranges import day_number
from wsgi_analytics.reading.stats import Stats

KEYS = Keys("analytics")


def put(client: redis.Redis, day: int, paths: dict[str, int]) -> None:
    """Counts for ``day`` written with the recorder's key layout (paths and the days key)."""
    client.zadd(KEYS.day("paths", day), paths)
    client.zincrby(KEYS.all("days"), sum(paths.values()), day_label(day))


def as_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


T = today()


@pytest.fixture
def days(client: redis.Redis) -> Iterator[Stats]:
    """Today: / x3, /a x2; yesterday: /a x4, /b x1; two days ago: /b x2; five days ago: /c x7.
    Visitors: 2 today, 3 yesterday, 1 two days ago."""
    put(client, T, {"/": 3, "/a": 2})
    put(client, T - 1, {"/a": 4, "/b": 1})
    put(client, T - 2, {"/b": 2})
    put(client, T - 5, {"/c": 7})
    client.zadd(KEYS.day("timeline", T - 1), {f"{day_label(T - 1)}T09": 5})
    for offset, visitors in [(0, 2), (1, 3), (2, 1)]:
        client.pfadd(KEYS.uniques(T - offset), *(f"v{offset}-{n}" for n in range(visitors)))
    with Stats(client=client) as stats:
        yield stats


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        pytest.param(T - 2, T - 1, [("/a", 4), ("/b", 3)], id="two past days"),
        pytest.param(T - 5, T - 5, [("/c", 7)], id="one past day"),
        pytest.param(T - 1, None, [("/a", 6), ("/", 3), ("/b", 1)], id="start to today"),
        pytest.param(T - 9, T + 3, [("/c", 7), ("/a", 6), ("/", 3), ("/b", 3)], id="end cut"),
        pytest.param(T - 4, T - 3, [], id="days without counts"),
        pytest.param(T + 1, T + 2, [], id="the future"),
    ],
)
def test_top_between_dates(
    days: Stats, start: int, end: int | None, expected: list[tuple[str, int]]
) -> None:
    last = None if end is None else as_date(end)
    assert days.top("paths", start=as_date(start), end=last) == expected


@pytest.mark.parametrize(
    ("start", "end", "total", "uniques"),
    [
        pytest.param(T - 2, T - 1, 7, 4, id="two past days"),
        pytest.param(T - 1, T, 10, 5, id="yesterday and today"),
        pytest.param(T - 5, T - 5, 7, 0, id="one past day"),
        pytest.param(T - 30, T, 19, 6, id="a month"),
    ],
)
def test_totals_between_dates(days: Stats, start: int, end: int, total: int, uniques: int) -> None:
    assert days.total(start=as_date(start), end=as_date(end)) == total
    assert days.uniques(start=as_date(start), end=as_date(end)) == uniques


def test_snapshot_between_dates(days: Stats) -> None:
    snapshot = days.snapshot(start=as_date(T - 2), end=as_date(T - 1), limit=5)
    assert (snapshot.page_views, snapshot.uniques) == (7, 4)
    assert (snapshot.first, snapshot.last, snapshot.days) == (
        day_label(T - 2),
        day_label(T - 1),
        2,
    )
    assert snapshot.dates
    assert snapshot.label == f"{day_label(T - 2)} to {day_label(T - 1)}"
    assert snapshot.series.points == [(day_label(T - 2), 2), (day_label(T - 1), 5)]
    assert snapshot.tables["paths"].rows == [("/a", 4), ("/b", 3)]
    document = snapshot.to_json()
    assert (document["dates"], document["first"], document["days"]) == (True, day_label(T - 2), 2)


def test_one_chosen_day_is_hourly(days: Stats) -> None:
    snapshot = days.snapshot(start=as_date(T - 1), end=as_date(T - 1))
    assert snapshot.series.unit == "hour"
    assert len(snapshot.series.points) == 24
    assert dict(snapshot.series.points)[f"{day_label(T - 1)}T09"] == 5
    assert snapshot.label == day_label(T - 1)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        pytest.param({"days": 2}, (day_label(T - 3), day_label(T - 2), 2, 1), id="2 days"),
        pytest.param({"days": 1}, (day_label(T - 1), day_label(T - 1), 5, 3), id="today"),
        pytest.param(
            {"start": as_date(T - 1), "end": as_date(T - 1)},
            (day_label(T - 2), day_label(T - 2), 2, 1),
            id="yesterday",
        ),
        pytest.param(
            {"start": as_date(T - 2), "end": as_date(T)},
            (day_label(T - 5), day_label(T - 3), 7, 0),
            id="3 days",
        ),
    ],
)
def test_previous_period(days: Stats, call: dict[str, Any], expected: tuple[object, ...]) -> None:
    previous = days.snapshot(**call).previous
    assert previous is not None
    assert (previous.first, previous.last, previous.page_views, previous.uniques) == expected
    assert days.snapshot(**call).to_json()["previous"] == {
        "first": expected[0],
        "last": expected[1],
        "page_views": expected[2],
        "uniques": expected[3],
    }


def test_no_previous_period_for_all_time_or_past_the_retention(client: redis.Redis) -> None:
    put(client, T, {"/": 1})
    put(client, T - 9, {"/": 1})  # counted since the first day still kept
    with Stats(client=client, retention_days=10) as stats:
        assert stats.snapshot(days=None).previous is None
        assert stats.snapshot(days=6).previous is None  # would reach 11 days back
        assert stats.snapshot(days=5).previous is not None
        assert stats.snapshot(days=3, previous=False).previous is None


@pytest.mark.parametrize(
    ("days", "compared"),
    [
        pytest.param(1, True, id="today against yesterday, counted"),
        pytest.param(2, False, id="two days against two, one before the first"),
        pytest.param(7, False, id="a week against the week before the site began"),
    ],
)
def test_no_previous_period_before_the_first_counted_day(
    client: redis.Redis, days: int, compared: bool
) -> None:
    # A young site: a comparison with days before its first page view would read "+700%".
    put(client, T - 1, {"/": 1})
    put(client, T, {"/": 8})
    with Stats(client=client) as stats:
        previous = stats.snapshot(days=days).previous
    assert (previous is not None) is compared
    if previous is not None:
        assert previous.page_views == 1


def test_ranges_are_cut_at_the_retention(days: Stats, client: redis.Redis) -> None:
    with Stats(client=client, retention_days=3) as stats:
        assert stats.top("paths", days=30) == [("/a", 6), ("/", 3), ("/b", 3)]
        snapshot = stats.snapshot(days=30)
        assert snapshot.clipped
        assert snapshot.first == day_label(T - 3)
        assert len(snapshot.series.points) == 4
        assert snapshot.page_views == 12
        assert stats.top("paths", start=as_date(T - 400), end=as_date(T - 200)) == []
    assert not days.snapshot(days=30).clipped


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param({"start": as_date(T), "end": as_date(T - 1)}, "is before start", id="order"),
        pytest.param({"end": as_date(T)}, "end needs a start", id="end alone"),
        pytest.param({"days": 7, "start": as_date(T)}, "not both", id="days and dates"),
        pytest.param({"start": datetime(2026, 1, 1)}, "datetime.date", id="datetime"),
        pytest.param({"start": "2026-01-01"}, "datetime.date", id="text"),
        pytest.param({"days": 0}, "days must be", id="days 0"),
        pytest.param({"days": 10_001}, "days must be", id="days huge"),
        pytest.param({"where": ("referrers", "x")}, "where can filter by", id="where dimension"),
        pytest.param({"where": "paths"}, "pair of strings", id="where shape"),
        pytest.param({"limit": 10_001}, "up to 10,000", id="limit"),
    ],
)
def test_bad_ranges(days: Stats, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        days.top("paths", **arguments)


def test_where_needs_a_page_view_dimension(days: Stats) -> None:
    with pytest.raises(ValueError, match="page-view dimensions"):
        days.top("statuses", where=("paths", "/"))


def test_bad_live_and_retention(client: redis.Redis) -> None:
    with Stats(client=client) as stats:
        for minutes in (0, 31, True, 2.5):
            with pytest.raises(ValueError, match="minutes"):
                stats.live(minutes)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="retention_days"):
        Stats(client=client, retention_days=0)


# -- bounded reads --------------------------------------------------------------------------


@pytest.fixture
def small_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """The read's constants scaled down, so that small test data is "at the cap": 8 members
    a day (M), 16 in an accumulator (K), one script call of 64 units a round trip."""
    monkeypatch.setattr(bounded, "TOP_PER_DAY", 8)
    monkeypatch.setattr(bounded, "KEEP_MEMBERS", 16)
    monkeypatch.setattr(bounded, "CALL_BUDGET", 64)
    monkeypatch.setattr(bounded, "TRIP_BUDGET", 64)


LEGIT = {f"/page-{n}": 100 - n for n in range(8)}


def fill_at_cap(client: redis.Redis, days: int, junk: int = 2000) -> None:
    """Every day: the same 8 pages (100 down to 93 views) and ``junk`` scanner paths counted
    once each, different every day."""
    for offset in range(days):
        members = {**LEGIT, **{f"/junk/{offset}/{n}": 1 for n in range(junk)}}
        put(client, T - offset, members)


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}


def test_full_days_read_exactly_where_it_matters_with_a_bound(
    client: redis.Redis, small_reads: None
) -> None:
    fill_at_cap(client, 5)
    client.config_resetstat()
    with Stats(client=client) as stats:
        step = stats._table_step("paths", stats.span(5), 3)
        bounded.run(client, [step])
    table = step.result
    assert table is not None
    assert table.rows == [("/page-0", 500), ("/page-1", 495), ("/page-2", 490)]
    # Each day's 9th member (junk, counted once) may have been missed: 1 a day.
    assert table.error_bound == 5
    assert table.total == 5 * (sum(LEGIT.values()) + 2000)  # exact whatever the size
    assert table.distinct == 2008  # a lower bound here (the true count is 10,008)
    calls = command_calls(client)
    # The junk is never copied: only each day's top 8 are added up...
    assert calls["zincrby"] == 5 * 8
    # ... and summed in a few reads a day (a chunk, then the whole run of ones at once).
    assert calls["zrange"] <= 5 * 2
    assert not list(client.scan_iter(match="*scratch*"))


def test_every_round_trip_is_bounded(client: redis.Redis, small_reads: None) -> None:
    fill_at_cap(client, 6, junk=300)
    trips: list[tuple[int, int]] = []
    real = bounded._execute

    def counting(redis_client: Any, calls: list[bounded.Call]) -> list[Any]:
        trips.append((len(calls), sum(call.cost for call in calls)))
        return real(redis_client, calls)

    with pytest.MonkeyPatch.context() as patch, Stats(client=client) as stats:
        patch.setattr(bounded, "_execute", counting)
        snapshot = stats.snapshot(days=6, limit=3)
    assert snapshot.tables["paths"].rows[0] == ("/page-0", 600)
    assert len(trips) > 3
    # A trip's calls are given at most the trip's budget (the first call always goes).
    assert all(cost <= bounded.TRIP_BUDGET or calls == 1 for calls, cost in trips)


def test_exact_when_the_days_fit(client: redis.Redis, small_reads: None) -> None:
    for offset in range(4):
        put(client, T - offset, {"/x": 2, "/y": 2, f"/only-{offset}": 1})
    with Stats(client=client) as stats:
        table = stats.snapshot(days=4, limit=4).tables["paths"]
    assert table.rows == [("/x", 8), ("/y", 8), ("/only-0", 1), ("/only-1", 1)]
    assert (table.total, table.distinct, table.error_bound) == (20, 6, 0)


def test_trimming_the_sum_adds_to_the_bound(client: redis.Redis, small_reads: None) -> None:
    # 4 days of 8 members each, all different: 32 members summed, 16 kept.
    for offset in range(4):
        put(client, T - offset, {f"/d{offset}-{n}": 10 + n for n in range(8)})
    with Stats(client=client) as stats:
        table = stats.snapshot(days=4, limit=2).tables["paths"]
    assert table.rows == [("/d0-7", 17), ("/d1-7", 17)]
    assert table.total == 4 * sum(10 + n for n in range(8))
    assert table.error_bound > 0  # the trims' cut-off scores
    assert table.error_bound <= 4 * 17


def test_range_caches_are_few_and_small(client: redis.Redis, small_reads: None) -> None:
    fill_at_cap(client, 12, junk=50)
    with Stats(client=client) as stats:
        for span in range(2, 12):
            assert stats.top("paths", 1, days=span) == [("/page-0", 100 * span)]
        cached = list(client.scan_iter(match="{analytics:paths}:range:*"))
        assert len(cached) == bounded.CACHE_KEEP
        assert all(client.zcard(key) <= 16 for key in cached)
        assert client.hlen(KEYS.range_index("paths")) == bounded.CACHE_KEEP
        assert all(0 < client.pttl(key) <= bounded.CACHE_MS for key in cached)
    assert not list(client.scan_iter(match="*scratch*"))


def test_a_cached_range_is_one_round_trip(client: redis.Redis) -> None:
    fill_at_cap(client, 30, junk=100)
    with Stats(client=client) as stats:
        names = ["paths", "referrers", "browsers"]
        stats.snapshot(days=30, dimensions=names, previous=False)  # builds the caches
        trips: list[int] = []
        real = bounded._execute

        def counting(redis_client: Any, calls: list[bounded.Call]) -> list[Any]:
            trips.append(len(calls))
            return real(redis_client, calls)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(bounded, "_execute", counting)
            snapshot = stats.snapshot(days=30, dimensions=names, previous=False)
    assert snapshot.tables["paths"].rows[0] == ("/page-0", 3000)
    assert len(trips) == 1


def test_script_loaded_again_after_a_flush(days: Stats, client: redis.Redis) -> None:
    assert days.top("paths", days=3) == [("/a", 6), ("/", 3), ("/b", 3)]
    client.script_flush()
    client.delete(*client.keys("*range*"))
    assert days.top("paths", days=3) == [("/a", 6), ("/", 3), ("/b", 3)]


def test_day_numbers() -> None:
    assert day_number(date(1970, 1, 2)) == 1
    assert as_date(T) == date.fromisoformat(day_label(T))


def test_no_call_does_more_than_it_is_given(client: redis.Redis, small_reads: None) -> None:
    fill_at_cap(client, 9, junk=40)
    for offset in range(9):  # and members that differ from day to day, to keep the sum full
        client.zadd(KEYS.day("paths", T - offset), {f"/day-{offset}-{n}": 50 for n in range(8)})
    checked: list[tuple[int, int]] = []
    real = bounded._execute

    def counting(redis_client: Any, calls: list[bounded.Call]) -> list[Any]:
        before = command_calls(client).get("zincrby", 0)
        replies = real(redis_client, calls)
        written = command_calls(client).get("zincrby", 0) - before
        checked.append((written, sum(call.cost for call in calls)))
        return replies

    with pytest.MonkeyPatch.context() as patch, Stats(client=client) as stats:
        patch.setattr(bounded, "_execute", counting)
        table = stats.snapshot(days=9, limit=2, dimensions=["paths"]).tables["paths"]
    assert table.rows == [("/page-0", 900), ("/page-1", 891)]
    assert len(checked) > 9
    # Each member added costs two units (read, then written): never more than was given.
    assert all(2 * written <= cost for written, cost in checked)


def test_a_reader_that_stops_half_way_leaves_only_expiring_scratch(
    client: redis.Redis, small_reads: None
) -> None:
    fill_at_cap(client, 6, junk=20)
    with Stats(client=client) as stats:
        step = stats._table_step("paths", stats.span(6), 3)
        client.script_load(topscript.READ)
        step.feed(bounded._execute(client, step.calls()))  # one call, then the reader "dies"
    assert not step.done
    scratch = list(client.scan_iter(match="*scratch*"))
    assert len(scratch) == 1
    assert 0 < client.pttl(scratch[0]) <= bounded.SCRATCH_MS
