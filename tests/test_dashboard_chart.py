"""The dashboard's pure parts: the chart drawings and the parsing of a page's URL."""

from __future__ import annotations

import itertools
import re
from datetime import date

import pytest

from wsgi_analytics.dashboard.chart import LAYOUTS, Layout, caption, chart, charts, crop_hours
from wsgi_analytics.dashboard.query import EXPORT, PAGE, BadQuery, Query, parse
from wsgi_analytics.reading.snapshot import Series


def hours(counts: dict[int, int], length: int = 24) -> list[tuple[str, int]]:
    return [(f"2026-12-01T{h:02d}", counts.get(h, 0)) for h in range(length)]


def days(count: int) -> list[tuple[str, int]]:
    return [
        (date.fromordinal(date(2026, 1, 1).toordinal() + i).isoformat(), i) for i in range(count)
    ]


@pytest.mark.parametrize(
    ("counts", "length", "first", "last"),
    [
        pytest.param({14: 120}, 24, 12, 23, id="one burst: 12 hours from 2 before"),
        pytest.param({3: 5}, 24, 1, 12, id="early burst grows to the right"),
        pytest.param({23: 5}, 24, 12, 23, id="late burst grows to the left"),
        pytest.param({2: 1, 20: 1}, 24, 0, 22, id="spread: from 2 before to 2 after"),
        pytest.param({9: 4, 10: 8, 11: 2}, 24, 7, 18, id="morning"),
        pytest.param({}, 24, 0, 23, id="no traffic: the whole day"),
        pytest.param({1: 3}, 5, 0, 4, id="short day so far: kept"),
        pytest.param({15: 3}, 16, 4, 15, id="today at 15:00: window ends now"),
    ],
)
def test_crop_hours(counts: dict[int, int], length: int, first: int, last: int) -> None:
    cropped = crop_hours(hours(counts, length))
    assert (int(cropped[0][0][-2:]), int(cropped[-1][0][-2:])) == (first, last)
    assert sum(n for _, n in cropped) == sum(counts.values())


def test_bursty_day_is_not_one_bar_on_an_empty_axis() -> None:
    html = charts(Series("hour", hours({14: 120})))
    wide = html.split("</svg>")[0]
    labels = re.findall(r'text-anchor="(?:middle|start)">([^<]*)</text>', wide)
    assert labels[0] == "12:00"
    assert "00:00" not in labels
    assert len(re.findall(r"<rect ", wide)) == 1
    width = float(re.findall(r'<rect class="bar" x="[^"]+" y="[^"]+" width="([^"]+)"', wide)[0])
    assert width > 40  # a bar of a 12-hour window, not a sliver of 24


@pytest.mark.parametrize("layout", LAYOUTS, ids=[layout.name for layout in LAYOUTS])
@pytest.mark.parametrize("count", [1, 7, 24, 30, 90, 400, 3660])
def test_labels_and_bars_fit_each_layout(layout: Layout, count: int) -> None:
    svg = chart(Series("day", days(count)), layout, caption="x")
    labels = re.findall(
        r'class="axis x" x="([0-9.]+)" y="(?:[0-9.]+)" text-anchor="(?:middle|start)"', svg
    )
    assert 1 <= len(labels) <= layout.labels
    xs = [float(x) for x in labels]
    # Labels of "Mmm DD" are at most ~6 characters: never closer than their own width.
    assert all(b - a >= 6 * 0.62 * layout.font for a, b in itertools.pairwise(xs))
    bars = svg.count('<rect class="bar"')
    assert bars <= layout.bars
    total = sum(
        int(n) for n in re.findall(r": ([0-9,]+) page views?</title>", svg.replace(",", ""))
    )
    assert total == sum(range(count))  # grouped bars keep every page view


def test_three_drawings_one_caption() -> None:
    html = charts(Series("day", days(30)))
    assert html.startswith('<div id="traffic-chart" class="charts">')
    assert list(re.findall(r'class="chart chart-(\w+)"', html)) == [
        "wide",
        "medium",
        "narrow",
    ]
    assert html.count('role="img"') == 3
    assert caption(Series("day", days(30))) in html
    assert "most on Jan 30, 2026 (29)" in caption(Series("day", days(30)))


def test_empty_series() -> None:
    html = charts(Series("day", []))
    assert html.count("no page views in this range") == 3
    assert "<rect" not in html


def test_grouped_bars_say_their_span() -> None:
    svg = chart(Series("day", days(400)), LAYOUTS[2], caption="x")
    assert "Jan 1, 2026 \u2013 Jan 7, 2026: 21 page views" in svg


# -- the URL ------------------------------------------------------------------------------------


def q(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for pair in text.split("&") if text else ():
        name, _, value = pair.partition("=")
        found.setdefault(name, []).append(value)
    return found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", Query(), id="default today"),
        pytest.param("days=7", Query(days=7), id="days"),
        pytest.param("days=all", Query(days=None), id="all"),
        pytest.param(
            "from=2026-11-01&to=2026-11-30",
            Query(days=None, start=date(2026, 11, 1), end=date(2026, 11, 30)),
            id="dates",
        ),
        pytest.param("from=&to=", Query(), id="empty date form"),
        pytest.param("where=sources:Google", Query(where=("sources", "Google")), id="where"),
        pytest.param("where=paths:/a:b", Query(where=("paths", "/a:b")), id="colon in member"),
        pytest.param("limit=100", Query(limit=100), id="limit"),
        pytest.param("sort=p95", Query(sort="p95"), id="sort"),
        pytest.param("dimension=paths", Query(dimension="paths"), id="dimension"),
        pytest.param("token=x&utm_source=y", Query(), id="unknown names ignored"),
    ],
)
def test_parse(text: str, expected: Query) -> None:
    assert parse(q(text)) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("from=2026-11-01", id="from alone"),
        pytest.param("to=2026-11-01", id="to alone"),
        pytest.param("from=2026-11-02&to=2026-11-01", id="backwards"),
        pytest.param("from=2026-13-01&to=2026-12-01", id="month 13"),
        pytest.param("from=2026-02-30&to=2026-03-01", id="february 30"),
        pytest.param("from=20261101&to=20261130", id="basic format"),
        pytest.param("from=2026-W44-1&to=2026-11-30", id="week date"),
        pytest.param("from=1969-12-31&to=1970-01-05", id="before the epoch"),
        pytest.param("from=2000-01-01&to=2026-01-01", id="longer than 3660 days"),
        pytest.param("days=7&from=2026-11-01&to=2026-11-02", id="days and dates"),
        pytest.param("days=7&days=30", id="days twice"),
        pytest.param("where=sources", id="where without member"),
        pytest.param("where=sources:", id="where empty member"),
        pytest.param("where=browsers:Chrome", id="where not a filter"),
        pytest.param("where=paths:" + "x" * 1025, id="where too long"),
        pytest.param("sort=slowest", id="sort unknown"),
        pytest.param("dimension=Paths!", id="dimension invalid"),
        pytest.param("dimension=nope", id="dimension unknown"),
        pytest.param("limit=101", id="limit over the page's"),
    ],
)
def test_parse_refuses(text: str) -> None:
    with pytest.raises(BadQuery):
        parse(q(text), limits=PAGE, dimensions=["paths", "sources"])


def test_export_takes_longer_tables() -> None:
    assert parse(q("limit=10000"), limits=EXPORT).rows(EXPORT) == 10_000
    assert parse(q(""), limits=EXPORT).rows(EXPORT) == 1000


@pytest.mark.parametrize(
    ("query", "params"),
    [
        pytest.param(Query(), [], id="default"),
        pytest.param(Query(days=None), [("days", "all")], id="all"),
        pytest.param(
            Query(days=None, start=date(2026, 1, 2), end=date(2026, 1, 3), where=("paths", "/")),
            [("from", "2026-01-02"), ("to", "2026-01-03"), ("where", "paths:/")],
            id="dates and filter",
        ),
        pytest.param(
            Query(days=30, dimension="paths", limit=500, sort="p99"),
            [("days", "30"), ("dimension", "paths"), ("limit", "500"), ("sort", "p99")],
            id="all of it",
        ),
    ],
)
def test_params_round_trip(query: Query, params: list[tuple[str, str]]) -> None:
    assert query.params() == params
    back = parse({name: [value] for name, value in params}, limits=EXPORT)
    assert back == query
