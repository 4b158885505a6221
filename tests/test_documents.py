"""The document rule: which responses are page views (DESIGN A3, "Page views are documents")."""

from __future__ import annotations

import pytest

from wsgi_analytics.request.documents import (
    asgi_content_type,
    is_document,
    path_is_document,
    wsgi_content_type,
)

WITH_TYPE = [
    pytest.param("text/html", "/", True, id="html"),
    pytest.param("text/html; charset=utf-8", "/about", True, id="html utf-8"),
    pytest.param("text/html;charset=UTF-8", "/", True, id="html no space"),
    pytest.param("Text/HTML ; Charset=ISO-8859-1", "/", True, id="html odd case and spaces"),
    pytest.param("TEXT/HTML", "/x", True, id="html upper"),
    pytest.param("application/xhtml+xml", "/", True, id="xhtml"),
    pytest.param("application/XHTML+XML; charset=utf-8", "/", True, id="xhtml upper"),
    pytest.param(" text/html", "/", True, id="leading space"),
    pytest.param("text/html", "/style.css", True, id="header wins over extension"),
    pytest.param("text/css", "/style.css", False, id="css"),
    pytest.param("text/css; charset=utf-8", "/", False, id="css at a page path"),
    pytest.param("application/json", "/api/users/1", False, id="json"),
    pytest.param("application/rss+xml", "/feed/", False, id="rss"),
    pytest.param("application/atom+xml; charset=utf-8", "/atom", False, id="atom"),
    pytest.param("text/plain; charset=utf-8", "/robots.txt", False, id="text"),
    pytest.param("image/x-icon", "/favicon.ico", False, id="favicon"),
    pytest.param("image/svg+xml", "/logo.svg", False, id="svg"),
    pytest.param("application/pdf", "/cv", False, id="pdf without extension"),
    pytest.param("text/htmlx", "/", False, id="not html, a prefix of it"),
    pytest.param("text/xml", "/", False, id="xml"),
    pytest.param("application/xhtml", "/", False, id="not xhtml+xml"),
]

WITHOUT_TYPE = [
    pytest.param("/", True, id="root"),
    pytest.param("/blog/", True, id="trailing slash"),
    pytest.param("/about", True, id="no extension"),
    pytest.param("/index.html", True, id="html"),
    pytest.param("/INDEX.HTM", True, id="htm upper"),
    pytest.param("/page.xhtml", True, id="xhtml"),
    pytest.param("/wp-login.php", True, id="php"),
    pytest.param("/default.aspx", True, id="aspx"),
    pytest.param("/Default.ASP", True, id="asp"),
    pytest.param("/x/view.jsp", True, id="jsp"),
    pytest.param("/v1.2/users", True, id="dot in an earlier segment"),
    pytest.param("/notes.", True, id="empty extension"),
    pytest.param("/style.css", False, id="css"),
    pytest.param("/static/app.min.js", False, id="js"),
    pytest.param("/favicon.ico", False, id="favicon"),
    pytest.param("/img/photo.JPG", False, id="jpg upper"),
    pytest.param("/feed.xml", False, id="feed"),
    pytest.param("/.env", False, id="dotfile"),
    pytest.param("/files/report.pdf", False, id="pdf"),
    pytest.param("/users/john.doe", False, id="dotted page without header (accepted limit)"),
]


@pytest.mark.parametrize(("content_type", "path", "expected"), WITH_TYPE)
def test_content_type_decides(content_type: str, path: str, expected: bool) -> None:
    assert is_document(content_type, path) is expected


@pytest.mark.parametrize(("path", "expected"), WITHOUT_TYPE)
def test_without_content_type_the_extension_decides(path: str, expected: bool) -> None:
    assert is_document(None, path) is expected
    assert is_document("", path) is expected  # an empty header says nothing either
    assert path_is_document(path) is expected


WSGI_HEADERS = [
    pytest.param([("Content-Type", "text/html")], "text/html", id="exact name"),
    pytest.param(
        [("Content-Length", "3"), ("content-type", "text/css")], "text/css", id="lower name"
    ),
    pytest.param([("CONTENT-TYPE", "a/b")], "a/b", id="upper name"),
    pytest.param([("Content-Length", "3")], None, id="absent"),
    pytest.param([], None, id="no headers"),
    pytest.param(
        [("Content-Type", "text/html"), ("Content-Type", "text/css")], "text/html", id="first wins"
    ),
    pytest.param([("X-Content-Type-Options", "nosniff")], None, id="similar name"),
]


@pytest.mark.parametrize(("headers", "expected"), WSGI_HEADERS)
def test_wsgi_content_type(headers: list[tuple[str, str]], expected: str | None) -> None:
    assert wsgi_content_type(headers) == expected


ASGI_HEADERS = [
    pytest.param([(b"content-type", b"text/html; charset=utf-8")], "text/html; charset=utf-8"),
    pytest.param([(b"content-length", b"3"), (b"Content-Type", b"text/css")], "text/css"),
    pytest.param([(b"content-length", b"3")], None),
    pytest.param([(b"content-type", b"text/\xe9")], "text/\xe9"),
]


@pytest.mark.parametrize(("headers", "expected"), ASGI_HEADERS)
def test_asgi_content_type(headers: list[tuple[bytes, bytes]], expected: str | None) -> None:
    assert asgi_content_type(headers) == expected


def test_asgi_headers_as_lists() -> None:
    # The ASGI spec allows any two-item iterables; servers and Starlette send lists.
    headers = [[b"content-type", b"text/html"]]
    assert asgi_content_type(headers) == "text/html"  # type: ignore[arg-type]
