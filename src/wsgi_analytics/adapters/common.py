"""What the WSGI and ASGI adapters share: their recorder, and recording that never raises."""

from __future__ import annotations

from typing import Any

from .._log import logger
from ..recording.recorder import Recorder
from ..request.facts import Facts

__all__ = ["DEFAULT_PREFIX", "adapter_recorder", "record_quietly"]


class _Default(str):
    """A default that reads as its value but can be told from the same value passed on purpose."""

    __slots__ = ()


# The adapters' ``prefix`` default: with a shared recorder, an explicit ``prefix="analytics"``
# must match the recorder's prefix, while leaving it out means "the recorder's".
DEFAULT_PREFIX: str = _Default("analytics")


def adapter_recorder(
    recorder: Recorder | None,
    redis_url: str | None,
    prefix: str,
    trusted_proxies: int,
    options: dict[str, Any],
) -> Recorder:
    """The recorder an adapter counts into: the one passed in (shared, not owned), or a new one."""
    if (
        not isinstance(trusted_proxies, int)
        or isinstance(trusted_proxies, bool)  # True is not a count of proxies
        or trusted_proxies < 0
    ):
        raise ValueError("trusted_proxies must be 0 or more")
    if recorder is None:
        return Recorder(redis_url, prefix=str(prefix), **options)
    # Options that only a new recorder would take must not be dropped without a word.
    if options:
        raise TypeError(
            f"{', '.join(sorted(options))}: pass recorder options to the Recorder itself"
        )
    if prefix is not DEFAULT_PREFIX and prefix != recorder.prefix:
        raise ValueError(f"prefix {prefix!r} differs from the recorder's {recorder.prefix!r}")
    return recorder


def record_quietly(
    recorder: Recorder,
    facts: Facts,
    status: int,
    throttled: bool,
    trusted_proxies: int,
    content_type: str | None = None,
    route: str | None = None,
    duration: float = 0.0,
) -> None:
    """Queue a finished request; the middleware's own failure is logged, never raised.

    ``content_type``: the response's Content-Type (None when it sent none), which decides
    whether it is a document; ``route``: the route template the app or its framework named,
    None for the path's fallback template; ``duration``: seconds from the middleware's call to
    the last body chunk handed to the server."""
    if status == 0:
        return  # no response was started: the server or the client gave up first
    try:
        recorder.record(
            facts,
            status,
            throttled=throttled,
            trusted_proxies=trusted_proxies,
            content_type=content_type,
            route=route,
            duration=duration,
        )
    except Exception:
        logger.exception("wsgi_analytics: could not record a request")
