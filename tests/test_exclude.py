"""``exclude=`` patterns: prefixes at segment boundaries, globs whose ``*`` crosses ``/``."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from wsgi_analytics.request.exclude import compile_exclude

CASES = [
    pytest.param(["/static/"], "/static/app.css", True, id="prefix with slash"),
    pytest.param(["/static/"], "/static/", True, id="prefix itself"),
    pytest.param(["/static/"], "/static", False, id="prefix with slash needs the slash"),
    pytest.param(["/static/"], "/staticky", False, id="prefix with slash, other path"),
    pytest.param(["/healthz"], "/healthz", True, id="bare prefix, exact"),
    pytest.param(["/healthz"], "/healthz/", True, id="bare prefix, trailing slash"),
    pytest.param(["/healthz"], "/healthz/live", True, id="bare prefix, below"),
    pytest.param(["/healthz"], "/healthzone", False, id="bare prefix stops at a segment"),
    pytest.param(["/healthz"], "/api/healthz", False, id="prefix is anchored"),
    pytest.param(["/admin"], "/administrators-guide", False, id="admin is not a word prefix"),
    pytest.param(["*.map"], "/static/js/app.js.map", True, id="star crosses slashes"),
    pytest.param(["*.map"], "/map", False, id="glob needs the dot"),
    pytest.param(["*.map"], "/sitemap.mapx", False, id="glob anchored at the end"),
    pytest.param(["/admin/*"], "/admin/users/5/edit", True, id="star at any depth"),
    pytest.param(["/admin/*"], "/admin/", True, id="star matches empty"),
    pytest.param(["/admin/*"], "/admin", False, id="slash star needs the slash"),
    pytest.param(["/wp-*"], "/wp-login.php", True, id="raw prefix as a glob"),
    pytest.param(["/wp-*"], "/blog/wp-x", False, id="glob anchored at the start"),
    pytest.param(["/api/v?/internal"], "/api/v2/internal", True, id="question mark"),
    pytest.param(["/api/v?/internal"], "/api/v10/internal", False, id="question mark is one"),
    pytest.param(["/[._]*"], "/.env", True, id="character class"),
    pytest.param(["/[._]*"], "/env", False, id="character class miss"),
    pytest.param(["/Static/"], "/static/x", False, id="case-sensitive"),
    pytest.param(["/"], "/anything/at/all", True, id="slash excludes everything"),
    pytest.param(["/static/", "*.map", "/healthz"], "/healthz", True, id="mixed, prefix"),
    pytest.param(["/static/", "*.map", "/healthz"], "/a.map", True, id="mixed, glob"),
    pytest.param(["/static/", "*.map", "/healthz"], "/blog/", False, id="mixed, none"),
    pytest.param(["/static/", "/static/"], "/static/x", True, id="duplicates"),
    pytest.param("/static/", "/static/x", True, id="a single string is one pattern"),
    pytest.param("/static/", "/s", False, id="a single string is not letters"),
    pytest.param(("/static/"), "/t", False, id="missing comma"),
    pytest.param((p for p in ["/x"]), "/x", True, id="generator"),
]


@pytest.mark.parametrize(("patterns", "path", "expected"), CASES)
def test_matches(patterns: str | Iterable[str], path: str, expected: bool) -> None:
    excluded = compile_exclude(patterns)
    assert excluded is not None
    assert excluded(path) is expected


@pytest.mark.parametrize(
    "patterns", [(), [], None, iter(())], ids=["tuple", "list", "None", "iter"]
)
def test_nothing_excluded_is_none(patterns: Iterable[str] | None) -> None:
    assert compile_exclude(patterns) is None


BAD = [
    pytest.param([""], ValueError, "must not be empty", id="empty"),
    pytest.param(["static/"], ValueError, "did you mean '/static/'", id="no slash, no glob"),
    pytest.param(["favicon.ico"], ValueError, "'\\*favicon.ico'", id="file name"),
    pytest.param([b"/static/"], TypeError, "must be str, not bytes", id="bytes pattern"),
    pytest.param(b"/static/", TypeError, "not bytes", id="bytes"),
    pytest.param([None], TypeError, "must be str, not NoneType", id="None pattern"),
    pytest.param(42, TypeError, "sequence of str", id="not iterable"),
]


@pytest.mark.parametrize(("patterns", "error", "message"), BAD)
def test_rejected_at_construction(patterns: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        compile_exclude(patterns)  # type: ignore[arg-type]
