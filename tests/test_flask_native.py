"""The Flask extension through real Flask apps: the adapter's exact numbers, route templates,
the throttle from app.config, app factories, the dashboard behind ``auth``, ``flask analytics
report``, and the flush at exit."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import flask
import pytest
import redis

from wsgi_analytics import Stats, Throttle, WSGIAnalytics
from wsgi_analytics.flask import Analytics
from wsgi_analytics.keys import day_label, today

from .helpers import put_past

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
# (method, path, agent, referrer): the same traffic for the extension and the plain adapter.
TRAFFIC = [
    ("GET", "/", CHROME, "https://www.google.com/"),
    ("GET", "/", IPHONE, ""),
    ("GET", "/items/7", CHROME, "https://example.com/"),
    ("GET", "/items/8", IPHONE, "https://news.ycombinator.com/"),
    ("GET", "/about", CHROME, ""),  # redirected to /about/ by Flask (308)
    ("GET", "/about/", CHROME, ""),
    ("GET", "/missing", CHROME, ""),
    ("GET", "/stream", CHROME, ""),
    ("GET", "/boom", CHROME, ""),
    ("POST", "/comment", CHROME, ""),
    ("GET", "/", GOOGLEBOT, ""),
]
DIMENSIONS = ["paths", "referrers", "browsers", "platforms", "devices", "bots", "not_found"]
STATUSES = ["statuses"]


def site(name: str = "site") -> flask.Flask:
    app = flask.Flask(name)

    @app.get("/")
    def home() -> str:
        return "home"

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> str:
        return f"item {item_id}"

    @app.get("/about/")
    def about() -> str:
        return "about"

    @app.get("/stream")
    def stream() -> flask.Response:
        return flask.Response(iter([b"a", b"b", b"c"]), mimetype="text/html")

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("the view failed")

    @app.post("/comment")
    def comment() -> str:
        return "thanks"

    return app


def drive(app: flask.Flask, traffic: list[tuple[str, str, str, str]] = TRAFFIC) -> list[int]:
    browser = app.test_client()
    statuses = []
    for method, path, agent, referrer in traffic:
        headers = {"User-Agent": agent, "Referer": referrer, "Host": "example.com"}
        with browser.open(path, method=method, headers=headers) as response:
            response.get_data()  # the whole body, as a server sends it; closed on exit
            statuses.append(response.status_code)
    return statuses


Closing = Callable[..., None]


@pytest.fixture
def closing() -> Iterator[Closing]:
    """``closing(analytics, *apps)``: their recorders (one per app) are closed after the test;
    no apps named means the one app ``analytics`` was made with."""
    made: list[tuple[Analytics, tuple[flask.Flask, ...]]] = []
    yield lambda analytics, *apps: made.append((analytics, apps))
    for analytics, apps in made:
        if not apps:
            analytics.recorder.close()
        for app in apps:
            with app.app_context():
                analytics.recorder.close()


def test_same_numbers_as_the_adapter(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    native = site("native")
    native.config["TESTING"] = False  # a view's exception becomes a 500, as in production
    analytics = Analytics(native, redis_url=redis_url, prefix="native", flush_interval=60)
    closing(analytics)
    plain = site("plain")
    adapter = WSGIAnalytics(plain.wsgi_app, redis_url=redis_url, prefix="plain", flush_interval=60)
    plain.wsgi_app = adapter  # type: ignore[method-assign]

    statuses = drive(native)
    assert statuses == [200, 200, 200, 200, 308, 200, 404, 200, 500, 200, 200]
    assert drive(plain) == statuses
    analytics.recorder.flush()
    adapter.recorder.flush()
    adapter.recorder.close()

    with Stats(redis_url, prefix="native") as mine, Stats(redis_url, prefix="plain") as theirs:
        for dimension in [*DIMENSIONS, *STATUSES]:
            assert mine.top(dimension, 100) == theirs.top(dimension, 100), dimension
        assert mine.total() == theirs.total() == 6
        assert mine.uniques() == theirs.uniques() == 2
        pages = [("/", 2), ("/about/", 1), ("/items/7", 1), ("/items/8", 1), ("/stream", 1)]
        assert mine.top("paths") == pages
        assert mine.top("statuses") == [("200", 8), ("308", 1), ("404", 1), ("500", 1)]
        assert mine.top("bots") == [("Googlebot", 1)]


def test_route_templates(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    app = site()
    analytics = Analytics(app, redis_url=redis_url, flush_interval=60)
    closing(analytics)
    paths = ["/items/42", "/items/43", "/", "/missing/7", "/about", "/comment"]
    drive(app, [("GET", path, CHROME, "") for path in paths])
    drive(app, [("POST", "/comment", CHROME, "")])
    analytics.recorder.flush()
    with Stats(redis_url) as stats:
        assert [(row.route, row.requests, row.client_errors) for row in stats.routes()] == [
            ("GET /items/{item_id}", 2, 0),  # url_rule /items/<int:item_id>, written as OpenAPI
            ("GET (unmatched)", 1, 1),
            ("GET /", 1, 0),
            # Answered by the router itself (a 308 to /about/, a 405): no rule matched, so
            # the path's template.
            ("GET /about", 1, 0),
            ("GET /comment", 1, 1),
            ("POST /comment", 1, 0),
        ]


def test_throttle_from_config(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    app = site()
    app.config["WSGI_ANALYTICS"] = {
        "redis_url": redis_url,
        "flush_interval": 60,
        "throttle": {"limit": 5, "window": 3600},
    }
    analytics = Analytics(app)
    closing(analytics)
    browser = app.test_client()
    answers = []
    for _ in range(6):
        with browser.post("/comment", environ_base={"REMOTE_ADDR": "203.0.113.7"}) as response:
            answers.append((response.status_code, response.get_data(), dict(response.headers)))
    assert [status for status, _, _ in answers] == [200, 200, 200, 200, 200, 429]
    _, body, headers = answers[-1]
    assert body.startswith(b"Too many requests")
    assert headers["RateLimit-Policy"] == '"default";q=5;w=3600'
    assert 1 <= int(headers["Retry-After"]) <= 3600
    # Another client is not affected.
    with browser.post("/comment", environ_base={"REMOTE_ADDR": "203.0.113.8"}) as response:
        assert response.status_code == 200
    analytics.recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("throttled") == [("/comment", 1)]
        assert stats.top("statuses") == [("200", 6), ("429", 1)]


def test_exclusions_from_config(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    app = site()
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    app.config["WSGI_ANALYTICS"] = {
        "redis_url": redis_url,
        "flush_interval": 60,
        "exclude": ["/healthz", "/static/", "/comment"],
        "throttle": {"limit": 1},
    }
    analytics = Analytics(app)
    closing(analytics)
    paths = ["/healthz", "/static/app.css", "/"]
    assert drive(app, [("GET", path, CHROME, "") for path in paths]) == [200, 404, 200]
    # The throttle still applies to an excluded path; neither answer is counted.
    assert drive(app, [("POST", "/comment", CHROME, "")] * 2) == [200, 429]
    analytics.recorder.flush()
    with Stats(redis_url) as stats:
        assert stats.top("statuses") == [("200", 1)]
        assert stats.top("paths") == [("/", 1)]
        assert stats.top("throttled") == []


@pytest.mark.parametrize(
    ("config", "options", "prefix"),
    [
        pytest.param({"prefix": "from-config"}, {}, "from-config", id="config"),
        pytest.param({"prefix": "from-config"}, {"prefix": "kwarg"}, "kwarg", id="kwarg wins"),
        pytest.param(None, {}, "analytics", id="defaults"),
    ],
)
def test_options_from_kwargs_over_config(
    redis_url: str,
    client: redis.Redis,
    closing: Closing,
    config: dict[str, Any] | None,
    options: dict[str, Any],
    prefix: str,
) -> None:
    app = site()
    if config is not None:
        app.config["WSGI_ANALYTICS"] = {**config, "redis_url": redis_url}
    analytics = Analytics(app, **{"redis_url": redis_url, **options})
    closing(analytics)
    assert analytics.recorder.prefix == prefix


@pytest.mark.parametrize(
    ("config", "error"),
    [
        pytest.param({"throttle": 5}, "must be a Throttle or a dict", id="throttle int"),
        pytest.param({"throttle": {"limt": 5}}, "limt", id="throttle typo"),
        pytest.param({"flush_intervall": 1}, "flush_intervall", id="option typo"),
        pytest.param(["prefix"], "must be a dict", id="not a dict"),
    ],
)
def test_bad_config_is_refused(config: Any, error: str) -> None:
    app = site()
    app.config["WSGI_ANALYTICS"] = config
    with pytest.raises(TypeError, match=error):
        Analytics(app)


def test_app_factory(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    analytics = Analytics(redis_url=redis_url, flush_interval=60)
    with pytest.raises(RuntimeError, match="init_app"):
        analytics.recorder  # noqa: B018 - the property is what is tested

    def create_app(prefix: str) -> flask.Flask:
        app = site(prefix)
        app.config["WSGI_ANALYTICS"] = {"prefix": prefix}
        analytics.init_app(app)
        return app

    shop, blog = create_app("shop"), create_app("blog")
    closing(analytics, shop, blog)
    with pytest.raises(RuntimeError, match="app context"):
        analytics.recorder  # noqa: B018
    with pytest.raises(RuntimeError, match="already set up"):
        analytics.init_app(shop)
    drive(shop, [("GET", "/", CHROME, "")] * 3)
    drive(blog, [("GET", "/about/", CHROME, "")])
    recorders = []
    for app in (shop, blog):
        with app.app_context():
            recorders.append(analytics.recorder)
            analytics.recorder.track("signups", app.name)
            analytics.recorder.flush()
    assert [recorder.prefix for recorder in recorders] == ["shop", "blog"]
    with Stats(redis_url, prefix="shop") as of_shop, Stats(redis_url, prefix="blog") as of_blog:
        assert of_shop.top("paths") == [("/", 3)]
        assert of_shop.top("signups") == [("shop", 1)]
        assert of_blog.top("paths") == [("/about/", 1)]
        assert of_blog.top("signups") == [("blog", 1)]


# -- the dashboard ----------------------------------------------------------------------------


def is_admin(request: flask.Request) -> bool:
    return request.headers.get("X-Role") == "admin"


def test_dashboard_needs_auth() -> None:
    analytics = Analytics()
    with pytest.raises(TypeError, match="auth="):
        analytics.dashboard()
    with pytest.raises(ValueError, match="url_prefix"):
        analytics.dashboard("/", auth=is_admin)


def test_dashboard_behind_auth(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    app = site()
    analytics = Analytics(app, redis_url=redis_url, flush_interval=60)
    closing(analytics)
    analytics.dashboard("/admin/analytics/", auth=is_admin)
    drive(app, [("GET", "/", CHROME, "https://www.google.com/")] * 2)
    analytics.recorder.flush()

    browser = app.test_client()
    admin = {"X-Role": "admin"}
    # The dashboard's own rule would let a loopback peer in: here only auth() decides.
    assert browser.get("/admin/analytics/").status_code == 403
    assert browser.get("/admin/analytics/api.json").status_code == 403
    page = browser.get("/admin/analytics/", headers=admin)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'href="/admin/analytics/?days=7"' in html
    assert 'href="/admin/analytics/api.json?days=1"' in html
    assert page.headers["Cache-Control"] == "no-store"
    data = browser.get("/admin/analytics/api.json?days=7", headers=admin)
    assert data.status_code == 200
    assert data.json is not None
    assert data.json["page_views"] == 2
    redirect = browser.get("/admin/analytics", headers=admin)
    assert redirect.status_code == 308
    assert redirect.headers["Location"].endswith("/admin/analytics/")
    assert browser.get("/admin/analytics/nothing", headers=admin).status_code == 404
    assert browser.post("/admin/analytics/", headers=admin).status_code == 405


def test_dashboard_under_a_script_name(
    redis_url: str, client: redis.Redis, closing: Closing
) -> None:
    app = site()
    analytics = Analytics(app, redis_url=redis_url, flush_interval=60)
    closing(analytics)
    analytics.dashboard(auth=is_admin)
    browser = app.test_client()
    page = browser.get(
        "/analytics/", headers={"X-Role": "admin"}, base_url="http://localhost/site/"
    )
    assert page.status_code == 200
    assert 'href="/site/analytics/?days=7"' in page.get_data(as_text=True)


def test_dashboard_on_every_factory_app(
    redis_url: str, client: redis.Redis, closing: Closing
) -> None:
    analytics = Analytics(redis_url=redis_url, flush_interval=60)
    first = site("first")
    analytics.init_app(first)
    analytics.dashboard(auth=is_admin)  # the app made before ...
    second = site("second")
    second.config["WSGI_ANALYTICS"] = {"prefix": "second"}
    analytics.init_app(second)  # ... and the one made after
    closing(analytics, first, second)
    for app, prefix in ((first, "analytics"), (second, "second")):
        page = app.test_client().get("/analytics/", headers={"X-Role": "admin"})
        assert page.status_code == 200
        assert f'<span class="prefix">{prefix}</span>' in page.get_data(as_text=True)


# -- flask analytics report -------------------------------------------------------------------


def test_report_command(redis_url: str, client: redis.Redis, closing: Closing) -> None:
    app = site()
    app.config["WSGI_ANALYTICS"] = {"redis_url": redis_url, "prefix": "cli", "flush_interval": 60}
    analytics = Analytics(app)
    closing(analytics)
    runner = app.test_cli_runner()

    empty = runner.invoke(args=["analytics", "report"])
    assert empty.exit_code == 1
    assert "nothing recorded under prefix 'cli'" in empty.output

    drive(app, [("GET", "/", CHROME, ""), ("GET", "/about/", IPHONE, ""), ("GET", "/", CHROME, "")])
    analytics.recorder.flush()
    text = runner.invoke(args=["analytics", "report"])
    assert text.exit_code == 0, text.output
    lines = [" ".join(line.split()) for line in text.output.splitlines()]
    assert "page views 3" in lines
    assert lines[lines.index("Pages count share") + 1].startswith("/ 2 66.7% ██")

    as_json = runner.invoke(args=["analytics", "report", "--json", "--limit", "1"])
    assert as_json.exit_code == 0, as_json.output
    document = json.loads(as_json.output)
    assert document["prefix"] == "cli"
    assert document["page_views"] == 3
    assert document["dimensions"]["paths"]["rows"] == [{"member": "/", "count": 2, "share": 0.6667}]

    other = runner.invoke(args=["analytics", "report", "--prefix", "elsewhere"])
    assert other.exit_code == 1
    assert "'elsewhere'" in other.output
    bad = runner.invoke(args=["analytics", "report", "--days", "0"])
    assert bad.exit_code == 2
    assert "positive number of days" in bad.output
    usage = runner.invoke(args=["analytics", "report", "--help"])
    assert usage.exit_code == 0
    assert "usage: flask analytics report" in usage.output
    assert "--json" in usage.output


# -- the retention the recorders stored -------------------------------------------------------


@pytest.mark.parametrize(
    ("read", "first", "page_views", "clipped"),
    [
        pytest.param("dashboard", 30, 3, True, id="the dashboard"),
        pytest.param("report", 30, 3, True, id="flask analytics report"),
        pytest.param("report --retention-days 60", 59, 11, False, id="the report told otherwise"),
    ],
)
def test_reads_are_cut_at_the_stored_retention(
    redis_url: str,
    client: redis.Redis,
    closing: Closing,
    read: str,
    first: int,
    page_views: int,
    clipped: bool,
) -> None:
    app = site()
    app.config["WSGI_ANALYTICS"] = {
        "redis_url": redis_url,
        "prefix": "kept",
        "flush_interval": 60,
        "retention_days": 30,
    }
    analytics = Analytics(app)
    closing(analytics)
    analytics.dashboard(auth=is_admin)
    drive(app, [("GET", "/", CHROME, "")])
    analytics.recorder.flush()
    put_past(client, "kept", 20, {"/old": 2})
    put_past(client, "kept", 45, {"/older": 8})  # past the retention: expired in real life
    if read == "dashboard":
        answer = app.test_client().get("/analytics/api.json?days=60", headers={"X-Role": "admin"})
        assert answer.status_code == 200
        document = answer.json
    else:
        argv = ["analytics", *read.split(), "--days", "60", "--json"]
        result = app.test_cli_runner().invoke(args=argv)
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
    assert document is not None
    assert (document["first"], document["page_views"], document["clipped"]) == (
        day_label(today() - first),
        page_views,
        clipped,
    )


# -- the flush at exit ------------------------------------------------------------------------


def test_counts_flushed_at_exit(redis_url: str, client: redis.Redis) -> None:
    script = textwrap.dedent(
        f"""
        import flask
        from wsgi_analytics.flask import Analytics

        app = flask.Flask("exiting")
        app.add_url_rule("/", "home", lambda: "home")
        analytics = Analytics(app, redis_url={redis_url!r}, flush_interval=3600)
        with app.test_client() as browser:
            for _ in range(4):
                browser.get("/", headers={{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"}}).close()
        analytics.recorder.track("signups", "pro")
        """  # noqa: E501
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    with Stats(redis_url) as stats:
        assert stats.top("paths") == [("/", 4)]
        assert stats.top("signups") == [("pro", 1)]


def test_throttle_object_passes_through(
    redis_url: str, client: redis.Redis, closing: Closing
) -> None:
    throttle = Throttle(limit=1, window=60)
    app = site()
    analytics = Analytics(app, redis_url=redis_url, flush_interval=60, throttle=throttle)
    closing(analytics)
    browser = app.test_client()
    statuses = [browser.post("/comment").status_code for _ in range(2)]
    assert statuses == [200, 429]
    throttle.close()
