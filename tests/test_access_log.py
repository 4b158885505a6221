"""The replay log and its hand-counted numbers agree (guards the data file against edits)."""

from __future__ import annotations

from collections import Counter

from wsgi_analytics.request.documents import is_document

from . import access_log

BOT_AGENTS = ("bot", "Feed", "python-requests", "curl", "Go-http", "Wget", "zgrab", "Ezooms")


def _is_bot(agent: str) -> bool:
    return not agent or any(word in agent for word in BOT_AGENTS)


def test_counts_by_hand() -> None:
    hits = access_log.read()
    assert len(hits) == 317
    assert sum(access_log.STATUSES.values()) == len(hits)
    assert Counter(str(hit.status) for hit in hits) == access_log.STATUSES
    views = [
        hit
        for hit in hits
        if not _is_bot(hit.user_agent)
        and hit.method == "GET"
        and (200 <= hit.status < 300 or hit.status == 304)
        and hit.path in access_log.PAGES
    ]
    assert len(views) == access_log.PAGE_VIEWS == sum(access_log.PATHS.values())
    assert Counter(hit.path for hit in views) == access_log.PATHS
    assert len({(hit.client, hit.user_agent) for hit in views}) == access_log.UNIQUES
    not_found = Counter(hit.path for hit in hits if hit.method == "GET" and hit.status == 404)
    assert not_found == access_log.NOT_FOUND
    assert sum(1 for hit in hits if _is_bot(hit.user_agent)) == sum(access_log.BOTS.values())


def test_the_document_rule_finds_the_same_page_views() -> None:
    hits = access_log.read()
    by_rule = Counter(
        hit.path
        for hit in hits
        if not _is_bot(hit.user_agent)
        and hit.method == "GET"
        and (200 <= hit.status < 300 or hit.status == 304)
        and is_document(hit.content_type, hit.path)
    )
    assert by_rule == access_log.PATHS


def test_parsed_fields() -> None:
    hits = access_log.read()
    revalidated = [hit for hit in hits if hit.status == 304]
    assert all(hit.content_type is None and hit.size == 0 for hit in revalidated)
    tagged = [hit for hit in hits if "utm_source=" in hit.query]
    assert {hit.path for hit in tagged} == {"/", "/blog/rust-vs-go/", "/blog/my-first-post/"}
    assert sum(1 for hit in hits if not hit.user_agent) == access_log.BOTS["(empty)"]
    assert hits[0].when.tzinfo is not None
    assert hits == sorted(hits, key=lambda hit: hit.when)
