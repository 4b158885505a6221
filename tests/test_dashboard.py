"""The dashboard in-process through Starlette's TestClient: page, JSON, escaping, access
control, ranges, mounting under a prefix in ASGI and in WSGI, and a Redis outage."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from a2wsgi import ASGIMiddleware
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient
from werkzeug.test import Client as WSGIClient

from wsgi_analytics.dashboard import app
from wsgi_analytics.embedded import free_port
from wsgi_analytics.facts import from_environ
from wsgi_analytics.recorder import Recorder

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
EVIL = "/<script>alert(1)</script>"
LOCAL = ("127.0.0.1", 40000)


def visit(recorder: Recorder, path: str, referrer: str = "", status: int = 200) -> None:
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "HTTP_HOST": "example.org",
        "HTTP_USER_AGENT": FIREFOX,
        "HTTP_REFERER": referrer,
        "REMOTE_ADDR": "203.0.113.9",
    }
    recorder.record(from_environ(environ), status)


@pytest.fixture
def filled(client: redis.Redis, redis_url: str) -> redis.Redis:
    recorder = Recorder(redis_url)
    for _ in range(3):
        visit(recorder, "/")
    visit(recorder, EVIL, referrer='https://"><img src=x onerror=alert(2)>.evil.example/')
    visit(recorder, "/gone", status=404)
    recorder.close()
    return client


@pytest.fixture
def local(filled: redis.Redis) -> Iterator[TestClient]:
    with TestClient(app(client=filled), base_url="http://127.0.0.1:8050", client=LOCAL) as tc:
        yield tc


def test_page_renders_from_localhost(local: TestClient) -> None:
    response = local.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<svg id="traffic-chart"' in html
    assert html.count('<rect class="bar"') == 1  # only the current hour has page views
    for name in ("paths", "referrers", "browsers", "platforms", "devices", "bots"):
        assert f'id="dim-{name}"' in html
    assert 'id="dim-not_found"' in html
    assert 'id="dim-throttled"' in html
    assert '<div class="v">4</div>' in html  # page views
    assert "http" not in html.replace("http://www.w3.org/2000/svg", "")  # no external asset


def test_attacker_text_is_escaped(local: TestClient) -> None:
    response = local.get("/")
    html = response.text
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img" not in html
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"


def test_json_schema(local: TestClient) -> None:
    response = local.get("/api.json?days=7&limit=2")
    assert response.status_code == 200
    document = response.json()
    assert document["schema"] == 1
    assert (document["days"], document["page_views"], document["uniques"]) == (7, 4, 1)
    assert document["series"]["unit"] == "day"
    assert [p["count"] for p in document["series"]["points"]] == [0, 0, 0, 0, 0, 0, 4]
    assert document["dimensions"]["paths"] == {
        "total": 4,
        "distinct": 2,
        "rows": [
            {"member": "/", "count": 3, "share": 0.75},
            {"member": EVIL, "count": 1, "share": 0.25},
        ],
    }
    assert document["dimensions"]["not_found"]["rows"] == [
        {"member": "/gone", "count": 1, "share": 1.0}
    ]


@pytest.mark.parametrize(
    ("query", "days", "unit"),
    [
        pytest.param("", 1, "hour", id="default today"),
        pytest.param("?days=1", 1, "hour", id="today"),
        pytest.param("?days=30", 30, "day", id="30 days"),
        pytest.param("?days=all", None, "day", id="all"),
        pytest.param("?days=90", 90, "day", id="any number"),
    ],
)
def test_ranges(local: TestClient, query: str, days: int | None, unit: str) -> None:
    document = local.get(f"/api.json{query}").json()
    assert (document["days"], document["series"]["unit"]) == (days, unit)
    assert document["page_views"] == 4
    assert local.get(f"/{query}").status_code == 200


@pytest.mark.parametrize("query", ["?days=0", "?days=week", "?limit=0", "?limit=101"])
def test_bad_queries_are_400(local: TestClient, query: str) -> None:
    page = local.get(f"/{query}")
    assert page.status_code == 400
    assert "Bad request" in page.text
    assert "error" in local.get(f"/api.json{query}").json()


def test_selected_range_is_marked(local: TestClient) -> None:
    html = local.get("/?days=30").text
    assert '<a href="/?days=30" class=on>30 days</a>' in html
    assert '<a href="/?days=all">All time</a>' in html


# -- access control ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        pytest.param(("127.0.0.1", 1), {}, 200, id="loopback v4"),
        pytest.param(("::1", 1), {}, 200, id="loopback v6"),
        pytest.param(("testclient", 1), {}, 403, id="not local"),
        pytest.param(("192.0.2.1", 1), {}, 403, id="remote address"),
        pytest.param(("127.0.0.1", 1), {"X-Forwarded-For": "192.0.2.1"}, 403, id="via proxy"),
        pytest.param(("127.0.0.1", 1), {"Forwarded": "for=192.0.2.1"}, 403, id="forwarded"),
        pytest.param(("127.0.0.1", 1), {"Host": "rebind.example"}, 403, id="dns rebinding"),
        pytest.param(("127.0.0.1", 1), {"Host": "localhost:8050"}, 200, id="localhost name"),
    ],
)
def test_without_secrets_only_localhost(
    filled: redis.Redis, peer: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    with TestClient(app(client=filled), base_url="http://127.0.0.1", client=peer) as tc:
        response = tc.get("/", headers=headers)
        assert response.status_code == status
        if status == 403:
            assert "localhost only" in response.text
            assert "Pages" not in response.text


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        pytest.param("/", {}, 401, id="nothing"),
        pytest.param("/", {"Authorization": "Bearer s3cret-token"}, 200, id="bearer"),
        pytest.param("/", {"Authorization": "bearer s3cret-token"}, 200, id="bearer lower"),
        pytest.param("/?token=s3cret-token", {}, 200, id="query token"),
        pytest.param("/api.json?token=s3cret-token", {}, 200, id="json query token"),
        pytest.param("/", {"Authorization": "Bearer wrong"}, 401, id="wrong token"),
        pytest.param("/?token=s3cret-toke", {}, 401, id="prefix of token"),
        pytest.param("/", basic("admin", "hunter2"), 200, id="basic"),
        pytest.param("/", basic("admin", "wrong"), 401, id="basic wrong password"),
        pytest.param("/", basic("root", "hunter2"), 401, id="basic wrong user"),
        pytest.param("/", {"Authorization": "Basic !!!"}, 401, id="basic garbage"),
    ],
)
def test_secrets_let_remote_requests_in(
    filled: redis.Redis, url: str, headers: dict[str, str], status: int
) -> None:
    dashboard = app(client=filled, token="s3cret-token", username="admin", password="hunter2")
    with TestClient(dashboard) as tc:
        response = tc.get(url, headers=headers)
        assert response.status_code == status
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Basic")
            assert "Pages" not in response.text


def test_token_only_challenges_with_bearer(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token="t0ken")) as tc:
        response = tc.get("/")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_query_token_is_kept_in_links(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token="t0ken")) as tc:
        html = tc.get("/?token=t0ken&days=7").text
        assert 'href="/?days=30&amp;token=t0ken"' in html
    with TestClient(app(client=filled, token="t0ken")) as tc:
        html = tc.get("/", headers={"Authorization": "Bearer t0ken"}).text
        assert "token=" not in html


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"token": ""}, id="empty token"),
        pytest.param({"username": "admin"}, id="user without password"),
        pytest.param({"username": "admin", "password": ""}, id="empty password"),
    ],
)
def test_unsafe_secrets_are_refused(filled: redis.Redis, options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"password|token"):
        app(client=filled, **options)


# -- mounting ---------------------------------------------------------------------------------


def test_mounted_under_a_prefix(filled: redis.Redis) -> None:
    site = Starlette(routes=[Mount("/analytics", app=app(client=filled, token="t"))])
    with TestClient(site, headers={"Authorization": "Bearer t"}) as tc:
        html = tc.get("/analytics/").text
        assert 'href="/analytics/?days=7"' in html
        assert 'href="/analytics/api.json?days=1"' in html
        assert tc.get("/analytics/api.json?days=7").json()["page_views"] == 4
        assert tc.get("/analytics", follow_redirects=True).status_code == 200
        assert tc.get("/api.json").status_code == 404


def test_mounted_in_a_wsgi_app(filled: redis.Redis) -> None:
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    flask_app = Flask("site")
    flask_app.add_url_rule("/", "home", lambda: "home")
    # a2wsgi's and werkzeug's own protocol types do not know each other: hence the casts.
    dashboard = ASGIMiddleware(cast(Any, app(client=filled, token="t")))
    flask_app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, {"/analytics": cast(Any, dashboard)}
    )
    browser = WSGIClient(flask_app)
    assert browser.get("/").text == "home"
    assert browser.get("/analytics/").status_code == 401
    page = browser.get("/analytics/", headers={"Authorization": "Bearer t"})
    assert page.status_code == 200
    assert 'href="/analytics/?days=7"' in page.text
    # a2wsgi takes the ASGI client from REMOTE_ADDR and REMOTE_PORT, as real servers set them.
    peer = {"REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "50123"}
    local = browser.get("/analytics/api.json", environ_base=peer)
    assert local.status_code == 200
    assert local.json["page_views"] == 4  # type: ignore[index]


# -- failures ---------------------------------------------------------------------------------


def test_redis_down_is_a_503_sentence() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(app(url), base_url="http://127.0.0.1", client=LOCAL) as tc:
        page = tc.get("/")
        assert page.status_code == 503
        assert "cannot read from redis://127.0.0.1:" in page.text
        assert "Traceback" not in page.text
        data = tc.get("/api.json")
        assert data.status_code == 503
        assert data.json()["error"].startswith("cannot read from")


def test_owned_client_closed_at_shutdown(client: redis.Redis, redis_url: str) -> None:
    before = len(client.client_list())
    dashboard = app(redis_url)
    with TestClient(dashboard, base_url="http://127.0.0.1", client=LOCAL) as tc:
        assert tc.get("/").status_code == 200
    assert len(client.client_list()) == before


def test_empty_database_renders(client: redis.Redis) -> None:
    with TestClient(app(client=client), base_url="http://127.0.0.1", client=LOCAL) as tc:
        html = tc.get("/?days=all").text
        assert "no page views in this range yet" in html
        assert "nothing counted" in html
