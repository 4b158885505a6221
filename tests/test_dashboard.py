"""The dashboard in-process through Starlette's TestClient: page, JSON, escaping, access
control, ranges, mounting under a prefix in ASGI and in WSGI, and a Redis outage."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, cast

import httpx
import pytest
import redis
from a2wsgi import ASGIMiddleware
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from werkzeug.test import Client as WSGIClient

from wsgi_analytics.dashboard import app, is_local
from wsgi_analytics.dashboard.access import SESSION_COOKIE, AccessControl
from wsgi_analytics.embedded import free_port
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.recording.recorder import Recorder

from .helpers import visit

EVIL = "/<script>alert(1)</script>"
LOCAL = ("127.0.0.1", 40000)


class Answer(Protocol):
    """A response of TestClient or of httpx (two packages: the same shape)."""

    @property
    def headers(self) -> Mapping[str, str]: ...


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
    dashboard = app(client=filled, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1:8050", client=LOCAL) as tc:
        yield tc


def test_page_renders_from_localhost(local: TestClient) -> None:
    response = local.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert '<div id="traffic-chart"' in html
    # Three drawings of the chart (wide, medium, narrow); only the current hour has page views.
    assert html.count('<rect class="bar"') == 3
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


def test_json_escapes_what_a_terminal_obeys(client: redis.Redis, redis_url: str) -> None:
    # `curl .../api.json` prints to a terminal: C1 CSI, a bidi override, a line separator and
    # DEL arrive as \u escapes, the same strings once parsed.
    hostile = "/\x9b2J\u202e\u2028\x7f/café"
    recorder = Recorder(redis_url)
    visit(recorder, hostile.encode().decode("latin-1"))
    recorder.close()
    dashboard = app(client=client, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1", client=LOCAL) as tc:
        response = tc.get("/api.json")
    body = response.content.decode()
    assert [c for c in body if not c.isprintable()] == []
    assert "\\u009b2J\\u202e\\u2028\\u007f/café" in body
    assert response.json()["dimensions"]["paths"]["rows"][0]["member"] == hostile


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


def assert_private(response: Answer) -> None:
    """The headers every dashboard response carries, error pages included."""
    assert response.headers["cache-control"] == "no-store"
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("?days=0", id="days 0"),
        pytest.param("?days=week", id="days word"),
        pytest.param("?days=%C2%B2", id="superscript two"),  # '²'.isdigit() is true
        pytest.param("?days=%D9%A3", id="arabic-indic three"),  # int('٣') == 3
        pytest.param("?days=" + "9" * 5000, id="5000 digits"),  # int() refuses > 4300 digits
        pytest.param("?days=00000000001", id="too long"),
        pytest.param("?days=3661", id="days too many"),
        pytest.param("?days=-1", id="negative"),
        pytest.param("?days=%20 7", id="space"),
        pytest.param("?days=%FF", id="invalid utf-8"),
        pytest.param("?limit=0", id="limit 0"),
        pytest.param("?limit=101", id="limit 101"),
        pytest.param("?limit=%C2%B3", id="superscript three"),
        pytest.param("?limit=" + "1" * 5000, id="limit 5000 digits"),
    ],
)
def test_bad_queries_are_400(local: TestClient, query: str) -> None:
    page = local.get(f"/{query}")
    assert page.status_code == 400
    assert "Bad request" in page.text
    assert_private(page)
    data = local.get(f"/api.json{query}")
    assert data.status_code == 400
    assert "error" in data.json()
    assert_private(data)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/nowhere", 404, id="not found"),
        pytest.param("POST", "/", 405, id="method not allowed"),
        pytest.param("DELETE", "/api.json", 405, id="delete"),
    ],
)
def test_error_pages_are_private(local: TestClient, method: str, path: str, status: int) -> None:
    response = local.request(method, path)
    assert response.status_code == status
    assert_private(response)
    assert "Traceback" not in response.text


def test_server_error_page_is_private(filled: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(Stats, "snapshot", broken)
    dashboard = app(client=filled, trust_local=True)
    with TestClient(
        dashboard, base_url="http://127.0.0.1", client=LOCAL, raise_server_exceptions=False
    ) as tc:
        response = tc.get("/")
        assert response.status_code == 500
        assert_private(response)
        assert "boom" not in response.text


def test_selected_range_is_marked(local: TestClient) -> None:
    html = local.get("/?days=30").text
    assert '<a href="/?days=30" class=on aria-current=page>30 days</a>' in html
    assert '<a href="/?days=all">All</a>' in html
    assert '<a href="/">Today</a>' in html


# -- access control ---------------------------------------------------------------------------

TOKEN = "s3cret-token"
# Every header name some proxy, load balancer, CDN or tunnel adds; each alone makes a loopback
# request "not local".
FORWARDING = [
    ("Forwarded", "for=192.0.2.1"),
    ("X-Forwarded-For", "192.0.2.1"),
    ("X-Forwarded-Host", "127.0.0.1"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Port", "443"),
    ("X-Forwarded-Server", "edge"),
    ("X-Forwarded-Prefix", "/analytics"),
    ("X-Original-Forwarded-For", "192.0.2.1"),
    ("X-Original-Host", "example.org"),
    ("X-Real-IP", "192.0.2.1"),
    ("Via", "1.1 nginx"),
    ("True-Client-IP", "192.0.2.1"),
    ("CF-Connecting-IP", "192.0.2.1"),
    ("CF-Ray", "8f0c2a1b3c4d5e6f-CDG"),
    ("X-Client-IP", "192.0.2.1"),
    ("X-Cluster-Client-IP", "192.0.2.1"),
    ("Fastly-Client-IP", "192.0.2.1"),
    ("Client-IP", "192.0.2.1"),
    ("X-Envoy-External-Address", "192.0.2.1"),
    ("X-Amzn-Trace-Id", "Root=1-67891233-abcdef012345678912345678"),
    ("X-ARR-ClientIP", "192.0.2.1"),
    ("X-Azure-ClientIP", "192.0.2.1"),
    ("X-AppEngine-User-IP", "192.0.2.1"),
    ("Akamai-Origin-Hop", "1"),
    ("X-ProxyUser-Ip", "192.0.2.1"),
    ("WL-Proxy-Client-IP", "192.0.2.1"),
    ("X-Originating-IP", "192.0.2.1"),
    ("X-Remote-Addr", "192.0.2.1"),
    ("CDN-Loop", "cloudflare"),
    ("X-Request-Start", "t=1733040000000"),
]


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        pytest.param(("127.0.0.1", 1), {}, 200, id="loopback v4"),
        pytest.param(("127.8.9.10", 1), {}, 200, id="loopback v4 range"),
        pytest.param(("::1", 1), {"Host": "[::1]:8050"}, 200, id="loopback v6"),
        pytest.param(("::ffff:127.0.0.1", 1), {}, 200, id="loopback v4 mapped"),
        pytest.param(("127.0.0.1", 1), {"Host": "localhost:8050"}, 200, id="localhost name"),
        pytest.param(("testclient", 1), {}, 403, id="not an address"),
        pytest.param(("192.0.2.1", 1), {}, 403, id="remote address"),
        pytest.param(("::ffff:192.0.2.1", 1), {}, 403, id="remote v4 mapped"),
        pytest.param(("127.0.0.1", 1), {"Host": "rebind.example"}, 403, id="dns rebinding"),
        pytest.param(("127.0.0.1", 1), {"Host": "localhost.evil.example"}, 403, id="lookalike"),
        pytest.param(("127.0.0.1", 1), {"Host": "127.0.0.1:x"}, 403, id="bad port"),
        pytest.param(("127.0.0.1", 1), {"Host": "[::1"}, 403, id="unclosed bracket"),
        *(
            pytest.param(("127.0.0.1", 1), {name: value}, 403, id=f"forwarded {name}")
            for name, value in FORWARDING
        ),
    ],
)
def test_without_secrets_only_unforwarded_loopback(
    filled: redis.Redis, peer: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    dashboard = app(client=filled, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1:8050", client=peer) as tc:
        response = tc.get("/", headers=headers)
        assert response.status_code == status
        assert response.headers["cache-control"] == "no-store"
        if status == 403:
            assert "local requests only" in response.text
            assert "Pages" not in response.text


def test_forwarding_headers_through_asgi_transport(filled: redis.Redis) -> None:
    # The same table through httpx's own ASGI transport: nothing TestClient-specific.
    async def statuses() -> list[int]:
        dashboard = app(client=filled, trust_local=True)
        transport = httpx.ASGITransport(app=dashboard, client=LOCAL)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8050") as ac:
            found = [(await ac.get("/")).status_code]
            for name, value in FORWARDING:
                found.append((await ac.get("/", headers={name: value})).status_code)
        return found

    assert asyncio.run(statuses()) == [200] + [403] * len(FORWARDING)


HOST = (b"host", b"127.0.0.1:8050")


@pytest.mark.parametrize(
    ("scope", "local"),
    [
        pytest.param({"headers": [HOST]}, True, id="one loopback host"),
        pytest.param({"headers": [HOST], "http_version": "1.1"}, True, id="http/1.1"),
        pytest.param({"headers": [HOST], "http_version": "2"}, True, id="http/2"),
        # nginx's default upstream protocol, with no header added: the one trace it leaves.
        pytest.param({"headers": [HOST], "http_version": "1.0"}, False, id="http/1.0"),
        pytest.param({"headers": [HOST, (b"host", b"evil.example")]}, False, id="two hosts"),
        pytest.param({"headers": []}, False, id="no host"),
        pytest.param({"headers": [HOST, (b"X-Real-IP", b"1.2.3.4")]}, False, id="upper-case"),
        pytest.param({"headers": [HOST], "client": None}, False, id="no client"),
        pytest.param({"headers": [HOST], "client": ["::1", 1]}, True, id="client as a list"),
    ],
)
def test_is_local(scope: dict[str, Any], local: bool) -> None:
    assert is_local({"type": "http", "client": LOCAL, **scope}) is local


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        pytest.param({}, "", id="allowed: the router has no socket route (1000)"),
        pytest.param({"X-Forwarded-For": "192.0.2.1"}, "access refused", id="forwarded"),
        pytest.param({"Sec-Fetch-Site": "cross-site"}, "access refused", id="cross-site"),
    ],
)
def test_websockets_follow_the_same_rules(
    filled: redis.Redis, headers: dict[str, str], reason: str
) -> None:
    dashboard = app(client=filled, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1:8050", client=LOCAL) as tc:
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            tc.websocket_connect("/", headers={"Host": "127.0.0.1:8050", **headers}),
        ):
            pass
        assert (closed.value.code, closed.value.reason) == (1008 if reason else 1000, reason)


def test_local_trust_is_opt_in(filled: redis.Redis) -> None:
    with TestClient(app(client=filled), base_url="http://127.0.0.1:8050", client=LOCAL) as tc:
        response = tc.get("/")
        assert response.status_code == 403
        assert "No token or credentials are configured" in response.text


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"token": TOKEN}, id="token"),
        pytest.param({"username": "admin", "password": "hunter2"}, id="credentials"),
    ],
)
@pytest.mark.parametrize("trust_local", [True, False])
def test_with_secrets_local_requests_need_them_too(
    filled: redis.Redis, options: dict[str, str], trust_local: bool
) -> None:
    dashboard = app(client=filled, trust_local=trust_local, **cast(Any, options))
    with TestClient(dashboard, base_url="http://127.0.0.1:8050", client=LOCAL) as tc:
        response = tc.get("/")
        assert response.status_code == 401
        assert "Pages" not in response.text
        for path in ("/api.json", "/export.csv", "/live"):
            refused = tc.get(path)
            assert refused.status_code == 401
            assert "content-disposition" not in refused.headers


@pytest.mark.parametrize(
    ("url", "headers", "status"),
    [
        pytest.param("/", {}, 401, id="nothing"),
        pytest.param("/", {"Authorization": f"Bearer {TOKEN}"}, 200, id="bearer"),
        pytest.param("/", {"Authorization": f"bearer {TOKEN}"}, 200, id="bearer lower"),
        pytest.param(f"/?token={TOKEN}", {}, 303, id="query token"),
        pytest.param(f"/api.json?token={TOKEN}", {}, 303, id="json query token"),
        pytest.param("/", {"Authorization": "Bearer wrong"}, 401, id="wrong token"),
        pytest.param(f"/?token={TOKEN[:-1]}", {}, 401, id="prefix of token"),
        pytest.param(f"/?token={TOKEN}&token=x", {}, 401, id="second token wrong"),
        pytest.param("/", basic("admin", "hunter2"), 200, id="basic"),
        pytest.param("/", basic("admin", "wrong"), 401, id="basic wrong password"),
        pytest.param("/", basic("root", "hunter2"), 401, id="basic wrong user"),
        pytest.param("/", {"Authorization": "Basic !!!"}, 401, id="basic garbage"),
        pytest.param("/", {"Cookie": "wsgi_analytics_session=1.x"}, 401, id="forged cookie"),
    ],
)
def test_secrets(filled: redis.Redis, url: str, headers: dict[str, str], status: int) -> None:
    dashboard = app(client=filled, token=TOKEN, username="admin", password="hunter2")
    with TestClient(dashboard, follow_redirects=False) as tc:
        response = tc.get(url, headers=headers)
        assert response.status_code == status
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Basic")
            assert "Pages" not in response.text


def test_token_only_challenges_with_bearer_and_a_form(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token="t0ken")) as tc:
        response = tc.get("/?days=7")
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert '<form method="post"' in response.text  # posts to the page itself
        assert "form-action 'self'" in response.headers["content-security-policy"]


def session_cookie(response: Answer) -> dict[str, str]:
    """The Set-Cookie attributes of a response, lower-cased names ("" for flags)."""
    header = response.headers["set-cookie"]
    parts = [part.strip() for part in header.split(";")]
    attributes = {"value": parts[0].partition("=")[2]}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        attributes[name.lower()] = value
    assert parts[0].startswith(f"{SESSION_COOKIE}=")
    return attributes


def test_token_once_then_a_session_cookie(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token=TOKEN), follow_redirects=False) as tc:
        response = tc.get(f"/?days=7&token={TOKEN}&limit=5")
        assert response.status_code == 303
        assert response.headers["location"] == "/?days=7&limit=5"
        assert response.headers["cache-control"] == "no-store"
        cookie = session_cookie(response)
        assert TOKEN not in response.headers["set-cookie"]
        assert {"httponly", "path", "max-age"} <= cookie.keys()
        assert cookie["samesite"] == "Strict"
        assert cookie["path"] == "/"
        assert "secure" not in cookie  # plain http here
        # The client keeps the cookie: the clean URL now opens, the data too.
        page = tc.get("/?days=7&limit=5")
        assert page.status_code == 200
        assert "token" not in page.text
        assert tc.get("/api.json").json()["page_views"] == 4
        # Another client, with a wrong or tampered cookie, is refused.
        issued, _, mac = cookie["value"].partition(".")
        # One character of the MAC changed (to another one: a MAC may well end with "A").
        tampered = f"{issued}.{mac[:-1]}{'B' if mac.endswith('A') else 'A'}"
        for wrong in (tampered, f"{int(issued) + 1}.{mac}", "", "x" * 200):
            tc.cookies.clear()
            refused = tc.get("/", headers={"Cookie": f"{SESSION_COOKIE}={wrong}"})
            assert refused.status_code == 401, wrong
        tc.cookies.clear()
        assert (
            tc.get("/", headers={"Cookie": f"{SESSION_COOKIE}={cookie['value']}"}).status_code
            == 200
        )


def test_cookie_of_another_token_is_refused(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token="first"), follow_redirects=False) as tc:
        value = session_cookie(tc.get("/?token=first"))["value"]
    with TestClient(app(client=filled, token="second")) as tc:
        assert tc.get("/", headers={"Cookie": f"{SESSION_COOKIE}={value}"}).status_code == 401


def test_session_expires(filled: redis.Redis) -> None:
    inner = Starlette(routes=[Route("/", lambda request: PlainTextResponse("in"))])
    for lifetime, status in ((3600, 200), (0, 401)):
        guarded = AccessControl(inner, token=TOKEN, session_lifetime=lifetime)
        with TestClient(guarded, follow_redirects=False) as tc:
            value = session_cookie(tc.get(f"/?token={TOKEN}"))["value"]
            tc.cookies.clear()
            assert (
                tc.get("/", headers={"Cookie": f"{SESSION_COOKIE}={value}"}).status_code == status
            )


def test_sign_in_form(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token=TOKEN), follow_redirects=False) as tc:
        wrong = tc.post("/?days=7", data={"token": "guess"})
        assert wrong.status_code == 401
        assert "Wrong token" in wrong.text
        right = tc.post("/?days=7", data={"token": TOKEN})
        assert right.status_code == 303
        assert right.headers["location"] == "/?days=7"
        session_cookie(right)
        assert tc.get("/?days=7").status_code == 200
        tc.cookies.clear()
        huge = tc.post("/", data={"token": TOKEN, "pad": "x" * 10_000})
        assert huge.status_code == 401


def test_secure_cookie_over_https_and_mounted_path(filled: redis.Redis) -> None:
    site = Starlette(routes=[Mount("/analytics", app=app(client=filled, token=TOKEN))])
    with TestClient(site, base_url="https://example.org", follow_redirects=False) as tc:
        response = tc.get(f"/analytics/api.json?token={TOKEN}")
        assert response.status_code == 303
        assert response.headers["location"] == "/analytics/api.json"
        cookie = session_cookie(response)
        assert cookie["path"] == "/analytics"
        assert "secure" in cookie
        assert tc.get("/analytics/api.json").json()["page_views"] == 4


@pytest.mark.parametrize(
    ("url", "location"),
    [
        pytest.param(f"//evil.example/?token={TOKEN}", "/evil.example/", id="no scheme-relative"),
        pytest.param(f"/?a=%22%3E&token={TOKEN}", "/?a=%22%3E", id="escapes kept"),
        pytest.param(f"/?token={TOKEN}&a=<b>", "/?a=%3Cb%3E", id="quoted"),
        pytest.param(f"/?to%6ben={TOKEN}", "/", id="encoded name"),
    ],
)
def test_redirect_location(filled: redis.Redis, url: str, location: str) -> None:
    with TestClient(app(client=filled, token=TOKEN), follow_redirects=False) as tc:
        response = tc.get(f"http://testserver{url}")
        assert response.status_code == 303
        assert response.headers["location"] == location


def test_links_never_carry_the_token(filled: redis.Redis) -> None:
    with TestClient(app(client=filled, token="t0ken")) as tc:
        html = tc.get("/?token=t0ken&days=7").text  # followed: the cookie opens the clean URL
        assert 'href="/?days=30"' in html
        assert "t0ken" not in html


@pytest.mark.parametrize(
    ("site", "status"),
    [
        pytest.param("cross-site", 403, id="cross-site"),
        pytest.param("same-site", 403, id="same-site"),
        pytest.param("Cross-Site", 403, id="any case"),
        pytest.param("same-origin", 200, id="same-origin"),
        pytest.param("none", 200, id="typed or bookmarked"),
    ],
)
@pytest.mark.parametrize("path", ["/", "/api.json?days=90", "/export.csv?days=all", "/live"])
def test_cross_site_reads_are_refused(
    filled: redis.Redis, site: str, status: int, path: str
) -> None:
    with TestClient(
        app(client=filled, trust_local=True), base_url="http://127.0.0.1:8050", client=LOCAL
    ) as tc:
        response = tc.get(path, headers={"Sec-Fetch-Site": site})
        assert response.status_code == status
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        if status == 403:
            assert "Cross-site request refused" in response.text
    # A token does not make a cross-site request acceptable either (the browser would send it).
    with TestClient(app(client=filled, token=TOKEN), follow_redirects=False) as tc:
        response = tc.get(
            f"{path}", headers={"Sec-Fetch-Site": site, "Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == status


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"token": ""}, id="empty token"),
        pytest.param({"username": "admin"}, id="user without password"),
        pytest.param({"username": "admin", "password": ""}, id="empty password"),
        pytest.param({"username": "", "password": "x"}, id="empty username"),
    ],
)
def test_unsafe_secrets_are_refused(filled: redis.Redis, options: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"password|token"):
        app(client=filled, **cast(Any, options))


# -- mounting ---------------------------------------------------------------------------------


def test_mounted_under_a_prefix(filled: redis.Redis) -> None:
    site = Starlette(routes=[Mount("/analytics", app=app(client=filled, token="t"))])
    with TestClient(site, headers={"Authorization": "Bearer t"}) as tc:
        html = tc.get("/analytics/").text
        assert 'href="/analytics/?days=7"' in html
        assert 'href="/analytics/api.json?days=1"' in html
        assert 'href="/analytics/export.csv?days=1"' in html
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
    # With a token, a local request needs it too.
    assert browser.get("/analytics/api.json", environ_base=peer).status_code == 401
    trusting = ASGIMiddleware(cast(Any, app(client=filled, trust_local=True)))
    flask_app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        flask_app.wsgi_app, {"/open": cast(Any, trusting)}
    )
    local = browser.get("/open/api.json", environ_base=peer)
    assert local.status_code == 200
    assert local.json["page_views"] == 4  # type: ignore[index]
    remote = {"REMOTE_ADDR": "192.0.2.1", "REMOTE_PORT": "50123"}
    assert browser.get("/open/api.json", environ_base=remote).status_code == 403


# -- failures ---------------------------------------------------------------------------------


def test_redis_down_is_a_503_sentence() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(app(url, trust_local=True), base_url="http://127.0.0.1", client=LOCAL) as tc:
        page = tc.get("/")
        assert page.status_code == 503
        assert "cannot read from redis://127.0.0.1:" in page.text
        assert "Traceback" not in page.text
        data = tc.get("/api.json")
        assert data.status_code == 503
        assert data.json()["error"].startswith("cannot read from")


def test_owned_client_closed_at_shutdown(client: redis.Redis, redis_url: str) -> None:
    before = len(client.client_list())
    dashboard = app(redis_url, trust_local=True)
    with TestClient(dashboard, base_url="http://127.0.0.1", client=LOCAL) as tc:
        assert tc.get("/").status_code == 200
    assert len(client.client_list()) == before


def test_empty_database_renders(client: redis.Redis) -> None:
    with TestClient(
        app(client=client, trust_local=True), base_url="http://127.0.0.1", client=LOCAL
    ) as tc:
        html = tc.get("/?days=all").text
        assert "no page views in this range" in html
        assert "nothing counted" in html
