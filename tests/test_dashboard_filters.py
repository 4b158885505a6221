"""The dashboard's drill-down filters through TestClient, on visits a real Recorder counted:
sources and countries as links, a page filtered by a source, a country, a path, and back."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
import redis
from starlette.testclient import TestClient

from wsgi_analytics.dashboard import app
from wsgi_analytics.recording.recorder import Recorder

from .helpers import visit
from .test_dashboard_pages import LOCAL, card, links, params

# -- filters: sources, countries and paths written by a real Recorder ---------------------------

HN = "https://news.ycombinator.com/item?id=42"
GOOGLE = "https://www.google.fr/"
VISITS = [
    # (path, referrer, address): Hacker News sends 4 page views, Google 2, 2 come direct.
    ("/a", HN, "8.8.8.8"),  # US
    ("/a", HN, "8.8.8.8"),
    ("/a", HN, "81.2.69.142"),  # GB
    ("/b", HN, "81.2.69.142"),
    ("/a", "", "193.51.224.1"),  # FR
    ("/a", "", "193.51.224.1"),
    ("/c", GOOGLE, "193.51.224.1"),
    ("/c", GOOGLE, "8.8.8.8"),
]


@pytest.fixture
def sources(client: redis.Redis, redis_url: str) -> Iterator[TestClient]:
    recorder = Recorder(redis_url)
    for path, referrer, address in VISITS:
        visit(recorder, path, referrer, address=address)
    recorder.close()
    dashboard = app(client=client, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1", client=LOCAL) as tc:
        yield tc


def table_rows(html: str, name: str) -> list[tuple[str, int]]:
    """The (member, count) rows of one panel, as shown (tags stripped)."""
    start = html.index(f'id="dim-{name}"')
    panel = html[start : html.index("</table>", start)]
    rows = re.findall(r'<td class="member">(.*?)</td><td class="n">([0-9,]+)</td>', panel)
    return [(re.sub(r"<[^>]+>", "", member), int(count.replace(",", ""))) for member, count in rows]


def test_unfiltered_sources_and_countries(sources: TestClient) -> None:
    html = sources.get("/").text
    assert table_rows(html, "sources") == [("Hacker News", 4), ("(direct)", 2), ("Google", 2)]
    assert table_rows(html, "countries") == [
        ("France FR", 3),
        ("United States US", 3),
        ("United Kingdom GB", 2),
    ]
    found = links(html)
    assert params(found["Hacker News"]) == {"where": ["sources:Hacker News"]}
    assert found["Hacker News"] == "/?where=sources%3AHacker+News"


def test_filter_by_source_shows_its_pages(sources: TestClient) -> None:
    html = sources.get(links(sources.get("/?days=7").text)["Hacker News"]).text
    assert '<div class="v">4</div>' in html  # page views from Hacker News
    assert table_rows(html, "paths") == [("/a", 3), ("/b", 1)]
    assert table_rows(html, "countries") == [("United Kingdom GB", 2), ("United States US", 2)]
    assert table_rows(html, "sources") == [("Hacker News", 4)]
    assert "not counted per filter" in card(html, "Unique visitors")
    assert "\u2014" in card(html, "Unique visitors")
    assert "Filtered:" in html
    found = links(html)
    assert found["\u00d7 clear filter"] == "/?days=7"
    assert 'id="dim-bots"' not in html  # requests are not filtered: not shown
    csv_rows = list(csv.reader(io.StringIO(sources.get(found["Export CSV"]).text)))
    assert csv_rows[0] == ["dimension", "member", "count", "where"]
    assert ["paths", "/a", "3", "sources:Hacker News"] in csv_rows
    assert [row[:2] for row in csv_rows if row[:2] == ["paths", "/c"]] == []


def test_filter_by_page_shows_its_sources(sources: TestClient) -> None:
    html = sources.get("/?where=paths:/a").text
    assert '<div class="v">5</div>' in html
    assert table_rows(html, "sources") == [("Hacker News", 3), ("(direct)", 2)]
    assert table_rows(html, "paths") == [("/a", 5)]


def test_filter_by_country(sources: TestClient) -> None:
    html = sources.get("/?where=countries:FR").text
    assert '<div class="v">3</div>' in html
    assert "France" in html.split("Filtered:")[1].split("</p>")[0]
    assert table_rows(html, "paths") == [("/a", 2), ("/c", 1)]
    assert table_rows(html, "sources") == [("(direct)", 2), ("Google", 1)]
