"""Route templates: the id-collapsing fallback, the members, and real Starlette/FastAPI apps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Host, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from wsgi_analytics.request.routes import (
    MAX_TEMPLATE,
    ROUTE_KEY,
    UNMATCHED,
    explicit_route,
    openapi_template,
    route_member,
    template,
    template_from_scope,
)

UUID = "550e8400-e29b-41d4-a716-446655440000"

COLLAPSE = [
    pytest.param("/users/123", "/users/{id}", id="digits"),
    pytest.param("/users/0", "/users/{id}", id="one digit"),
    pytest.param("/users/123/", "/users/{id}/", id="trailing slash kept"),
    pytest.param("/orders/12/items/3", "/orders/{id}/items/{id}", id="two ids"),
    pytest.param("/2024/05/my-post", "/{id}/{id}/my-post", id="archive numbers"),
    pytest.param(f"/u/{UUID}", "/u/{id}", id="uuid"),
    pytest.param(f"/u/{UUID.upper()}", "/u/{id}", id="uuid upper"),
    pytest.param("/u/550e8400e29b41d4a716446655440000", "/u/{id}", id="uuid without dashes"),
    pytest.param("/obj/507f1f77bcf86cd799439011", "/obj/{id}", id="object id, 24 hex"),
    pytest.param("/f/d41d8cd98f00b204e9800998ecf8427e", "/f/{id}", id="md5"),
    pytest.param("/commit/3f2a9c1b", "/commit/{id}", id="short hash, 8 hex"),
    pytest.param("/commit/3F2A9C1B7D", "/commit/{id}", id="short hash upper"),
    pytest.param("/x/01ARZ3NDEKTSV4RRFFQ69G5FAV", "/x/{id}", id="ulid"),
    pytest.param("/n/V1StGXR8_Z5jdHi6B-myT", "/n/{id}", id="nanoid"),
    pytest.param("/customers/cus_9s6XKzkNRiz8i3", "/customers/{id}", id="stripe customer"),
    pytest.param("/pi/pi_3MtwBwLkdIwHu7ix28a3tqPa", "/pi/{id}", id="stripe intent"),
    pytest.param("/reset/MTIzNDU2Nzg5MA==", "/reset/{id}", id="base64 token"),
    pytest.param("/t/k3j4h5g6f7d8s9a0", "/t/{id}", id="base36 token"),
    pytest.param("/invoices/123.pdf", "/invoices/{id}.pdf", id="digits with extension"),
    pytest.param("/api/users/42.json", "/api/users/{id}.json", id="json suffix"),
    pytest.param(f"/a/{UUID}/b/77", "/a/{id}/b/{id}", id="uuid and digits"),
    pytest.param("/iPhone15ProMax", "/{id}", id="camel case with digits (accepted)"),
]

KEEP = [
    "/",
    "/blog/my-first-post",
    "/users/me",
    "/api/v2/",
    "/api/v1/users",
    "/en-us/",
    "/static/app.css",
    "/static/app.3f2a9c1b.js",  # hashed assets: bounded by deployments, extension kept
    "/top10movies",
    "/python-3-release-notes",
    "/windows10-upgrade-guide",
    "/Annual-Report-Q3-2024",
    "/Hello-World-2024",
    "/h2o-and-co2-levels",
    "/ES2015-features",
    "/ipv6-setup",
    "/x86-64-asm",
    "/2024-05-01",  # a date: bounded, and readable
    "/deadbeef",  # hex letters, no digit: a word
    "/facade",
    "/getUserProfileSettings",
    "/s/aB3x9",  # short codes are indistinguishable from words: kept (documented)
    "/ch_1Mz",
    "/v1.2.3/docs",
    "/~alice/",
    "/caf\u00e9/123\u0663",  # non-ASCII digits are not ids
    "//double//slash",
    "/wp-login.php",
    "/.env",
    "/feed.xml",
    "/{id}",
]


@pytest.mark.parametrize(("path", "expected"), COLLAPSE)
def test_collapses(path: str, expected: str) -> None:
    assert template(path) == expected


@pytest.mark.parametrize("path", KEEP)
def test_keeps(path: str) -> None:
    assert template(path) == path


def test_length_is_capped() -> None:
    assert template("/a" * 1000) == ("/a" * 1000)[:MAX_TEMPLATE]
    assert len(template("/1" * 100_000)) == MAX_TEMPLATE
    assert template("/1" * 100_000).startswith("/{id}/{id}")


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param("/items/<int:item_id>", "/items/{item_id}", id="flask int"),
        pytest.param("/u/<name>/posts/<int:pid>", "/u/{name}/posts/{pid}", id="two, no converter"),
        pytest.param("/<string(length=2):lang>/", "/{lang}/", id="converter arguments"),
        pytest.param("/f/<path:rest>", "/f/{rest}", id="path"),
        pytest.param("/items/<int:item_id>/", "/items/{item_id}/", id="django trailing slash"),
        pytest.param("/<slug:slug>-<int:pk>/", "/{slug}-{pk}/", id="two in one segment"),
        pytest.param("/archive/(?P<year>[0-9]{4})/", "/archive/{year}/", id="django re_path"),
        pytest.param("/(?P<a>(x|y)+)/(?P<b>\\d+)", "/{a}/{b}", id="nested group"),
        pytest.param("/plain/path", "/plain/path", id="nothing to change"),
        pytest.param("/a<b", "/a<b", id="lone bracket kept"),
        pytest.param("/items/{item_id}", "/items/{item_id}", id="already openapi"),
    ],
)
def test_openapi_template(rule: str, expected: str) -> None:
    assert openapi_template(rule) == expected


@pytest.mark.parametrize(
    ("method", "route", "expected"),
    [
        pytest.param("GET", "/items/{item_id}", "GET /items/{item_id}", id="get"),
        pytest.param("delete", "/x", "DELETE /x", id="lower case"),
        pytest.param("QUERY", "/x", "QUERY /x", id="query"),
        pytest.param("FOOBAR", "/x", "OTHER /x", id="unknown method"),
        pytest.param("GET", UNMATCHED, "GET (unmatched)", id="unmatched"),
    ],
)
def test_route_member(method: str, route: str, expected: str) -> None:
    assert route_member(method, route) == expected


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        pytest.param({ROUTE_KEY: "/orders/{order_id}"}, "/orders/{order_id}", id="set"),
        pytest.param({}, None, id="absent"),
        pytest.param({ROUTE_KEY: ""}, None, id="empty"),
        pytest.param({ROUTE_KEY: 42}, None, id="not a str"),
        pytest.param({ROUTE_KEY: "/x" * 600}, ("/x" * 600)[:MAX_TEMPLATE], id="capped"),
    ],
)
def test_explicit_route(mapping: dict[str, Any], expected: str | None) -> None:
    assert explicit_route(mapping) == expected
    assert template_from_scope(dict(mapping)) == expected


# ---- real frameworks: what the router leaves in the scope after the app ran ----------------


def _capturing(app: ASGIApp, seen: list[str | None]) -> ASGIApp:
    """An outer ASGI middleware reading the template after the app ran, as the adapter will."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        if scope["type"] == "http":
            seen.append(template_from_scope(scope))

    return middleware


async def _text(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _sets_its_own(request: Request) -> PlainTextResponse:
    request.scope[ROUTE_KEY] = "/custom/{name}"
    return PlainTextResponse("ok")


def _starlette(static: Path) -> Starlette:
    users = Router(
        routes=[
            Route("/", _text),
            Route("/{user_id:int}", _text),
            Mount("/{user_id:int}/posts", routes=[Route("/{slug}", _text)]),
        ]
    )
    return Starlette(
        routes=[
            Route("/", _text),
            Route("/items/{item_id:int}", _text, methods=["GET"]),
            Route("/files/{path:path}", _text),
            Route("/price/{amount:float}/{currency}", _text),
            Route("/own/{name}", _sets_its_own),
            Mount("/users", app=users),
            Mount(
                "/api",
                routes=[
                    Mount("/v1", routes=[Route("/things/{thing_id:uuid}", _text)]),
                    Route("/ping", _text),
                ],
            ),
            Mount("/orgs/{org}", routes=[Route("/members/{member_id:int}", _text)]),
            Mount("/static", app=StaticFiles(directory=static)),
            Host("admin.example.com", app=Router(routes=[Route("/panel", _text)])),
        ]
    )


STARLETTE = [
    pytest.param("GET", "/", 200, "/", id="root"),
    pytest.param("GET", "/items/42", 200, "/items/{item_id}", id="int param"),
    pytest.param("POST", "/items/42", 405, "/items/{item_id}", id="method not allowed: route"),
    pytest.param("GET", "/files/a/b/c.txt", 200, "/files/{path}", id="path param"),
    pytest.param("GET", "/price/9.5/EUR", 200, "/price/{amount}/{currency}", id="float param"),
    pytest.param("GET", "/own/x", 200, "/custom/{name}", id="app sets the key: it wins"),
    pytest.param("GET", "/users/", 200, "/users/", id="mount root"),
    pytest.param("GET", "/users/7", 200, "/users/{user_id}", id="mount + param"),
    pytest.param("GET", "/users/7/posts/hello", 200, "/users/{user_id}/posts/{slug}", id="nested"),
    pytest.param("GET", f"/api/v1/things/{UUID}", 200, "/api/v1/things/{thing_id}", id="deep"),
    pytest.param("GET", "/api/ping", 200, "/api/ping", id="mount literal"),
    pytest.param(
        "GET", "/orgs/acme/members/3", 200, "/orgs/{org}/members/{member_id}", id="p mount"
    ),
    pytest.param("GET", "/static/site.css", 200, "/static/{path}", id="static files"),
    pytest.param("GET", "/static/missing.css", 404, "/static/{path}", id="static 404: a route"),
    pytest.param("GET", "/nope", 404, None, id="unmatched"),
    pytest.param("GET", "/api/nope", 404, None, id="unmatched inside a mount"),
    pytest.param("GET", "/orgs/acme/nope", 404, None, id="unmatched inside a param mount"),
    pytest.param("GET", "/items/notanint", 404, None, id="converter refuses: unmatched"),
]


@pytest.mark.parametrize(("method", "path", "status", "expected"), STARLETTE)
def test_starlette(
    tmp_path: Path, method: str, path: str, status: int, expected: str | None
) -> None:
    (tmp_path / "site.css").write_text("body{}")
    seen: list[str | None] = []
    with TestClient(_capturing(_starlette(tmp_path), seen)) as client:
        # twice: the second request finds its route remembered (`routes._endpoints`)
        for _ in range(2):
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code == status
    assert seen == [expected, expected]


def test_starlette_host_route() -> None:
    seen: list[str | None] = []
    app = _capturing(_starlette(Path()), seen)
    with TestClient(app, base_url="http://admin.example.com") as client:
        assert client.get("/panel").status_code == 200
        assert client.get("/elsewhere").status_code == 404
    assert seen == ["/panel", None]


def test_starlette_middleware_sees_the_route() -> None:
    # Added with add_middleware, the adapter sits inside Starlette's stack: same scope dict.
    seen: list[str | None] = []

    class Capture:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            await self.app(scope, receive, send)
            if scope["type"] == "http":
                seen.append(template_from_scope(scope))

    app = Starlette(routes=[Route("/items/{item_id:int}", _text)])
    app.add_middleware(Capture)
    with TestClient(app) as client:
        client.get("/items/5")
        client.get("/nope")
    assert seen == ["/items/{item_id}", None]


def _fastapi(static: Path) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        return {"item_id": item_id}

    @app.get("/shops/{shop_id}/items/{item_id}/reviews/{review_id}")
    def review(shop_id: str, item_id: int, review_id: int) -> dict[str, str]:
        return {}

    @app.get("/files/{file_path:path}")
    def file(file_path: str) -> dict[str, str]:
        return {}

    users = APIRouter()

    @users.get("/{user_id}")
    def user(user_id: int) -> dict[str, int]:
        return {}

    @users.get("/")
    def users_root() -> list[int]:
        return []

    app.include_router(users, prefix="/users")

    prefixed = APIRouter(prefix="/v2")
    inner = APIRouter(prefix="/deep")

    @inner.get("/x/{a}")
    def deep(a: str) -> dict[str, str]:
        return {}

    prefixed.include_router(inner, prefix="/in")
    app.include_router(prefixed, prefix="/api")

    orgs = APIRouter()

    @orgs.get("/members/{member_id}")
    def member(org_id: str, member_id: int) -> dict[str, str]:
        return {}

    app.include_router(orgs, prefix="/orgs/{org_id}")

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    def thing(thing_id: str) -> dict[str, str]:
        return {}

    app.mount("/sub", sub)
    app.mount("/static", StaticFiles(directory=static))
    return app


FASTAPI = [
    pytest.param("GET", "/items/3", 200, "/items/{item_id}", id="param"),
    pytest.param("GET", "/items/x", 422, "/items/{item_id}", id="validation error: a route"),
    pytest.param("DELETE", "/items/3", 405, "/items/{item_id}", id="405: a route"),
    pytest.param(
        "GET",
        "/shops/s1/items/2/reviews/9",
        200,
        "/shops/{shop_id}/items/{item_id}/reviews/{review_id}",
        id="three params",
    ),
    pytest.param("GET", "/files/a/b.txt", 200, "/files/{file_path}", id="path param"),
    pytest.param("GET", "/users/5", 200, "/users/{user_id}", id="include_router prefix"),
    pytest.param("GET", "/users/", 200, "/users/", id="include_router root"),
    pytest.param("GET", "/api/v2/in/deep/x/1", 200, "/api/v2/in/deep/x/{a}", id="nested routers"),
    pytest.param(
        "GET", "/orgs/acme/members/4", 200, "/orgs/{org_id}/members/{member_id}", id="param prefix"
    ),
    pytest.param("GET", "/sub/things/z", 200, "/sub/things/{thing_id}", id="mounted sub-app"),
    pytest.param("GET", "/static/site.css", 200, "/static/{path}", id="static files"),
    pytest.param("GET", "/nope", 404, None, id="unmatched"),
    pytest.param("GET", "/sub/nope", 404, None, id="unmatched in a sub-app"),
]


@pytest.mark.parametrize(("method", "path", "status", "expected"), FASTAPI)
def test_fastapi(tmp_path: Path, method: str, path: str, status: int, expected: str | None) -> None:
    (tmp_path / "site.css").write_text("body{}")
    seen: list[str | None] = []
    with TestClient(_capturing(_fastapi(tmp_path), seen)) as client:
        # twice: the second request finds its route remembered (`routes._endpoints`)
        for _ in range(2):
            response = client.request(method, path, follow_redirects=False)
            assert response.status_code == status
    assert seen == [expected, expected]


def test_not_starlette_is_none() -> None:
    assert template_from_scope({"type": "http", "path": "/users/1"}) is None


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({"endpoint": object(), "route": object()}, id="route without format"),
        pytest.param({"endpoint": 1, "route": 1, "root_path": 5}, id="odd types"),
        pytest.param({"endpoint": 1, "route": None, "fastapi": {"x": 1}}, id="odd fastapi"),
    ],
)
def test_odd_scopes_never_raise(scope: dict[str, Any]) -> None:
    assert template_from_scope(scope) is None


def test_precedence_explicit_over_framework() -> None:
    class FakeRoute:
        path_format = "/framework/{x}"

    scope: dict[str, Any] = {"endpoint": 1, "route": FakeRoute(), ROUTE_KEY: "/explicit"}
    assert template_from_scope(scope) == "/explicit"
    del scope[ROUTE_KEY]
    assert template_from_scope(scope) == "/framework/{x}"


def _without_fastapi_key(app: ASGIApp, seen: list[str | None]) -> ASGIApp:
    """As _capturing, but as if FastAPI kept no private route context (another version)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app(scope, receive, send)
        if scope["type"] == "http":
            scope.pop("fastapi", None)
            seen.append(template_from_scope(scope))

    return middleware


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param("/items/3", "/items/{item_id}", id="no prefix"),
        pytest.param("/users/5", "/users/{user_id}", id="include_router prefix"),
        pytest.param("/api/v2/in/deep/x/1", "/api/v2/in/deep/x/{a}", id="nested routers"),
        pytest.param(
            "/orgs/acme/members/4", "/orgs/{org_id}/members/{member_id}", id="param prefix"
        ),
        pytest.param("/sub/things/z", "/sub/things/{thing_id}", id="mounted sub-app"),
    ],
)
def test_fastapi_prefix_recovered_without_its_private_key(
    tmp_path: Path, path: str, expected: str
) -> None:
    seen: list[str | None] = []
    with TestClient(_without_fastapi_key(_fastapi(tmp_path), seen)) as client:
        # twice: the second request finds its route remembered (`routes._endpoints`)
        assert client.get(path).status_code == 200
        assert client.get(path).status_code == 200
    assert seen == [expected, expected]
