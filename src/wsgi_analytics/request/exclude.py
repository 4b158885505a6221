"""``exclude=``: paths that are never counted, compiled once into one cheap predicate.

Each pattern is either

- a **path prefix**: it starts with ``/`` and has no glob character. It matches at a segment
  boundary: ``"/healthz"`` matches ``/healthz``, ``/healthz/`` and ``/healthz/live`` but not
  ``/healthzone``; ``"/static/"`` (trailing slash) matches everything under ``/static/``. Why
  segment boundaries: ``"/admin"`` must not silently swallow a blog post at
  ``/administrators-guide``. For a raw string prefix write a glob: ``"/wp-*"``.
- a **glob**: it contains ``*``, ``?`` or ``[``, with :func:`fnmatch.fnmatchcase` semantics,
  matched against the whole path. ``*`` crosses ``/`` (as in fnmatch, unlike shell globs), so
  ``"*.map"`` matches ``/static/js/app.js.map`` and ``"/admin/*"`` matches everything below
  ``/admin/`` at any depth (but not ``/admin`` itself). A glob need not start with ``/``.

Matching is case-sensitive (paths are) and sees the path without its query string. A single
string is taken as one pattern, not as a sequence of one-letter patterns: ``exclude="/static/"``
and the classic missing comma ``exclude=("/static/")`` mean what they say.

:func:`compile_exclude` returns ``None`` when nothing is excluded, so an adapter writes
``if exclude is not None and exclude(path)`` and pays nothing in the common case.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable

__all__ = ["Exclude", "compile_exclude"]

Exclude = Callable[[str], bool]

_GLOB_CHARS = frozenset("*?[")


def _check(pattern: object) -> str:
    if not isinstance(pattern, str):
        raise TypeError(f"exclude patterns must be str, not {type(pattern).__name__}: {pattern!r}")
    if not pattern:
        raise ValueError("exclude patterns must not be empty (to exclude everything use '/')")
    if not pattern.startswith("/") and not _GLOB_CHARS.intersection(pattern):
        raise ValueError(
            f"exclude pattern {pattern!r} is neither a path prefix (starting with '/') nor a "
            f"glob (containing *, ? or [); did you mean {'/' + pattern!r} or {'*' + pattern!r}?"
        )
    return pattern


def compile_exclude(patterns: str | Iterable[str] | None) -> Exclude | None:
    """Compile ``exclude=`` patterns into ``predicate(path) -> bool``, or None for no patterns.

    Raises TypeError for a non-string pattern (or a non-iterable) and ValueError for an empty
    pattern or one that is neither a prefix nor a glob; both at construction, never per request.
    """
    if patterns is None:
        return None
    if isinstance(patterns, str):
        patterns = (patterns,)
    elif isinstance(patterns, (bytes, bytearray)):
        raise TypeError("exclude= takes str patterns, not bytes")
    try:
        items = list(patterns)
    except TypeError:
        raise TypeError(f"exclude= takes a sequence of str patterns, not {patterns!r}") from None
    checked = [_check(pattern) for pattern in items]
    if not checked:
        return None

    exact: set[str] = set()
    starts: list[str] = []
    globs: list[str] = []
    for pattern in dict.fromkeys(checked):  # dedupe, keep order
        if _GLOB_CHARS.intersection(pattern):
            globs.append(fnmatch.translate(pattern))
        elif pattern.endswith("/"):
            starts.append(pattern)
        else:
            # "/healthz" is the path itself or anything below it, never "/healthzone".
            exact.add(pattern)
            starts.append(pattern + "/")
    if "/" in starts:
        return _everything
    prefixes = tuple(starts)
    frozen = frozenset(exact)
    if not globs:
        # str.startswith(tuple) runs in C: one call whatever the number of prefixes.
        def by_prefix(path: str) -> bool:
            return path.startswith(prefixes) or path in frozen

        return by_prefix
    # fnmatch.translate gives "(?s:...)\Z" per glob; one alternation is one scan of the path.
    match = re.compile("|".join(globs)).match
    if not prefixes:

        def by_glob(path: str) -> bool:
            return match(path) is not None

        return by_glob

    def by_both(path: str) -> bool:
        return path.startswith(prefixes) or path in frozen or match(path) is not None

    return by_both


def _everything(path: str) -> bool:
    return True
