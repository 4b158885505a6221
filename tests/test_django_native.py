"""The Django entry point through a real Django site, under WSGI and ASGI: the adapters' exact
numbers, route templates, the throttle from settings, streaming, the staff dashboard,
``manage.py analytics_report``, ``track_signal`` on a real ``post_save``, the flush at exit."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models.signals import post_save
from django.test import AsyncClient, Client, override_settings
from werkzeug.test import Client as WSGIClient

from wsgi_analytics import ASGIAnalytics, Recorder, Stats, WSGIAnalytics
from wsgi_analytics.django import get_recorder, track_signal
from wsgi_analytics.keys import day_label, today

from . import django_project
from .helpers import put_past

django_project.setup()

from django.contrib.auth.models import User  # noqa: E402 - needs the apps loaded
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
URLS = "tests.django_native_urls"
NATIVE = "wsgi_analytics.django.AnalyticsMiddleware"
SITE_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",  # APPEND_SLASH: /about -> /about/ (301)
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
# (method, path, agent, referrer): the same traffic for the middleware and the plain adapters.
TRAFFIC = [
    ("GET", "/", CHROME, "https://www.google.com/"),
    ("GET", "/", IPHONE, ""),
    ("GET", "/items/7/", CHROME, "https://example.com/"),
    ("GET", "/about", CHROME, ""),
    ("GET", "/about/", CHROME, ""),
    ("GET", "/missing", CHROME, ""),
    ("GET", "/stream/", IPHONE, ""),
    ("GET", "/download/", CHROME, ""),
    ("GET", "/boom/", CHROME, ""),
    ("POST", "/comment/", CHROME, ""),
    ("GET", "/archive/2024/", CHROME, "https://news.ycombinator.com/"),
    ("GET", "/", GOOGLEBOT, ""),
]
STATUSES = [200, 200, 200, 301, 200, 404, 200, 200, 500, 200, 200, 200]
DIMENSIONS = ["paths", "referrers", "browsers", "platforms", "devices", "bots", "not_found"]
Traffic = list[tuple[str, str, str, str]]


@pytest.fixture(scope="module")
def users() -> dict[str, Any]:
    call_command("migrate", verbosity=0, interactive=False)
    return {
        "staff": User.objects.create_user("staff", password="pw", is_staff=True),
        "member": User.objects.create_user("member", password="pw"),
    }


@pytest.fixture
def site(redis_url: str, client: redis.Redis) -> Iterator[Callable[..., Recorder]]:
    """``site(**options)``: the test site with the middleware first and ``WSGI_ANALYTICS``
    = options (on the session server, flushed only when told); returns its recorder."""
    with contextlib.ExitStack() as stack:

        def configure(middleware: bool = True, **options: Any) -> Recorder:
            stack.enter_context(
                override_settings(
                    ROOT_URLCONF=URLS,
                    MIDDLEWARE=[NATIVE, *SITE_MIDDLEWARE] if middleware else SITE_MIDDLEWARE,
                    WSGI_ANALYTICS={"redis_url": redis_url, "flush_interval": 60, **options},
                )
            )
            recorder = get_recorder()
            stack.callback(recorder.close)
            return recorder

        yield configure


def wsgi_drive(application: Any, traffic: Traffic) -> list[int]:
    """Through a real WSGI call (the environ a server builds; the body read, then closed)."""
    browser = WSGIClient(application)
    statuses = []
    for method, path, agent, referrer in traffic:
        headers = {"User-Agent": agent, "Referer": referrer, "Host": "example.com"}
        with browser.open(
            path, method=method, headers=headers, environ_base={"REMOTE_ADDR": "192.0.2.9"}
        ) as response:
            response.get_data()
            statuses.append(response.status_code)
    return statuses


def asgi_drive(application: Any, traffic: Traffic, peer: str = "192.0.2.9") -> list[int]:
    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=application, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            statuses = []
            for method, path, agent, referrer in traffic:
                headers = {"User-Agent": agent, "Referer": referrer}
                statuses.append((await c.request(method, path, headers=headers)).status_code)
            return statuses

    return asyncio.run(run())


def same_numbers(native: str, plain: str, redis_url: str) -> Stats:
    with Stats(redis_url, prefix=native) as mine, Stats(redis_url, prefix=plain) as theirs:
        for dimension in [*DIMENSIONS, "statuses"]:
            assert mine.top(dimension, 100) == theirs.top(dimension, 100), dimension
        assert mine.total() == theirs.total()
        assert mine.uniques() == theirs.uniques()
    return Stats(redis_url, prefix=native)


# -- the numbers ------------------------------------------------------------------------------


def test_wsgi_same_numbers_as_the_adapter(
    site: Callable[..., Recorder], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, "django.request")  # the 404, the 500
    recorder = site(prefix="native")
    assert wsgi_drive(get_wsgi_application(), TRAFFIC) == STATUSES
    recorder.flush()
    with override_settings(MIDDLEWARE=SITE_MIDDLEWARE):
        plain = WSGIAnalytics(get_wsgi_application(), redis_url=redis_url, prefix="plain")
        assert wsgi_drive(plain, TRAFFIC) == STATUSES
        plain.recorder.close()

    with same_numbers("native", "plain", redis_url) as stats:
        assert stats.top("statuses") == [("200", 9), ("301", 1), ("404", 1), ("500", 1)]
        assert stats.top("paths", 20) == [
            ("/", 2),
            ("/about/", 1),
            ("/archive/2024/", 1),
            ("/items/7/", 1),
            ("/stream/", 1),
        ]
        assert stats.uniques() == 2
        assert stats.top("bots") == [("Googlebot", 1)]


# A sync stream (and a FileResponse) under ASGI: Django warns, and serves it all the same.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_asgi_same_numbers_as_the_adapter(
    site: Callable[..., Recorder], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.CRITICAL, "django.request")
    traffic = [*TRAFFIC, ("GET", "/async-stream/", CHROME, "")]
    recorder = site(prefix="native")
    assert asgi_drive(get_asgi_application(), traffic) == [*STATUSES, 200]
    recorder.flush()
    with override_settings(MIDDLEWARE=SITE_MIDDLEWARE):
        plain = ASGIAnalytics(get_asgi_application(), redis_url=redis_url, prefix="plain")
        assert asgi_drive(plain, traffic) == [*STATUSES, 200]
        plain.recorder.close()

    with same_numbers("native", "plain", redis_url) as stats:
        assert stats.top("statuses") == [("200", 10), ("301", 1), ("404", 1), ("500", 1)]
        assert dict(stats.top("paths", 20))["/async-stream/"] == 1


def test_asgi_in_sync_mode(
    site: Callable[..., Recorder], redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A sync-only middleware after ours: Django calls ours in sync mode, in a thread, with an
    ASGI request; it still reads the scope (a non-ASCII path shows it) and throttles."""
    caplog.set_level(logging.CRITICAL, "django.request")
    recorder = site(throttle={"limit": 1})
    with override_settings(MIDDLEWARE=[NATIVE, "tests.django_native_urls.sync_only"]):
        traffic = [
            ("GET", "/items/7/", CHROME, ""),
            ("GET", "/caf%C3%A9", CHROME, ""),
            ("POST", "/comment/", CHROME, ""),
            ("POST", "/comment/", CHROME, ""),
        ]
        assert asgi_drive(get_asgi_application(), traffic) == [200, 404, 200, 429]
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("statuses") == [("200", 2), ("404", 1), ("429", 1)]
        assert stats.top("not_found") == [("/café", 1)]
        assert stats.top("throttled") == [("/comment/", 1)]


def test_a_failing_stream_is_a_500(site: Callable[..., Recorder], redis_url: str) -> None:
    recorder = site()
    with pytest.raises(RuntimeError, match="the stream failed"):
        wsgi_drive(get_wsgi_application(), [("GET", "/broken-stream/", CHROME, "")])
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("statuses") == [("500", 1)]


# -- routes -----------------------------------------------------------------------------------


# (path, the routes member it is counted under)
ROUTES = [
    ("/items/42/", "GET /items/{item_id}/"),
    ("/items/43/", "GET /items/{item_id}/"),
    ("/", "GET /"),
    ("/archive/2024/", "GET /archive/{year}/"),
    ("/staff/analytics/", "GET /staff/analytics/"),  # a redirect to the login page
    ("/staff/analytics/api.json", "GET /staff/analytics/{rest}"),
    ("/missing/7", "GET (unmatched)"),
    ("/about", "GET /about"),  # CommonMiddleware's redirect: no pattern, the path's template
]
EXPECTED_ROUTES = [
    ("GET /items/{item_id}/", 2),
    ("GET (unmatched)", 1),
    ("GET /", 1),
    ("GET /about", 1),
    ("GET /archive/{year}/", 1),
    ("GET /staff/analytics/", 1),
    ("GET /staff/analytics/{rest}", 1),
]


def test_route_templates_wsgi(
    site: Callable[..., Recorder], users: dict[str, Any], redis_url: str
) -> None:
    recorder = site()
    browser = Client(HTTP_USER_AGENT=CHROME)
    for path, _ in ROUTES:
        browser.get(path)
    recorder.flush()
    with Stats(redis_url) as stats:
        assert [(row.route, row.requests) for row in stats.routes()] == EXPECTED_ROUTES


def test_route_templates_asgi(
    site: Callable[..., Recorder], users: dict[str, Any], redis_url: str
) -> None:
    recorder = site()
    asgi_drive(get_asgi_application(), [("GET", path, CHROME, "") for path, _ in ROUTES])
    recorder.flush()
    with Stats(redis_url) as stats:
        assert [(row.route, row.requests) for row in stats.routes()] == EXPECTED_ROUTES


# -- the throttle -----------------------------------------------------------------------------


def check_refusal(status: int, headers: Any, body: bytes) -> None:
    assert status == 429
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["RateLimit-Policy"] == '"default";q=5;w=3600'
    assert 1 <= int(headers["Retry-After"]) <= 3600
    assert body.startswith(b"Too many requests")


def test_throttle_wsgi(site: Callable[..., Recorder], redis_url: str) -> None:
    recorder = site(throttle={"limit": 5, "window": 3600})
    browser = Client(REMOTE_ADDR="203.0.113.7")
    answers = [browser.post("/comment/") for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    check_refusal(429, answers[-1].headers, answers[-1].content)
    assert Client(REMOTE_ADDR="203.0.113.8").post("/comment/").status_code == 200
    assert browser.get("/").status_code == 200  # GET is not throttled
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("throttled") == [("/comment/", 1)]
        assert stats.top("statuses") == [("200", 7), ("429", 1)]


def test_throttle_asgi(site: Callable[..., Recorder], redis_url: str) -> None:
    recorder = site(throttle={"limit": 5, "window": 3600})

    async def storm() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=get_asgi_application(), client=("203.0.113.9", 1))
        async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as c:
            return [await c.post("/comment/") for _ in range(6)]

    answers = asyncio.run(storm())
    assert [answer.status_code for answer in answers] == [200] * 5 + [429]
    check_refusal(429, answers[-1].headers, answers[-1].content)
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("throttled") == [("/comment/", 1)]


def test_exclusions(site: Callable[..., Recorder], redis_url: str) -> None:
    recorder = site(exclude=["/healthz", "/admin/*", "/comment/"], throttle={"limit": 1})
    browser = Client(REMOTE_ADDR="203.0.113.10", HTTP_USER_AGENT=CHROME)
    assert [browser.get(path).status_code for path in ("/healthz", "/admin/login/", "/")] == [
        200,
        200,
        200,
    ]
    # The throttle still applies to an excluded path; neither answer is counted.
    assert [browser.post("/comment/").status_code for _ in range(2)] == [200, 429]
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("statuses") == [("200", 1)]
        assert stats.top("paths") == [("/", 1)]
        assert stats.top("throttled") == []


@pytest.mark.parametrize(
    ("setting", "error"),
    [
        pytest.param({"throttle": 5}, "must be a Throttle or a dict", id="throttle int"),
        pytest.param({"throttle": {"limt": 5}}, "limt", id="throttle typo"),
        pytest.param({"flush_intervall": 1}, "flush_intervall", id="option typo"),
        pytest.param(["prefix"], "must be a dict", id="not a dict"),
        pytest.param({"exclude": ["static/"]}, "neither a path prefix", id="exclude pattern"),
    ],
)
def test_bad_settings_are_refused(setting: Any, error: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with (
        override_settings(WSGI_ANALYTICS=setting),
        pytest.raises(ImproperlyConfigured, match=error),
    ):
        get_recorder()


def test_a_shared_recorder(redis_url: str, client: redis.Redis) -> None:
    from django.core.exceptions import ImproperlyConfigured

    shared = Recorder(redis_url, prefix="shop", flush_interval=60)
    try:
        with override_settings(WSGI_ANALYTICS={"recorder": shared}):
            assert get_recorder() is shared
        with override_settings(WSGI_ANALYTICS={"recorder": shared, "prefix": "shop"}):
            assert get_recorder() is shared
        with (
            override_settings(WSGI_ANALYTICS={"recorder": shared, "prefix": "blog"}),
            pytest.raises(ImproperlyConfigured, match="differs from the recorder's"),
        ):
            get_recorder()
        with (
            override_settings(WSGI_ANALYTICS={"recorder": shared, "flush_interval": 5}),
            pytest.raises(ImproperlyConfigured, match="pass recorder options to the Recorder"),
        ):
            get_recorder()
    finally:
        shared.close()


# -- the dashboard ----------------------------------------------------------------------------


def test_dashboard_for_staff_only(
    site: Callable[..., Recorder], users: dict[str, Any], redis_url: str
) -> None:
    recorder = site()
    wsgi_drive(get_wsgi_application(), [("GET", "/", CHROME, "")] * 3)
    recorder.flush()

    anonymous = Client()
    for path in ("/staff/analytics/", "/staff/analytics/api.json?days=7"):
        answer = anonymous.get(path)
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/?next=/staff/analytics/")

    member = Client()
    member.force_login(users["member"])
    assert member.get("/staff/analytics/").status_code == 403
    assert member.get("/staff/analytics/api.json").status_code == 403

    staff = Client()
    staff.force_login(users["staff"])
    page = staff.get("/staff/analytics/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/staff/analytics/?days=7"' in html
    assert 'href="/staff/analytics/api.json?days=1"' in html
    assert page["Cache-Control"] == "no-store"
    assert page["Content-Security-Policy"].startswith("default-src 'none'")
    data = staff.get("/staff/analytics/api.json?days=7")
    assert data.status_code == 200
    assert data.json()["page_views"] == 3
    assert staff.get("/staff/analytics/nothing").status_code == 404
    assert staff.get("/staff/analytics").status_code == 301  # APPEND_SLASH
    # A page another site makes the staff's browser load is refused by the dashboard's rule.
    assert (
        staff.get("/staff/analytics/", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 403
    )


def test_dashboard_under_asgi(
    site: Callable[..., Recorder], users: dict[str, Any], redis_url: str
) -> None:
    site()

    async def visit() -> tuple[int, int, str]:
        anonymous = AsyncClient()
        refused = (await anonymous.get("/staff/analytics/")).status_code
        member = AsyncClient()
        await member.aforce_login(users["member"])
        forbidden = (await member.get("/staff/analytics/")).status_code
        staff = AsyncClient()
        await staff.aforce_login(users["staff"])
        page = await staff.get("/staff/analytics/?days=30")
        assert page.status_code == 200
        return refused, forbidden, page.content.decode()

    refused, forbidden, html = asyncio.run(visit())
    assert (refused, forbidden) == (302, 403)
    assert 'href="/staff/analytics/?days=7"' in html


def test_admin_index_links_the_dashboard(
    site: Callable[..., Recorder], users: dict[str, Any]
) -> None:
    site()
    staff = Client()
    staff.force_login(users["staff"])
    index = staff.get("/admin/")
    assert index.status_code == 200
    assert '<a href="/staff/analytics/" class="section">Analytics</a>' in index.content.decode()
    with override_settings(ROOT_URLCONF="tests.django_admin_only_urls"):
        # Without the dashboard's URLs, the admin index is unchanged (and does not fail).
        index = staff.get("/admin/")
        assert index.status_code == 200
        assert "Analytics" not in index.content.decode()


# -- manage.py analytics_report ---------------------------------------------------------------


def report(*options: str) -> str:
    out = io.StringIO()
    call_command("analytics_report", *options, stdout=out)
    return out.getvalue()


def test_report_command(site: Callable[..., Recorder]) -> None:
    recorder = site(prefix="site")
    with pytest.raises(CommandError, match="nothing recorded under prefix 'site'"):
        report()
    traffic = [("GET", "/", CHROME, ""), ("GET", "/about/", IPHONE, ""), ("GET", "/", CHROME, "")]
    wsgi_drive(get_wsgi_application(), traffic)
    recorder.flush()

    lines = [" ".join(line.split()) for line in report().splitlines()]
    assert "page views 3" in lines
    assert lines[lines.index("Pages count share") + 1].startswith("/ 2 66.7% ██")
    document = json.loads(report("--json", "--limit", "1", "--days", "7"))
    assert (document["prefix"], document["days"], document["page_views"]) == ("site", 7, 3)
    assert document["dimensions"]["paths"]["rows"] == [{"member": "/", "count": 2, "share": 0.6667}]
    with pytest.raises(CommandError, match="'elsewhere'"):
        report("--prefix", "elsewhere")
    with pytest.raises(CommandError, match="positive number of days"):
        report("--days", "0")


@pytest.mark.parametrize(
    ("read", "first", "page_views", "clipped"),
    [
        pytest.param("dashboard", 30, 3, True, id="the staff dashboard"),
        pytest.param("report", 30, 3, True, id="manage.py analytics_report"),
        pytest.param("report --retention-days 60", 59, 11, False, id="the report told otherwise"),
    ],
)
def test_reads_are_cut_at_the_stored_retention(
    site: Callable[..., Recorder],
    users: dict[str, Any],
    client: redis.Redis,
    read: str,
    first: int,
    page_views: int,
    clipped: bool,
) -> None:
    recorder = site(prefix="kept", retention_days=30)
    wsgi_drive(get_wsgi_application(), [("GET", "/", CHROME, "")])
    recorder.flush()
    put_past(client, "kept", 20, {"/old": 2})
    put_past(client, "kept", 45, {"/older": 8})  # past the retention: expired in real life
    if read == "dashboard":
        staff = Client()
        staff.force_login(users["staff"])
        answer = staff.get("/staff/analytics/api.json?days=60")
        assert answer.status_code == 200
        document = answer.json()
    else:
        document = json.loads(report(*read.split()[1:], "--days", "60", "--json"))
    assert (document["first"], document["page_views"], document["clipped"]) == (
        day_label(today() - first),
        page_views,
        clipped,
    )


def test_report_command_line() -> None:
    """As ``manage.py analytics_report`` runs it: its own process, settings from a module."""
    done = subprocess.run(
        [sys.executable, "-m", "django", "analytics_report", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.django_settings_module"},
    )
    assert done.returncode == 0, done.stderr
    assert "--json" in done.stdout
    assert "--days" in done.stdout


# -- track_signal -----------------------------------------------------------------------------


def test_track_signal_counts_a_real_post_save(
    site: Callable[..., Recorder],
    users: dict[str, Any],
    redis_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    recorder = site()

    def kind(user: Any) -> str | None:
        return None if user.username.startswith("_") else "staff" if user.is_staff else "member"

    uid = track_signal(post_save, "accounts", kind, sender=User)
    assert track_signal(post_save, "accounts", kind, sender=User) == uid  # connected once
    new = track_signal(post_save, "new_accounts", kind, sender=User, created=True)
    broken = track_signal(post_save, "accounts", lambda user: 1 / 0, sender=User)
    try:
        User.objects.create_user("ada", password="pw")
        User.objects.create_user("grace", password="pw", is_staff=True)
        User.objects.create_user("_robot", password="pw")  # None: not counted
        users["member"].save()  # a save, not a creation
    finally:
        for connected in (uid, new, broken):
            post_save.disconnect(sender=User, dispatch_uid=connected)
    User.objects.create_user("linus", password="pw")  # disconnected: not counted
    recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("accounts") == [("member", 2), ("staff", 1)]
        assert stats.top("new_accounts") == [("member", 1), ("staff", 1)]
    # The failing member was logged, and the saves went through.
    assert sum("could not count signal" in r.message for r in caplog.records) == 4
    User.objects.filter(username__in=["ada", "grace", "_robot", "linus"]).delete()


def test_track_signal_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="dimension"):
        track_signal(post_save, "", str)
    with pytest.raises(TypeError, match="member"):
        track_signal(post_save, "accounts", "username")  # type: ignore[arg-type]


# -- the flush at exit ------------------------------------------------------------------------


def test_counts_flushed_at_exit(redis_url: str, client: redis.Redis) -> None:
    script = textwrap.dedent(
        f"""
        from django.conf import settings

        settings.configure(
            ALLOWED_HOSTS=["*"],
            ROOT_URLCONF="tests.django_urls",
            INSTALLED_APPS=["wsgi_analytics.django"],
            MIDDLEWARE=["wsgi_analytics.django.AnalyticsMiddleware"],
            WSGI_ANALYTICS={{"redis_url": {redis_url!r}, "flush_interval": 3600}},
            SECRET_KEY="test-only",
        )
        import django

        django.setup()
        from django.test import Client

        from wsgi_analytics.django import get_recorder

        browser = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0")
        for _ in range(4):
            assert browser.get("/").status_code == 200
        get_recorder().track("signups", "pro")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    with Stats(redis_url) as stats:
        assert stats.top("paths") == [("/", 4)]
        assert stats.top("signups") == [("pro", 1)]
