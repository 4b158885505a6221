"""The dashboard's pages through Starlette's TestClient, on data written by a real Recorder into
the test server: ranges, links that keep the range and filter, tables opened in full, the CSV
export parsed back, the live view, and bad parameters."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
from starlette.testclient import TestClient

from wsgi_analytics import WSGIAnalytics
from wsgi_analytics.dashboard import app
from wsgi_analytics.keys import Keys, day_label, today
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.request.facts import from_environ
from wsgi_analytics.sketch import bucket, quantiles

from .helpers import FIREFOX, visit

LOCAL = ("127.0.0.1", 40000)
# Paths a client may send: each must survive a link and come back as the same member.
ODD = ["/a&b=c", "/q?x#y", '/"quoted"', "/<b>", "/with space", "/plus+sign", "/100%", "/=cmd"]


@pytest.fixture
def site(client: redis.Redis, redis_url: str) -> Iterator[TestClient]:
    """12 pages with 12 down to 1 page views (78 in all), 3 of them from a referrer, 2 misses."""
    recorder = Recorder(redis_url)
    for rank in range(12):
        for _ in range(12 - rank):
            visit(recorder, f"/page-{rank:02d}")
    for _ in range(3):
        visit(recorder, "/page-00", referrer="https://news.ycombinator.com/item?id=1")
    visit(recorder, "/missing", status=404)
    visit(recorder, "/missing", status=404)
    recorder.close()
    dashboard = app(client=client, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1:8050", client=LOCAL) as tc:
        yield tc


class Links(HTMLParser):
    """The ``<a href>`` of a page, with their text."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.found.append((dict(attrs).get("href") or "", ""))
            self._open = []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.found[-1] = (self.found[-1][0], "".join(self._open).strip())
            self._open = None


def links(html: str) -> dict[str, str]:
    """Link text -> href (the href as a browser reads it: entities decoded)."""
    parser = Links()
    parser.feed(html)
    return {text: href for href, text in parser.found}


def params(href: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(href).query, keep_blank_values=True)


def test_range_links_and_header(site: TestClient) -> None:
    html = site.get("/?days=30").text
    found = links(html)
    assert found["Today"] == "/"
    assert found["7 days"] == "/?days=7"
    assert found["90 days"] == "/?days=90"
    assert found["All"] == "/?days=all"
    assert "class=on aria-current=page>30 days</a>" in html
    assert '<h1 class="range">Last 30 days <span class="dates">' in html
    assert found["Export CSV"] == "/export.csv?days=30"
    assert found["JSON"] == "/api.json?days=30"
    assert found["Live view"] == "/live"


def test_date_form_needs_no_script(site: TestClient) -> None:
    response = site.get("/?days=7")
    html = response.text
    assert '<form class="dates" method="get" action="/"' in html
    assert 'type="date" name="from"' in html
    assert 'type="date" name="to"' in html
    assert "<script" not in html
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "form-action 'self'" in policy  # the GET form may go to the page itself only
    assert "script-src" not in policy


def test_more_link_opens_the_full_table(site: TestClient) -> None:
    html = site.get("/?days=7").text
    assert '<div class="v">81</div>' in html  # page views
    more = links(html)["2 more · show all"]
    assert params(more) == {"days": ["7"], "dimension": ["paths"]}
    assert more.endswith("#dim-paths")
    full = site.get(more.partition("#")[0]).text
    rows = [f"/page-{rank:02d}" for rank in range(12)]
    assert all(f">{path}</span>" in full for path in rows)
    assert "more · show all" not in full
    assert 'id="dim-browsers"' not in full  # that table alone
    assert links(full)["← all panels"] == "/?days=7"


def test_limit_opens_more_rows(site: TestClient) -> None:
    html = site.get("/?limit=3").text
    assert links(html)["9 more · show all"] == "/?dimension=paths#dim-paths"
    assert "/page-03" not in html


def test_filter_links_carry_any_member(client: redis.Redis, redis_url: str) -> None:
    recorder = Recorder(redis_url)
    for path in ODD:
        visit(recorder, path)
    recorder.close()
    with TestClient(
        app(client=client, trust_local=True), base_url="http://127.0.0.1:8050", client=LOCAL
    ) as tc:
        html = tc.get("/?days=7&limit=20").text
    found = {href: text for text, href in links(html).items()}
    members = {}
    for href in found:
        query = params(href)
        if "where" in query:
            assert query["days"] == ["7"]  # the range is kept; the limit is not
            assert "limit" not in query
            members[query["where"][0]] = href
    # The visits' source and country are filter links too: (direct), (unknown).
    assert sorted(members) == sorted(
        [*(f"paths:{path}" for path in ODD), "sources:(direct)", "countries:(unknown)"]
    )
    assert "<b>" not in html
    assert "&lt;b&gt;" in html


def test_export_csv(site: TestClient) -> None:
    response = site.get("/export.csv?days=7")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="analytics-')
    assert disposition.endswith('.csv"')
    assert response.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["dimension", "member", "count"]
    paths = [(member, int(count)) for name, member, count in rows[1:] if name == "paths"]
    assert paths == [("/page-00", 15)] + [(f"/page-{r:02d}", 12 - r) for r in range(1, 12)]
    referrers = [row for row in rows if row[0] == "referrers"]
    assert referrers == [
        ["referrers", "(direct)", "78"],
        ["referrers", "news.ycombinator.com", "3"],
    ]
    assert ["not_found", "/missing", "2"] in rows
    assert ["statuses", "200", "81"] in rows


def test_export_one_dimension_and_formulas(client: redis.Redis, redis_url: str) -> None:
    recorder = Recorder(redis_url)
    for path in ("=HYPERLINK(1)", "+1", "-1", "@SUM(1)", "/plain"):
        visit(recorder, "/" + path if path == "/plain" else path)
    recorder.close()
    with TestClient(
        app(client=client, trust_local=True), base_url="http://127.0.0.1", client=LOCAL
    ) as tc:
        response = tc.get("/export.csv?dimension=paths&limit=2")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["dimension", "member", "count"]
        assert {row[0] for row in rows[1:]} == {"paths"}
        assert len(rows) == 3  # limit=2
        every = list(csv.reader(io.StringIO(tc.get("/export.csv?dimension=paths").text)))
    members = sorted(row[1] for row in every[1:])
    assert members == ["'+1", "'-1", "'=HYPERLINK(1)", "'@SUM(1)", "//plain"]


def test_live_view_refreshes_itself(site: TestClient) -> None:
    live = site.get("/live")
    assert live.status_code == 200
    assert '<meta http-equiv="refresh" content="10">' in live.text
    assert 'id="dim-paths"' in live.text
    assert links(live.text)["← Dashboard"] == "/"
    assert "http-equiv" not in site.get("/").text  # only the live view reloads
    assert live.headers["cache-control"] == "no-store"
    # One visitor (one address and agent) in the last minutes, on both pages.
    assert '<span class="dot" aria-hidden="true"></span>1</div>' in live.text
    assert "1 now" in live.text.split("</title>")[0]
    page = site.get("/?days=30").text
    assert card(page, "Visitors now").startswith("Visitors now1in the last 5 minutes")


@pytest.mark.parametrize("path", ["/", "/api.json", "/export.csv", "/live"])
@pytest.mark.parametrize(
    "query",
    [
        pytest.param("from=2026-11-01", id="from alone"),
        pytest.param("from=2026-11-02&to=2026-11-01", id="backwards"),
        pytest.param("from=2026-02-30&to=2026-03-01", id="no such day"),
        pytest.param("days=7&from=2026-11-01&to=2026-11-02", id="days and dates"),
        pytest.param("where=browsers:Firefox", id="not a filter"),
        pytest.param("where=paths:", id="empty member"),
        pytest.param("dimension=nope", id="no such dimension"),
        pytest.param("sort=slowest", id="unknown sort"),
        pytest.param("days=1&days=7", id="twice"),
    ],
)
def test_bad_parameters_are_400(site: TestClient, path: str, query: str) -> None:
    response = site.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-disposition" not in response.headers


# -- ranges and comparisons: today through a real Recorder, past days through the documented
# key layout (a backfill: the recorder stamps the current time, and the contract says that
# counts written with the layout read back the same)


def backfill(client: redis.Redis, back: int, paths: list[str]) -> None:
    """Page views of one past day, each from a visitor of its own, at 12:00 UTC."""
    keys, number = Keys("analytics"), today() - back
    label = day_label(number)
    pipe = client.pipeline(transaction=False)
    for index, path in enumerate(paths):
        for key in keys.targets("paths", number):
            pipe.zincrby(key, 1, path)
        pipe.zincrby(keys.day("timeline", number), 1, f"{label}T12")
        pipe.zincrby(keys.all("days"), 1, label)
        pipe.pfadd(keys.uniques(number), f"visitor-{back}-{index}")
    pipe.execute()


@pytest.fixture
def week(client: redis.Redis, redis_url: str) -> TestClient:
    """Today 6 page views (4 visitors), yesterday none, 2 days ago 3, 3 days ago 1, 5 days
    ago 2 (one visitor a page view)."""
    recorder = Recorder(redis_url)
    for number, path in enumerate(["/a", "/a", "/b", "/c", "/a", "/b"]):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "HTTP_HOST": "example.org",
            "HTTP_USER_AGENT": FIREFOX,
            "REMOTE_ADDR": f"198.51.100.{number % 4 + 1}",
            "HTTP_ACCEPT": "text/html",
        }
        recorder.record(from_environ(environ), 200)
    recorder.close()
    backfill(client, 2, ["/b", "/b", "/c"])
    backfill(client, 3, ["/c"])
    backfill(client, 5, ["/d", "/d"])
    return TestClient(
        app(client=client, trust_local=True), base_url="http://127.0.0.1", client=LOCAL
    )


def day(back: int) -> str:
    return day_label(today() - back)


def card(html: str, label: str) -> str:
    """The text of one tile, tags stripped."""
    start = html.index(f'<div class="k">{label}</div>')
    end = html.index('<div class="card', start) if '<div class="card' in html[start:] else None
    return re.sub(r"<[^>]+>", "", html[start:end]).replace("\xa0", " ")


@pytest.mark.parametrize(
    ("query", "views", "paths", "previous", "change"),
    [
        pytest.param("", 6, [("/a", 3), ("/b", 2), ("/c", 1)], 0, "new", id="today"),
        pytest.param("days=2", 6, [("/a", 3), ("/b", 2), ("/c", 1)], 4, "+50%", id="2 days"),
        pytest.param("days=3", 9, [("/b", 4), ("/a", 3), ("/c", 2)], 3, "+200%", id="3 days"),
        pytest.param(
            f"from={day(3)}&to={day(2)}", 4, [("/b", 2), ("/c", 2)], 2, "+100%", id="2 dates"
        ),
        pytest.param(
            f"from={day(5)}&to={day(3)}", 3, [("/d", 2), ("/c", 1)], None, None, id="3 dates"
        ),  # the days before the site's first page view are no period to compare with
        pytest.param(f"from={day(1)}&to={day(1)}", 0, [], 3, "\u2212100%", id="quiet day"),
        pytest.param(
            "days=7", 12, [("/a", 3), ("/b", 4), ("/c", 3), ("/d", 2)], None, None, id="week"
        ),
    ],
)
def test_ranges_and_previous_period(
    week: TestClient,
    query: str,
    views: int,
    paths: list[tuple[str, int]],
    previous: int | None,
    change: str | None,
) -> None:
    with week:
        data = week.get(f"/api.json?{query}").json()
        html = week.get(f"/?{query}").text
        exported = week.get(f"/export.csv?{query}&dimension=paths").text
    assert data["page_views"] == views
    if previous is None:
        assert data["previous"] is None
    else:
        assert data["previous"]["page_views"] == previous
    rows = sorted((row["member"], row["count"]) for row in data["dimensions"]["paths"]["rows"])
    assert rows == sorted(paths)
    assert sorted((m, int(n)) for _, m, n in list(csv.reader(io.StringIO(exported)))[1:]) == (
        sorted(paths)
    )
    tile = card(html, "Page views")
    assert f"{views:,}" in tile
    if previous is None:
        assert " vs " not in tile
    else:
        assert change is not None
        assert change in tile
        assert f"vs {previous:,}" in tile  # in words, not only an arrow or a colour


def test_range_header_and_form_keep_the_dates(week: TestClient) -> None:
    with week:
        html = week.get(f"/?from={day(3)}&to={day(2)}&limit=5").text
    first, last = date.fromisoformat(day(3)), date.fromisoformat(day(2))
    words = f"{first:%b} {first.day}" + (f", {first.year}" if first.year != last.year else "")
    assert f'<h1 class="range">{words} \u2013 {last:%b} {last.day}, {last.year} ' in html
    assert '<span class="dates">2 days · UTC</span>' in html
    assert f'name="from" value="{day(3)}"' in html
    assert f'name="to" value="{day(2)}"' in html
    found = links(html)
    assert params(found["7 days"]) == {"days": ["7"], "limit": ["5"]}
    assert params(found["Export CSV"]) == {"from": [day(3)], "to": [day(2)]}
    assert "class=on aria-current=page" not in html.split("</nav>")[0]  # no preset is current


def test_uniques_compared_too(week: TestClient) -> None:
    with week:
        html = week.get("/?days=2").text
    tile = card(html, "Unique visitors")
    assert "4" in tile  # four addresses today
    assert "vs 4" in tile  # one visitor a page view on the two days before
    assert "\u00b10%" in tile


def test_all_time_has_no_comparison(week: TestClient) -> None:
    with week:
        html = week.get("/?days=all").text
    assert "vs " not in card(html, "Page views")
    assert '<div class="v">12</div>' in html


# -- endpoints ----------------------------------------------------------------------------------

ROUTES = {
    # route: (durations in ms, 4xx, 5xx)
    "GET /items/{item_id}": ([10.0] * 8 + [40.0, 300.0], 2, 0),
    "POST /orders": ([120.0] * 3 + [900.0], 0, 1),
    "GET /health": ([1.0] * 5, 0, 0),
}


def write_routes(client: redis.Redis) -> None:
    """Route counts and response-time sketches of today, written with the documented layout
    (`Keys.sketch`, the routes dimensions), as the recorder stores them."""
    keys, number = Keys("analytics"), today()
    pipe = client.pipeline(transaction=False)
    for route, (durations, client_errors, errors) in ROUTES.items():
        for name, count in (
            ("routes", len(durations)),
            ("routes_4xx", client_errors),
            ("routes_5xx", errors),
        ):
            if count:
                for key in keys.targets(name, number):
                    pipe.zincrby(key, count, route)
        for ms in durations:
            for key in (keys.sketch(route, number), keys.sketch(route, None)):
                pipe.zincrby(key, 1, str(bucket(ms / 1000)))
    pipe.execute()


def expected_ms(route: str, q: float) -> float:
    return quantiles([(str(bucket(ms / 1000)), 1) for ms in ROUTES[route][0]], (q,))[0]


def endpoint_rows(html: str) -> list[list[str]]:
    table = html[
        html.index('<table class="routes">') : html.index(
            "</table>", html.index('<table class="routes">')
        )
    ]
    rows = re.findall(r"<tr><td class=\"route\">(.*?)</tr>", table)
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + row)]
        for row in rows
    ]


def test_endpoints_table(client: redis.Redis) -> None:
    write_routes(client)
    with TestClient(
        app(client=client, trust_local=True), base_url="http://127.0.0.1", client=LOCAL
    ) as tc:
        html = tc.get("/?days=7").text
        by_p95 = tc.get("/?days=7&sort=p95").text
        by_errors = tc.get("/?days=7&sort=errors").text
        data = tc.get("/api.json?days=7").json()
    assert "3 routes · 19 requests" in html
    rows = endpoint_rows(html)
    assert [row[0] for row in rows] == ["GET /items/{item_id}", "GET /health", "POST /orders"]
    items = rows[0]
    assert items[1:4] == ["10", "20%", "0%"]  # requests, 4xx, 5xx
    assert items[6] == f"{expected_ms('GET /items/{item_id}', 0.99):.1f} ms"  # 40 ms within 2 %
    assert rows[2][1:4] == ["4", "0%", "25%"]
    assert [row[0] for row in endpoint_rows(by_p95)] == [
        "POST /orders",
        "GET /items/{item_id}",
        "GET /health",
    ]
    assert next(row[0] for row in endpoint_rows(by_errors)) == "POST /orders"
    assert 'aria-sort="descending">p95' in by_p95
    sort_links = {text: href for text, href in links(html).items() if "sort=" in href}
    assert params(sort_links["p95"].partition("#")[0]) == {"days": ["7"], "sort": ["p95"]}
    assert [row["route"] for row in data["routes"]] == [row[0] for row in rows]
    assert data["routes"][2]["errors"] == 1
    assert 'id="dim-routes_4xx"' not in html  # read into the table, never shown alone


def test_bursty_day_shows_the_hours_around_its_traffic(week: TestClient) -> None:
    with week:
        html = week.get(f"/?from={day(2)}&to={day(2)}").text  # 3 page views, all at 12:00
    assert "Page views per hour" in html
    wide = html[html.index('class="chart chart-wide"') :].split("</svg>")[0]
    labels = re.findall(r'class="axis x"[^>]*>([^<]*)</text>', wide)
    assert labels[0] == "10:00"  # two quiet hours before the burst, not midnight
    assert labels[-1] <= "21:00"
    assert wide.count('<rect class="bar"') == 1
    assert "3 page views</title>" in wide


def test_endpoints_recorded_by_the_middleware(client: redis.Redis, redis_url: str) -> None:
    """An API behind `WSGIAnalytics`: its routes, statuses and times on the page."""

    def api(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ["PATH_INFO"]
        if path.startswith("/items/"):
            environ["wsgi_analytics.route"] = "/items/{item_id}"
        status = {"gone": "404 Not Found", "boom": "500 Internal Server Error"}.get(
            path.rsplit("/", 1)[-1], "200 OK"
        )
        start_response(status, [("Content-Type", "application/json")])
        return [b"{}"]

    recorder = Recorder(redis_url, flush_interval=60)
    wrapped = WSGIAnalytics(api, recorder=recorder)
    for path in ["/items/1", "/items/2", "/items/3", "/items/4/gone", "/items/5/boom", "/ping"]:
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "SERVER_NAME": "example.org",
            "SERVER_PORT": "80",
            "wsgi.url_scheme": "http",
            "REMOTE_ADDR": "192.0.2.1",
            "HTTP_USER_AGENT": FIREFOX,
        }
        body = wrapped(environ, lambda status, headers, exc_info=None: lambda data: None)
        b"".join(body)
        getattr(body, "close", lambda: None)()
    recorder.close()
    with TestClient(
        app(client=client, trust_local=True), base_url="http://127.0.0.1", client=LOCAL
    ) as tc:
        html = tc.get("/").text
    assert "2 routes · 6 requests" in html
    rows = endpoint_rows(html)
    assert [row[:4] for row in rows] == [
        ["GET /items/{item_id}", "5", "20%", "20%"],
        ["GET /ping", "1", "0%", "0%"],
    ]
    assert all(cell.endswith(" ms") for row in rows for cell in row[4:7])
    assert '<div class="v">0</div>' in html  # JSON answers are requests, not page views
