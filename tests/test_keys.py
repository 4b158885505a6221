"""The key layout's helpers for the drill-down pairs, the live minutes and the settings hash."""

from __future__ import annotations

import fnmatch
import zlib

import pytest

from wsgi_analytics.keys import (
    PAIR_BUCKETS,
    Keys,
    check_dimension,
    pair_bucket,
    pair_member,
    split_pair,
)


@pytest.mark.parametrize(
    ("w", "dimension", "d"),
    [
        pytest.param("/pricing/", "sources", "Google", id="plain"),
        pytest.param("/a\x1fb", "referrers", "x\x1fy", id="separators replaced"),
        pytest.param("", "timeline", "2026-12-01T14", id="empty w"),
        pytest.param("/é/✓", "countries", "(unknown)", id="non-ascii"),
    ],
)
def test_pair_member_splits_back(w: str, dimension: str, d: str) -> None:
    member = pair_member(w, dimension, d)
    assert member.count("\x1f") == 2
    assert split_pair(member) == (
        w.replace("\x1f", "\ufffd"),
        dimension,
        d.replace("\x1f", "\ufffd"),
    )


def test_pairs_keys_share_a_slot_and_spread_over_buckets() -> None:
    keys = Keys("shop")
    assert keys.pairs("paths", 20_000, "/pricing/") == (
        f"{{shop:pairs.paths}}:2024-10-04:{zlib.crc32(b'/pricing/') % PAIR_BUCKETS}"
    )
    assert keys.pairs("paths", None, "/pricing/").startswith("{shop:pairs.paths}:all:")
    buckets = {pair_bucket(f"/item-{n}/") for n in range(1000)}
    assert buckets == set(range(PAIR_BUCKETS))
    assert keys.owns(keys.pairs("sources", 1, "Google"))
    # Not a dimension: the dimension listing skips pairs keys.
    assert keys.dimension_of(keys.pairs("sources", None, "Google")) is None


@pytest.mark.parametrize(
    ("w", "dimension", "hits"),
    [
        pytest.param("/a/", None, {"sources\x1f/a/\x1fGoogle", "timeline\x1f/a/\x1f2026-01-01T00"}),
        pytest.param("/a/", "sources", {"sources\x1f/a/\x1fGoogle"}),
        pytest.param("/*/", None, {"sources\x1f/*/\x1fBing"}, id="glob characters escaped"),
    ],
)
def test_pair_pattern_matches_exactly_one_member(
    w: str, dimension: str | None, hits: set[str]
) -> None:
    members = {
        pair_member("/a/", "sources", "Google"),
        pair_member("/a/", "timeline", "2026-01-01T00"),
        pair_member("/a/b/", "sources", "Google"),
        pair_member("/*/", "sources", "Bing"),
        pair_member("/", "sources", "/a/"),
    }
    pattern = Keys().pair_pattern(w, dimension)
    # fnmatchcase reads [ ] like Redis; Redis's backslash escape is not fnmatch's, so only the
    # unescaped patterns are checked here (a real ZSCAN checks the escaped one in test_acquisition).
    if "\\" not in pattern:
        assert {m for m in members if fnmatch.fnmatchcase(m, pattern)} == hits
    else:
        assert pattern == "*\x1f/\\*/\x1f*"


def test_live_keys() -> None:
    keys = Keys()
    assert keys.live(29_000_000) == "{analytics:live}:29000000"
    assert keys.live_range(3, now=29_000_000 * 60 + 59) == [
        "{analytics:live}:29000000",
        "{analytics:live}:28999999",
        "{analytics:live}:28999998",
    ]
    assert keys.meta() == "{analytics:meta}"


@pytest.mark.parametrize("name", ["meta", "live", "throttle", "pairs.paths", "timeline"])
def test_layout_names_are_not_custom_dimensions(name: str) -> None:
    with pytest.raises(ValueError, match="invalid dimension"):
        check_dimension(name)
