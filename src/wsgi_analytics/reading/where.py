"""A filter written as text, ``DIMENSION:MEMBER`` (``sources:Google``, ``paths:/a:b``): the
dashboard's ``?where=`` and ``wsgi-analytics report --where`` both read it here, into the
``where`` pair of `wsgi_analytics.reading.stats.Stats`.

It is split at the first colon: a filter dimension's name never holds one, a member (a path)
may."""

from __future__ import annotations

from ..keys import PAIR_FILTERS

__all__ = ["FILTERS", "MAX_MEMBER", "parse_where"]

# The dimensions a filter can name: those the recorder counts drill-down pairs for.
FILTERS = PAIR_FILTERS
# Recorded members are capped at 512 characters, so a longer one cannot match: it is refused
# rather than sent to Redis.
MAX_MEMBER = 1024


def parse_where(text: str) -> tuple[str, str]:
    """``(dimension, member)`` of ``text``, or a `ValueError` saying what a filter takes."""
    dimension, colon, member = text.partition(":")
    if not colon or dimension not in FILTERS or not member:
        raise ValueError(f"where must be one of {', '.join(FILTERS)}, a colon and a member")
    if len(member) > MAX_MEMBER:
        raise ValueError(f"the member of where is at most {MAX_MEMBER} characters")
    return dimension, member
