"""Where page views come from, in Redis: sources, channels, campaigns, countries, the site's time
zone, the drill-down pairs and the live minutes. Real servers, exact counts."""

from __future__ import annotations

import asyncio
import collections
import io
import logging
import os
import random
import sys
import time
from collections import deque
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics
from wsgi_analytics.keys import (
    PAIR_DIMENSIONS,
    PAIR_FILTERS,
    TIMELINE,
    Keys,
    pair_member,
    split_pair,
)
from wsgi_analytics.recording import recorder as recorder_module
from wsgi_analytics.recording.pairs import PAIRED
from wsgi_analytics.recording.pending import Pending, pack
from wsgi_analytics.recording.rules import UTC, Event, Setup, increments, viewed
from wsgi_analytics.recording.writer import Writer
from wsgi_analytics.request.agents import Agent, default_classifier
from wsgi_analytics.request.clock import SiteClock
from wsgi_analytics.request.facts import Facts, from_environ
from wsgi_analytics.request.geo import open_countries

from .helpers import zscores

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
HOST = "shop.example"


def html(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [b"<p>hi</p>"]


async def html_asgi(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html")],
        }
    )
    await send({"type": "http.response.body", "body": b"<p>hi</p>"})


def environ(
    path: str = "/",
    *,
    query: str = "",
    referrer: str = "",
    client: str = "192.0.2.7",
    agent: str = CHROME,
    **headers: str,
) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": "443",
        "HTTP_HOST": HOST,
        "HTTP_USER_AGENT": agent,
        "REMOTE_ADDR": client,
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "https",
    }
    if referrer:
        env["HTTP_REFERER"] = referrer
    env.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return env


def serve(app: Any, env: dict[str, Any]) -> None:
    body = app(env, lambda status, headers, exc_info=None: None)
    try:
        b"".join(body)
    finally:
        body.close()


def today_set(client: redis.Redis, dimension: str, prefix: str = "analytics") -> dict[str, float]:
    keys = Keys(prefix)
    return zscores(client, keys.day(dimension, int(time.time() // 86400)))


# -- sources, channels, campaigns ----------------------------------------------------------------

# (query string, referrer, source, channel, campaign tags); each row is sent `index + 1` times.
ACQUISITION = [
    ("", "", "(direct)", "Direct", {}),
    ("", "https://www.google.com/", "Google", "Organic Search", {}),
    ("", "https://www.google.fr/search?q=x", "Google", "Organic Search", {}),
    ("", "https://www.google.co.uk/", "Google", "Organic Search", {}),
    ("", "https://duckduckgo.com/", "DuckDuckGo", "Organic Search", {}),
    ("", "https://news.ycombinator.com/item?id=1", "Hacker News", "Organic Social", {}),
    ("", "https://old.reddit.com/r/python/", "Reddit", "Organic Social", {}),
    ("", "https://t.co/abc", "Twitter", "Organic Social", {}),
    ("", "https://l.facebook.com/l.php", "Facebook", "Organic Social", {}),
    ("", "https://chatgpt.com/", "ChatGPT", "Referral", {}),
    ("", "https://blog.example.org/post", "blog.example.org", "Referral", {}),
    ("", f"https://{HOST}/other/", None, None, {}),  # inside the site: no source
    ("gclid=abc123", "https://www.google.com/", "Google", "Paid Search", {}),
    ("msclkid=1", "https://www.bing.com/", "Bing", "Paid Search", {}),
    ("gclid=abc", "", "Google", "Paid Search", {}),  # referrer dropped by an app
    ("fbclid=x", "https://m.facebook.com/", "Facebook", "Organic Social", {}),
    (
        "utm_source=newsletter&utm_medium=email&utm_campaign=december",
        "",
        "newsletter",
        "Email",
        {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "december"},
    ),
    (
        "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=shoes&utm_content=ad+1",
        "https://www.google.com/",
        "Google",
        "Paid Search",
        {
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "brand",
            "utm_term": "shoes",
            "utm_content": "ad 1",
        },
    ),
    ("ref=producthunt", "", "Product Hunt", "Organic Social", {}),
    ("ref=mysite", "", "mysite", "Referral", {}),
    (
        "utm_source=hn&utm_campaign=launch",
        f"https://{HOST}/",  # a tagged link on the site itself still counts
        "Hacker News",
        "Organic Social",
        {"utm_source": "hn", "utm_campaign": "launch"},
    ),
    ("utm_source=%20Spaced%20&x=1", "", "Spaced", "Unassigned", {"utm_source": "Spaced"}),
]


def test_sources_channels_and_campaigns_are_counted_exactly(
    recorder: Recorder, client: redis.Redis
) -> None:
    app = WSGIAnalytics(html, recorder=recorder)
    sources: collections.Counter[str] = collections.Counter()
    channels: collections.Counter[str] = collections.Counter()
    tags: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for times, (query, referrer, source, channel, campaign) in enumerate(ACQUISITION, 1):
        for _ in range(times):
            serve(app, environ("/landing/", query=query, referrer=referrer))
        if source is not None and channel is not None:
            sources[source] += times
            channels[channel] += times
        for dimension, value in campaign.items():
            tags[dimension][value] += times
    recorder.flush()
    total = sum(range(1, len(ACQUISITION) + 1))
    assert today_set(client, "paths") == {"/landing/": total}
    assert today_set(client, "sources") == sources
    assert today_set(client, "channels") == channels
    for dimension in ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"):
        assert today_set(client, dimension) == tags.get(dimension, {}), dimension
    keys = recorder.keys
    assert zscores(client, keys.all("sources")) == sources


def test_campaigns_count_only_page_views(recorder: Recorder, client: redis.Redis) -> None:
    def not_found(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("404 Not Found", [("Content-Type", "text/html")])
        return [b""]

    serve(WSGIAnalytics(not_found, recorder=recorder), environ(query="utm_source=x"))
    serve(WSGIAnalytics(html, recorder=recorder), environ(query="utm_source=x", agent="curl/8"))
    recorder.flush()
    for dimension in ("sources", "channels", "utm_source", "countries"):
        assert today_set(client, dimension) == {}, dimension


# -- countries -----------------------------------------------------------------------------------

COUNTRIES = [
    pytest.param("8.8.8.8", "US", id="public v4"),
    pytest.param("193.0.6.139", "NL", id="ripe v4"),
    pytest.param("1.0.16.1", "JP", id="apnic v4"),
    pytest.param("2a01:cb00::1", "FR", id="public v6 (grouped by /64)"),
    pytest.param("::ffff:200.160.0.8", "BR", id="v4-mapped"),
    pytest.param("10.0.0.1", "(unknown)", id="private"),
    pytest.param("fd00::1", "(unknown)", id="unique local v6"),
    pytest.param("not-an-address", "(unknown)", id="unix socket name"),
]


@pytest.mark.parametrize(("address", "country"), COUNTRIES)
def test_country_of_the_client(
    recorder: Recorder, client: redis.Redis, address: str, country: str
) -> None:
    serve(WSGIAnalytics(html, recorder=recorder), environ(client=address, cf_ipcountry="DE"))
    recorder.flush()
    # The header is never read unless configured: the address decides.
    assert today_set(client, "countries") == {country: 1}
    # The address is looked up, never stored.
    for key in client.scan_iter(match="*"):
        assert address not in key
        if client.type(key) == "zset":
            assert not any(address in member for member in client.zrange(key, 0, -1))


def test_country_follows_the_client_identity_behind_proxies(
    recorder: Recorder, client: redis.Redis
) -> None:
    """The address the throttle and the uniques use: the trusted X-Forwarded-For entry."""
    app = WSGIAnalytics(html, recorder=recorder, trusted_proxies=1)
    serve(app, environ(client="10.0.0.2", x_forwarded_for="6.6.6.6, 193.0.6.139"))
    serve(app, environ(client="10.0.0.2"))  # no header: the peer, a private address
    recorder.flush()
    assert today_set(client, "countries") == {"NL": 1, "(unknown)": 1}


@pytest.mark.parametrize(
    ("trusted", "requests", "visitors"),
    [
        pytest.param(0, [("203.0.113.9", ""), ("203.0.113.9", "6.6.6.6")], 1, id="peer only"),
        pytest.param(1, [("10.0.0.2", "6.6.6.6"), ("10.0.0.2", "7.7.7.7")], 2, id="trusted entry"),
        pytest.param(
            1, [("10.0.0.2", "1.1.1.1, 6.6.6.6"), ("10.0.0.2", "6.6.6.6")], 1, id="spoofed left"
        ),
        pytest.param(1, [("10.0.0.2", ""), ("10.0.0.3", "")], 2, id="no header: the peers"),
        pytest.param(0, [("2001:db8:1:2::1", ""), ("2001:db8:1:2::ff", "")], 1, id="ipv6 same /64"),
        pytest.param(0, [("2001:db8:1:2::1", ""), ("2001:db8:1:3::1", "")], 2, id="ipv6 two /64"),
        pytest.param(0, [("::ffff:203.0.113.9", ""), ("203.0.113.9", "")], 1, id="ipv4-mapped"),
    ],
)
def test_uniques_follow_the_client_identity(
    recorder: Recorder,
    client: redis.Redis,
    trusted: int,
    requests: list[tuple[str, str]],
    visitors: int,
) -> None:
    """Who a visitor is, found when the request is drained (the queue holds the peer, the
    header and the number of trusted proxies): the same rule as the throttle's."""
    app = WSGIAnalytics(html, recorder=recorder, trusted_proxies=trusted)
    for peer, forwarded in requests:
        serve(app, environ(client=peer, x_forwarded_for=forwarded))
    recorder.flush()
    assert client.pfcount(Keys().uniques(int(time.time() // 86400))) == visitors


def test_geoip_false_counts_no_countries(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, geoip=False)
    serve(WSGIAnalytics(html, recorder=recorder), environ(client="8.8.8.8"))
    recorder.close()
    assert today_set(client, "paths") == {"/": 1}
    assert not client.keys("{analytics:countries}*")
    assert not client.keys("{analytics:pairs.countries}*")


def _geolite(code: str) -> dict[str, Any]:
    return {"country": {"geoname_id": 1, "iso_code": code, "names": {"en": code}}}


def test_mmdb_file(redis_url: str, client: redis.Redis, tmp_path: Path) -> None:
    writer = MMDBWriter(
        ip_version=6,
        ipv4_compatible=True,
        database_type="GeoLite2-Country",
        languages=["en"],
        description="test",
    )
    for network, code in {"81.2.69.0/24": "GB", "2a02:ff0::/32": "DE", "8.8.8.0/24": "CH"}.items():
        writer.insert_network(IPSet([network]), _geolite(code))
    path = tmp_path / "Country.mmdb"
    writer.to_db_file(str(path))
    recorder = Recorder(redis_url, flush_interval=3600, geoip=path)
    app = WSGIAnalytics(html, recorder=recorder)
    for address in ("81.2.69.160", "81.2.69.161", "2a02:ff0:1::5", "8.8.8.8", "9.9.9.9"):
        serve(app, environ(client=address))
    recorder.close()
    # The file's answer, not the registry's (8.8.8.8 is US there); unknown to the file: unknown.
    assert today_set(client, "countries") == {"GB": 2, "DE": 1, "CH": 1, "(unknown)": 1}


def test_country_header_through_wsgi_and_asgi(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, country_header="CF-IPCountry")
    wsgi = WSGIAnalytics(html, recorder=recorder)
    serve(wsgi, environ(client="8.8.8.8", cf_ipcountry="fr"))
    serve(wsgi, environ(client="8.8.8.8", cf_ipcountry="XX"))  # Cloudflare's "unknown"
    serve(wsgi, environ(client="8.8.8.8"))  # no header: unknown, never looked up
    asgi = ASGIAnalytics(html_asgi, recorder=recorder)

    def scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "path": "/",
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", HOST.encode()), (b"user-agent", CHROME.encode()), *headers],
            "client": ("8.8.8.8", 5000),
        }

    async def call(headers: list[tuple[bytes, bytes]]) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Any) -> None:
            pass

        await asgi(scope(headers), receive, send)

    asyncio.run(call([(b"cf-ipcountry", b"DE")]))
    asyncio.run(call([(b"CF-IPCountry", b"JP")]))
    asyncio.run(call([(b"cf-ipcountry", b"T1")]))  # Tor
    recorder.close()
    assert today_set(client, "countries") == {"FR": 1, "DE": 1, "JP": 1, "(unknown)": 3}


def test_country_header_name_is_checked(redis_url: str) -> None:
    with pytest.raises(ValueError, match="country_header"):
        Recorder(redis_url, country_header="CF IPCountry")


# -- the site's time zone ------------------------------------------------------------------------


class _Stopped:
    """The `time` module with its clock stopped at one instant."""

    def __init__(self, instant: float) -> None:
        self.instant = instant

    def time(self) -> float:
        return self.instant

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> float:
    """The recorder's clock stopped at 10:30 UTC today: 00:30 tomorrow at UTC+14, 23:30
    yesterday at UTC-11 (the writer keeps the real clock for its expiries)."""
    now = time.time()
    instant = now - now % 86400 + 10.5 * 3600
    monkeypatch.setattr(recorder_module, "time", _Stopped(instant))
    return instant


def test_two_zones_far_apart(redis_url: str, client: redis.Redis, fixed_time: float) -> None:
    recorders = {
        zone: Recorder(redis_url, prefix=prefix, flush_interval=3600, timezone=zone)
        for zone, prefix in (("Pacific/Kiritimati", "east"), ("Pacific/Pago_Pago", "west"))
    }
    for recorder in recorders.values():
        app = WSGIAnalytics(html, recorder=recorder)
        for path in ("/", "/", "/a/"):
            serve(app, environ(path, client="8.8.8.8"))
        recorder.close()
    utc = datetime.fromtimestamp(fixed_time, timezone.utc)
    east = (utc + timedelta(hours=14)).date()
    west = (utc - timedelta(hours=11)).date()
    assert (east - west).days == 2
    for prefix, date, hour in (("east", east, "00"), ("west", west, "23")):
        keys = Keys(prefix)
        day = (date - datetime(1970, 1, 1).date()).days
        assert keys.day("paths", day).endswith(date.isoformat())
        assert zscores(client, keys.day("paths", day)) == {"/": 2, "/a/": 1}
        assert zscores(client, keys.day("timeline", day)) == {f"{date.isoformat()}T{hour}": 3}
        assert zscores(client, keys.all("days")) == {date.isoformat(): 3}
        assert client.pfcount(keys.uniques(day)) == 1
        assert client.hget(keys.meta(), "timezone") == recorders_zone(prefix)
        # Nothing under the other days.
        assert (
            client.zcard(keys.day("paths", day - 1))
            == client.zcard(keys.day("paths", day + 1))
            == 0
        )
        # A day key lives its retention past the end of its local day.
        end = SiteClock(recorders_zone(prefix)).day_end(day)
        assert abs(client.expiretime(keys.day("paths", day)) - (end + 90 * 86400)) <= 1


def recorders_zone(prefix: str) -> str:
    return {"east": "Pacific/Kiritimati", "west": "Pacific/Pago_Pago"}[prefix]


NEW_YORK = SiteClock("America/New_York")
PERSON = Agent("Chrome", "Windows", "desktop", None)


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(
    ("instant", "day", "hour"),
    [
        pytest.param("2026-03-08T04:59:59", "2026-03-07", "2026-03-07T23", id="before midnight"),
        pytest.param("2026-03-08T05:00:00", "2026-03-08", "2026-03-08T00", id="midnight EST"),
        pytest.param("2026-03-08T06:59:59", "2026-03-08", "2026-03-08T01", id="last EST second"),
        pytest.param("2026-03-08T07:00:00", "2026-03-08", "2026-03-08T03", id="02 is skipped"),
        pytest.param("2026-11-01T05:30:00", "2026-11-01", "2026-11-01T01", id="first 01 (EDT)"),
        pytest.param("2026-11-01T06:30:00", "2026-11-01", "2026-11-01T01", id="second 01 (EST)"),
        pytest.param("2026-11-02T04:59:59", "2026-11-01", "2026-11-01T23", id="25th hour"),
    ],
)
def test_rules_across_dst(instant: str, day: str, hour: str) -> None:
    facts = Facts("GET", "/", HOST, "", CHROME, "8.8.8.8", "", "", "")
    event = Event(_utc(instant), facts, 200, False, "8.8.8.8")
    counted = dict(increments(event, PERSON, Setup(NEW_YORK)))
    assert counted["timeline"] == hour
    assert counted["days"] == day


@pytest.mark.parametrize(
    ("day", "hours", "labels"),
    [
        pytest.param("2026-03-08", 23, {f"2026-03-08T{h:02d}": 1 for h in range(24) if h != 2}),
        pytest.param(
            "2026-11-01",
            25,
            {f"2026-11-01T{h:02d}": 2 if h == 1 else 1 for h in range(24)},
        ),
    ],
)
def test_a_recorder_across_a_dst_change(
    redis_url: str, client: redis.Redis, day: str, hours: int, labels: dict[str, int]
) -> None:
    """One page view in every UTC hour of a New York day with a DST change, counted and
    written by the recorder's own parts (`Pending`, `Writer`) at those fixed times."""
    number = NEW_YORK.day(_utc(f"{day}T12:00:00"))
    start, end = NEW_YORK.day_start(number), NEW_YORK.day_end(number)
    assert (end - start) // 3600 == hours
    facts = Facts("GET", "/", HOST, "", CHROME, "8.8.8.8", "", "", "")
    events = deque(
        pack(Event(t + 1800, facts, 200, False, "8.8.8.8")) for t in range(start, end, 3600)
    )
    pending = Pending(10_000, setup=Setup(NEW_YORK))
    pending.drain(events, default_classifier())
    source = redis.Redis.from_url(redis_url)
    try:
        Writer(source, Keys(), retention_days=3650, max_members=10_000, clock=NEW_YORK).write(
            pending
        )
    finally:
        source.close()
    keys = Keys()
    assert zscores(client, keys.day("timeline", number)) == labels
    assert zscores(client, keys.day("paths", number)) == {"/": hours}
    assert zscores(client, keys.all("days")) == {day: hours}
    # The timeline pairs of the page follow the same labels.
    pairs = zscores(client, keys.pairs("paths", number, "/"))
    assert {split_pair(m)[2]: n for m, n in pairs.items() if m.startswith(TIMELINE)} == labels


def test_zone_is_stored_and_a_conflict_is_reported(
    redis_url: str, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    first = Recorder(redis_url, prefix="site", flush_interval=3600, timezone="Europe/Paris")
    assert not client.exists("{site:meta}")  # nothing written yet
    first.track("signups", "pro")
    first.close()
    assert client.hgetall("{site:meta}") == {"timezone": "Europe/Paris", "retention_days": "90"}
    second = Recorder(redis_url, prefix="site", flush_interval=3600, timezone="Asia/Tokyo")
    assert second.timezone == "Asia/Tokyo"  # nothing read yet
    serve(WSGIAnalytics(html, recorder=second), environ())
    with caplog.at_level(logging.ERROR, logger="wsgi_analytics"):
        second.flush()
    assert second.timezone == "Europe/Paris"
    assert "Europe/Paris" in caplog.text
    assert "Asia/Tokyo" in caplog.text
    paris = SiteClock("Europe/Paris")
    day = paris.today()
    assert zscores(client, Keys("site").day("paths", day)) == {"/": 1}
    second.close()
    assert client.hgetall("{site:meta}") == {"timezone": "Europe/Paris", "retention_days": "90"}
    # The default zone is stored too: a later recorder with another one is told.
    third = Recorder(redis_url, prefix="plain", flush_interval=3600)
    third.track("signups", "free")
    third.close()
    assert client.hget("{plain:meta}", "timezone") == "UTC"


def test_unknown_zone_is_refused(redis_url: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        Recorder(redis_url, timezone="Mars/Olympus_Mons")


# -- drill-down pairs ----------------------------------------------------------------------------


def pair_table(
    client: redis.Redis, filter_dimension: str, w: str, dimension: str, day: int | None
) -> dict[str, float]:
    """What a filtered read finds: ZSCAN of w's pairs key with its pattern (as the reader does)."""
    keys = Keys()
    key = keys.pairs(filter_dimension, day, w)
    found = {}
    for member, score in client.zscan_iter(key, match=keys.pair_pattern(w, dimension)):
        found[split_pair(member)[2]] = score
    return found


def test_pairs_of_a_small_stream(recorder: Recorder, client: redis.Redis) -> None:
    app = WSGIAnalytics(html, recorder=recorder)
    stream = [
        # (path, referrer, client, agent, times)
        ("/a/", "https://www.google.com/", "8.8.8.8", CHROME, 3),
        ("/a/", "", "193.0.6.139", FIREFOX, 1),
        ("/b/", "https://news.ycombinator.com/", "193.0.6.139", CHROME, 2),
        ("/b/", "https://www.google.de/", "1.0.16.1", FIREFOX, 1),
        ("/*[x]/", "https://www.google.com/", "8.8.8.8", CHROME, 1),  # glob characters
        ("/b/", f"https://{HOST}/a/", "8.8.8.8", CHROME, 4),  # inside: no source, no referrer
    ]
    for path, referrer, address, agent, times in stream:
        for _ in range(times):
            serve(app, environ(path, referrer=referrer, client=address, agent=agent))
    recorder.flush()
    day = int(time.time() // 86400)
    for when in (day, None):
        assert pair_table(client, "paths", "/a/", "sources", when) == {"Google": 3, "(direct)": 1}
        assert pair_table(client, "paths", "/b/", "sources", when) == {
            "Hacker News": 2,
            "Google": 1,
        }
        assert pair_table(client, "paths", "/*[x]/", "sources", when) == {"Google": 1}
        assert pair_table(client, "paths", "/b/", "countries", when) == {"NL": 2, "JP": 1, "US": 4}
        assert pair_table(client, "sources", "Google", "paths", when) == {
            "/a/": 3,
            "/b/": 1,
            "/*[x]/": 1,
        }
        assert pair_table(client, "sources", "Google", "referrers", when) == {
            "google.com": 4,
            "google.de": 1,
        }
        assert pair_table(client, "countries", "US", "browsers", when) == {"Chrome": 8}
        assert pair_table(client, "countries", "NL", "browsers", when) == {
            "Firefox": 1,
            "Chrome": 2,
        }
        assert pair_table(client, "countries", "NL", "paths", when) == {"/a/": 1, "/b/": 2}
    hour = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H")
    timeline = pair_table(client, "paths", "/b/", TIMELINE, day)
    assert sum(timeline.values()) == 7
    assert set(timeline) <= {hour, _previous_hour(hour)}
    assert pair_table(client, "paths", "/b/", TIMELINE, None) == {}  # day keys only
    # The total of a filter is its score in its own key.
    assert client.zscore(recorder.keys.day("paths", day), "/b/") == 7


def _previous_hour(label: str) -> str:
    instant = datetime.strptime(label, "%Y-%m-%dT%H").replace(tzinfo=timezone.utc)
    return (instant - timedelta(hours=1)).strftime("%Y-%m-%dT%H")


def _random_events(count: int, seed: int, start: float) -> list[Event]:
    rng = random.Random(seed)
    events = []
    for _ in range(count):
        facts = Facts(
            method=rng.choice(["GET", "GET", "GET", "POST"]),
            path=rng.choice(["/", "/a/", "/b/", "/c\x1fd/"]),
            host=HOST,
            referrer=rng.choice(
                ["", "https://www.google.com/", f"https://{HOST}/x", "https://t.co/a"]
            ),
            user_agent=rng.choice([CHROME, FIREFOX, "curl/8.5"]),
            client=None,
            forwarded_for="",
            ch_platform="",
            ch_mobile="",
            query=rng.choice(["", "", "utm_source=nl&utm_medium=email&utm_campaign=dec"]),
        )
        who = rng.choice(["8.8.8.8", "193.0.6.139", "10.0.0.1", "2a01:cb00::/64", None])
        status = rng.choice([200, 200, 304, 404])
        events.append(Event(start + rng.randrange(7200), facts, status, False, who))
    return events


@pytest.mark.parametrize("seed", range(3))
def test_every_pair_is_what_the_page_views_say(
    redis_url: str, client: redis.Redis, seed: int
) -> None:
    """Each pairs key holds exactly the pairs counted one page view at a time from
    `increments`: for every filter member w and every other member d of the same page view."""
    countries = open_countries()
    assert countries is not None
    setup = Setup(SiteClock("Asia/Kolkata"), countries.lookup)
    start = time.time() - 3600
    events = _random_events(400, seed, start)
    classify = default_classifier()
    expected: collections.Counter[tuple[str, int | None, str, str]] = collections.Counter()
    for event in events:
        agent = classify(event.facts.user_agent, "", "")
        if not viewed(event, agent):
            continue
        members = [pair for pair in increments(event, agent, setup) if pair[0] in PAIRED]
        day = setup.clock.day(event.time)
        for filter_dimension in PAIR_FILTERS:
            w = dict(members).get(filter_dimension)
            if w is None:
                continue
            for dimension, d in members:
                if dimension == filter_dimension:
                    continue
                member = pair_member(w, dimension, d)
                expected[filter_dimension, day, w, member] += 1
                if dimension != TIMELINE:
                    expected[filter_dimension, None, w, member] += 1
    pending = Pending(100_000, setup=setup)
    pending.drain(deque(map(pack, events)), classify)
    source = redis.Redis.from_url(redis_url)
    try:
        Writer(source, Keys(), retention_days=90, max_members=10_000, clock=setup.clock).write(
            pending
        )
    finally:
        source.close()
    keys = Keys()
    found: collections.Counter[tuple[str, int | None, str, str]] = collections.Counter()
    wanted = {(f, when, w) for f, when, w, _ in expected}
    for filter_dimension, when, w in wanted:
        for member, score in zscores(client, keys.pairs(filter_dimension, when, w)).items():
            if split_pair(member)[0] == w.replace("\x1f", "\ufffd"):
                found[filter_dimension, when, w, member] = int(score)
    assert found == expected
    dimensions = {split_pair(member)[1] for *_, member in expected}
    assert dimensions <= {*PAIR_DIMENSIONS, TIMELINE}
    assert "utm_source" not in dimensions
    assert "utm_medium" in dimensions


def test_pairs_are_trimmed_per_key(redis_url: str, client: redis.Redis) -> None:
    recorder = Recorder(redis_url, flush_interval=3600, max_members=320)  # 20 pairs a key
    app = WSGIAnalytics(html, recorder=recorder)
    for n in range(300):
        serve(app, environ("/", query=f"utm_source=s{n}", client="8.8.8.8"))
    recorder.close()
    day = int(time.time() // 86400)
    for key in (recorder.keys.pairs("paths", day, "/"), recorder.keys.pairs("paths", None, "/")):
        assert client.zcard(key) == 20
    assert client.zcard(recorder.keys.day("sources", day)) == 300


def test_pairs_survive_an_outage_once(private_server: Any) -> None:
    """Pairs written twice (a reply lost) are applied once, like every other count."""
    recorder = Recorder(private_server.url, flush_interval=3600)
    app = WSGIAnalytics(html, recorder=recorder)
    private_server.stop()
    for _ in range(5):
        serve(app, environ("/a/", referrer="https://www.google.com/", client="8.8.8.8"))
    with pytest.raises(redis.ConnectionError):
        recorder.flush()
    private_server.start()
    recorder.flush()
    recorder.flush()
    reader = redis.Redis.from_url(private_server.url, decode_responses=True)
    try:
        day = int(time.time() // 86400)
        key = Keys().pairs("sources", day, "Google")
        assert reader.zscore(key, pair_member("Google", "paths", "/a/")) == 5
    finally:
        reader.close()
        recorder.close()


# -- visitors now --------------------------------------------------------------------------------


def _live_visits(url: str, visitors: list[tuple[str, str]]) -> None:
    recorder = Recorder(url, flush_interval=3600)
    app = WSGIAnalytics(html, recorder=recorder)
    for address, agent in visitors:
        serve(app, environ("/", client=address, agent=agent))
    recorder.close()


def test_live_minutes_count_each_visitor_once_across_recorders(
    redis_url: str, client: redis.Redis
) -> None:
    # Few visitors: a HyperLogLog of a dozen might put two in one register.
    visitors = [(f"8.8.{n}.1", agent) for n in range(3) for agent in (CHROME, FIREFOX)]
    # Overlapping shares: every visitor is seen by two of the recorders.
    shares = [visitors[:4], visitors[2:], visitors[:2] + visitors[4:]]
    for share in shares[:2]:
        _live_visits(redis_url, share)
    pid = os.fork()  # the third share from another process
    if pid == 0:
        code = 1
        try:
            _live_visits(redis_url, shares[2])
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    keys = Keys()
    live = keys.live_range(5)
    assert client.pfcount(*live) == len(visitors)
    written = [key for key in live if client.exists(key)]
    assert written  # this minute, or the one before if the minute turned meanwhile
    for key in written:
        assert 0 < client.ttl(key) <= 35 * 60
    # The same visitor hashes as the day's uniques.
    day = int(time.time() // 86400)
    merged = "{analytics:live}:scratch"
    client.pfmerge(merged, *written, keys.uniques(day))
    assert client.pfcount(merged) == len(visitors)


def test_bots_and_assets_are_not_live(recorder: Recorder, client: redis.Redis) -> None:
    serve(WSGIAnalytics(html, recorder=recorder), environ(agent="Googlebot/2.1"))
    recorder.flush()
    assert client.pfcount(*Keys().live_range(5)) == 0


# -- the reference still holds -------------------------------------------------------------------


def test_drain_counts_what_increments_says_in_a_zone_with_countries() -> None:
    countries = open_countries()
    assert countries is not None
    setup = Setup(SiteClock("Asia/Kathmandu"), countries.lookup)  # UTC+05:45
    events = _random_events(500, 11, _utc("2026-12-01T17:00:00"))
    classify = default_classifier()
    expected: collections.Counter[tuple[str, int, str]] = collections.Counter()
    for event in events:
        agent = classify(event.facts.user_agent, "", "")
        for dimension, member in increments(event, agent, setup):
            expected[dimension, setup.clock.day(event.time), member] += 1
    pending = Pending(100_000, setup=setup)
    pending.drain(deque(map(pack, events)), classify)
    assert {entry: n for entry, n in pending.counts.items() if n} == dict(expected)
    assert len({day for _, day, _ in expected}) == 2  # 18:15 local: both sides of midnight
    assert UTC.clock.zone == "UTC"


def test_from_environ_carries_what_the_rules_read() -> None:
    facts = from_environ(environ("/p", query="utm_source=x", referrer="https://t.co/"))
    assert (facts.query, facts.referrer, facts.country) == ("utm_source=x", "https://t.co/", "")
    assert facts.host == HOST


def test_the_background_flusher_writes_pairs_on_their_turn(
    redis_url: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Counts and live minutes every flush; the pairs every PAIRS_EVERY seconds (here: every
    flush), each on its day key and its all-time key at once."""
    monkeypatch.setattr(recorder_module, "PAIRS_EVERY", 0.0)
    recorder = Recorder(redis_url, flush_interval=0.05)
    serve(WSGIAnalytics(html, recorder=recorder), environ("/a/", client="8.8.8.8"))
    day = int(time.time() // 86400)
    keys = Keys()
    member = pair_member("/a/", "countries", "US")
    deadline = time.monotonic() + 10
    while not client.zscore(keys.pairs("paths", day, "/a/"), member):
        assert time.monotonic() < deadline, "the background flusher never wrote"
        time.sleep(0.02)
    assert client.zscore(keys.day("paths", day), "/a/") == 1
    assert client.pfcount(*keys.live_range(2)) == 1
    assert client.zscore(keys.pairs("paths", None, "/a/"), member) == 1

    def dimensions(key: str) -> set[str]:
        return {str(member).split("\x1f")[0] for member in client.zrange(key, 0, -1)}

    assert "timeline" in dimensions(keys.pairs("paths", day, "/a/"))
    assert "timeline" not in dimensions(keys.pairs("paths", None, "/a/"))  # hours: days only
    recorder.close()
    assert client.zscore(keys.pairs("paths", None, "/a/"), member) == 1  # written once


def test_no_pairs_between_their_turns(
    redis_url: str, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "PAIRS_EVERY", 3600.0)
    recorder = Recorder(redis_url, flush_interval=0.05)
    serve(WSGIAnalytics(html, recorder=recorder), environ("/a/", client="8.8.8.8"))
    day = int(time.time() // 86400)
    deadline = time.monotonic() + 10
    while not client.zscore(recorder.keys.day("paths", day), "/a/"):
        assert time.monotonic() < deadline, "the background flusher never wrote"
        time.sleep(0.02)
    assert not client.keys("{analytics:pairs.*")
    recorder.close()  # writes them
    assert (
        client.zscore(
            Keys().pairs("sources", day, "(direct)"), pair_member("(direct)", "paths", "/a/")
        )
        == 1
    )


def test_live_minutes_are_bounded_by_age(redis_url: str, client: redis.Redis) -> None:
    """Held while Redis is away, a minute older than the live window is let go; written late,
    a minute already past its 35 minutes makes no key."""
    now = time.time()
    facts = Facts("GET", "/", HOST, "", CHROME, "8.8.8.8", "", "", "")
    events = deque(
        pack(Event(now - 60 * ago, facts, 200, False, f"8.8.8.{ago}", "text/html"))
        for ago in range(50, -1, -1)
    )
    pending = Pending(10_000)
    pending.drain(events, default_classifier())
    newest = int(now // 60)
    assert sorted(pending.live) == list(range(newest - 35, newest + 1))
    source = redis.Redis.from_url(redis_url)
    try:
        Writer(source, Keys(), retention_days=90, max_members=10_000).write(pending)
    finally:
        source.close()
    written = {int(key.rpartition(":")[2]) for key in client.scan_iter(match="{analytics:live}:*")}
    assert written == set(range(newest - 34, newest + 1))  # 35 minutes, this one included
    # (A HyperLogLog: few visitors, so that none share a register.)
    assert client.pfcount(*Keys().live_range(5, now)) == 5
    assert not pending.live
