"""The site's time zone: local days, hour labels and day bounds (pure, fixed instants)."""

from __future__ import annotations

from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from wsgi_analytics.request.clock import SiteClock


def utc(iso: str) -> int:
    """Epoch seconds of a UTC wall time, written out so each case reads as a date."""
    return int(datetime.fromisoformat(iso).replace(tzinfo=timezone.utc).timestamp())


def day_number(iso_date: str) -> int:
    return (date.fromisoformat(iso_date) - date(1970, 1, 1)).days


@pytest.mark.parametrize(
    ("zone", "instant", "day", "hour"),
    [
        # One instant, zones 25 hours apart: UTC+14 is already in the new year, UTC-11 is not.
        pytest.param("UTC", "2026-01-01T00:00:00", "2026-01-01", "2026-01-01T00", id="utc"),
        pytest.param(
            "Pacific/Kiritimati", "2026-01-01T00:00:00", "2026-01-01", "2026-01-01T14", id="+14"
        ),
        pytest.param(
            "Pacific/Niue", "2026-01-01T00:00:00", "2025-12-31", "2025-12-31T13", id="-11"
        ),
        pytest.param(
            "Pacific/Pago_Pago", "2026-01-01T10:59:59", "2025-12-31", "2025-12-31T23", id="-11 eve"
        ),
        pytest.param(
            "Pacific/Pago_Pago", "2026-01-01T11:00:00", "2026-01-01", "2026-01-01T00", id="-11 new"
        ),
        # Los Angeles springs forward at 02:00 PST (10:00Z): there is no 02 hour.
        pytest.param(
            "America/Los_Angeles", "2026-03-08T09:59:59", "2026-03-08", "2026-03-08T01", id="la pst"
        ),
        pytest.param(
            "America/Los_Angeles", "2026-03-08T10:00:00", "2026-03-08", "2026-03-08T03", id="la pdt"
        ),
        # ... and falls back at 02:00 PDT (09:00Z): 01 happens twice and is one label.
        pytest.param(
            "America/Los_Angeles", "2026-11-01T08:30:00", "2026-11-01", "2026-11-01T01", id="la 1st"
        ),
        pytest.param(
            "America/Los_Angeles", "2026-11-01T09:30:00", "2026-11-01", "2026-11-01T01", id="la 2nd"
        ),
        pytest.param(
            "America/Los_Angeles", "2026-11-01T10:00:00", "2026-11-01", "2026-11-01T02", id="la 02"
        ),
        # London: BST from 01:00Z on the last Sunday of March to 01:00Z on that of October.
        pytest.param(
            "Europe/London", "2026-03-29T00:59:59", "2026-03-29", "2026-03-29T00", id="london gmt"
        ),
        pytest.param(
            "Europe/London", "2026-03-29T01:00:00", "2026-03-29", "2026-03-29T02", id="london bst"
        ),
        pytest.param(
            "Europe/London", "2026-10-25T00:30:00", "2026-10-25", "2026-10-25T01", id="london 1st"
        ),
        pytest.param(
            "Europe/London", "2026-10-25T01:30:00", "2026-10-25", "2026-10-25T01", id="london 2nd"
        ),
        # Half-hour offsets and a half-hour DST that changes at :30 UTC, inside a UTC hour.
        pytest.param(
            "Asia/Kolkata", "2026-01-01T18:29:59", "2026-01-01", "2026-01-01T23", id="kolkata eve"
        ),
        pytest.param(
            "Asia/Kolkata", "2026-01-01T18:30:00", "2026-01-02", "2026-01-02T00", id="kolkata new"
        ),
        pytest.param(
            "Australia/Lord_Howe", "2026-10-03T15:10:00", "2026-10-04", "2026-10-04T01", id="lh std"
        ),
        pytest.param(
            "Australia/Lord_Howe", "2026-10-03T15:50:00", "2026-10-04", "2026-10-04T02", id="lh dst"
        ),
        # Santiago skips midnight (00:00 -> 01:00); Havana repeats it (01:00 CDT -> 00:00 CST).
        pytest.param(
            "America/Santiago", "2026-09-06T03:59:59", "2026-09-05", "2026-09-05T23", id="scl eve"
        ),
        pytest.param(
            "America/Santiago", "2026-09-06T04:00:00", "2026-09-06", "2026-09-06T01", id="scl new"
        ),
        pytest.param(
            "America/Havana", "2026-11-01T04:30:00", "2026-11-01", "2026-11-01T00", id="hav 1st"
        ),
        pytest.param(
            "America/Havana", "2026-11-01T05:30:00", "2026-11-01", "2026-11-01T00", id="hav 2nd"
        ),
    ],
)
def test_day_and_hour(zone: str, instant: str, day: str, hour: str) -> None:
    clock = SiteClock(zone)
    t = utc(instant)
    for _ in range(2):  # computed, then memoised
        assert clock.day_label(clock.day(t)) == day
        assert clock.day(t) == day_number(day)
        assert clock.hour_label(t) == hour
        assert clock.hour_label(t + 0.5) == hour


@pytest.mark.parametrize(
    ("zone", "day", "start", "end", "hours"),
    [
        pytest.param("UTC", "2026-03-08", "2026-03-08T00:00", "2026-03-09T00:00", 24, id="utc"),
        pytest.param(
            "America/Los_Angeles",
            "2026-03-08",
            "2026-03-08T08:00",
            "2026-03-09T07:00",
            23,
            id="la spring 23h",
        ),
        pytest.param(
            "America/Los_Angeles",
            "2026-11-01",
            "2026-11-01T07:00",
            "2026-11-02T08:00",
            25,
            id="la fall 25h",
        ),
        pytest.param(
            "Europe/London",
            "2026-03-29",
            "2026-03-29T00:00",
            "2026-03-29T23:00",
            23,
            id="london spring 23h",
        ),
        pytest.param(
            "Europe/London",
            "2026-10-25",
            "2026-10-24T23:00",
            "2026-10-26T00:00",
            25,
            id="london fall 25h",
        ),
        pytest.param(
            "Pacific/Kiritimati",
            "2026-01-01",
            "2025-12-31T10:00",
            "2026-01-01T10:00",
            24,
            id="+14",
        ),
        pytest.param(
            "Pacific/Pago_Pago",
            "2026-01-01",
            "2026-01-01T11:00",
            "2026-01-02T11:00",
            24,
            id="-11",
        ),
        pytest.param(
            "Australia/Lord_Howe",
            "2026-10-04",
            "2026-10-03T13:30",
            "2026-10-04T13:00",
            23.5,
            id="lord howe 23.5h",
        ),
        pytest.param(
            "America/Santiago",
            "2026-09-06",
            "2026-09-06T04:00",
            "2026-09-07T03:00",
            23,
            id="midnight skipped",
        ),
        pytest.param(
            "America/Havana",
            "2026-11-01",
            "2026-11-01T04:00",
            "2026-11-02T05:00",
            25,
            id="midnight repeated",
        ),
        pytest.param(
            "Pacific/Apia",
            "2011-12-30",
            "2011-12-30T10:00",
            "2011-12-30T10:00",
            0,
            id="samoa skipped a day",
        ),
        pytest.param(
            "Pacific/Apia",
            "2011-12-31",
            "2011-12-30T10:00",
            "2011-12-31T10:00",
            24,
            id="samoa day after",
        ),
    ],
)
def test_day_bounds(zone: str, day: str, start: str, end: str, hours: float) -> None:
    clock = SiteClock(zone)
    number = day_number(day)
    assert clock.day_start(number) == utc(start)
    assert clock.day_end(number) == utc(end)
    assert clock.day_end(number) - clock.day_start(number) == hours * 3600
    if hours:
        assert clock.day(clock.day_start(number)) == number
        assert clock.day(clock.day_end(number) - 1) == number
        assert clock.day(clock.day_start(number) - 1) < number


def test_utc_days_are_the_old_day_numbers() -> None:
    # Keys written before zones existed used int(t // 86400): UTC must give the same numbers.
    clock = SiteClock()
    for t in (0, 0.5, 86399.999, 86400, -1, -86400.5, 1_700_000_000.25, utc("2026-12-31T23:59:59")):
        assert clock.day(t) == int(t // 86400)
    assert SiteClock("Etc/UTC").day(-1) == -1
    assert clock.day_label(0) == "1970-01-01"
    assert clock.day_label(-1) == "1969-12-31"
    assert clock.day_label(day_number("2026-02-28") + 1) == "2026-03-01"


def test_today() -> None:
    t = utc("2026-01-01T00:00:00")
    assert SiteClock("Pacific/Kiritimati").today(t) == day_number("2026-01-01")
    assert SiteClock("Pacific/Niue").today(t) == day_number("2025-12-31")
    assert abs(SiteClock().today() - SiteClock().day(datetime.now(timezone.utc).timestamp())) <= 1


@pytest.mark.parametrize(
    "zone",
    [
        pytest.param("Mars/Olympus_Mons", id="unknown"),
        pytest.param("", id="empty"),
        pytest.param("../../etc/passwd", id="path"),
        pytest.param("/etc/localtime", id="absolute"),
        pytest.param("utc ", id="not a key"),
        pytest.param(5, id="not text"),
    ],
)
def test_bad_zone(zone: object) -> None:
    with pytest.raises(ValueError, match="zone"):
        SiteClock(zone)  # type: ignore[arg-type]


def _offset_changes(tz: ZoneInfo, first_year: int, last_year: int) -> list[int]:
    """UTC hours in which the zone's offset changes, found by days, then hours."""

    def offset(t: int) -> object:
        return datetime.fromtimestamp(t, tz).utcoffset()

    hours: list[int] = []
    t = utc(f"{first_year}-01-01T00:00:00")
    stop = utc(f"{last_year + 1}-01-01T00:00:00")
    while t < stop:
        if offset(t) != offset(t + 86400):
            hours.extend(
                t + h * 3600
                for h in range(24)
                if offset(t + h * 3600) != offset(t + h * 3600 + 3599)
            )
            hours.extend(
                t + h * 3600
                for h in range(1, 25)
                if offset(t + h * 3600 - 1) != offset(t + h * 3600)
            )
        t += 86400
    return sorted(set(hours))


@pytest.mark.parametrize(
    ("zone", "first_year", "last_year"),
    [
        pytest.param("America/Los_Angeles", 2024, 2027, id="los angeles"),
        pytest.param("Europe/London", 2024, 2027, id="london"),
        pytest.param("Australia/Lord_Howe", 2024, 2026, id="lord howe :30 utc"),
        pytest.param("Pacific/Chatham", 2024, 2026, id="chatham +12:45"),
        pytest.param("Asia/Gaza", 2010, 2013, id="gaza 00:01 local"),
        pytest.param("America/Santiago", 2024, 2026, id="santiago"),
        pytest.param("Africa/Monrovia", 1972, 1972, id="monrovia -0:44:30"),
        pytest.param("Asia/Kathmandu", 1985, 1986, id="kathmandu +5:30 to +5:45"),
        pytest.param("Pacific/Apia", 2011, 2011, id="apia skipped day"),
    ],
)
def test_matches_zoneinfo_around_every_change(zone: str, first_year: int, last_year: int) -> None:
    # The hourly offset cache against zoneinfo itself, every 30 s around each change, including
    # changes inside a UTC hour (Lord Howe at :30, Gaza at 00:01 local, Monrovia at 00:44:30).
    tz = ZoneInfo(zone)
    clock = SiteClock(zone)
    changes = _offset_changes(tz, first_year, last_year)
    assert changes
    for hour in changes:
        for t in range(hour - 7200, hour + 10800, 30):
            local = datetime.fromtimestamp(t, tz)
            assert clock.day(t) == (local.date() - date(1970, 1, 1)).days, (zone, t)
            assert clock.hour_label(t) == local.strftime("%Y-%m-%dT%H"), (zone, t)


def test_equality_and_repr() -> None:
    assert SiteClock("Europe/Paris") == SiteClock("Europe/Paris")
    assert SiteClock("Europe/Paris") != SiteClock("UTC")
    assert len({SiteClock("UTC"), SiteClock("UTC")}) == 1
    assert repr(SiteClock("Europe/Paris")) == "SiteClock('Europe/Paris')"
