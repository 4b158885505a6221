"""What the WSGI and ASGI adapters share: their recorder, and recording that never raises."""

from __future__ import annotations

from typing import Any

from .._log import logger
from ..recording.recorder import Recorder
from ..request.facts import Facts

__all__ = ["adapter_recorder", "record_quietly"]


def adapter_recorder(
    recorder: Recorder | None,
    redis_url: str | None,
    prefix: str,
    trusted_proxies: int,
    options: dict[str, Any],
) -> Recorder:
    """The recorder an adapter counts into: the one passed in (shared, not owned), or a new one."""
    if not isinstance(trusted_proxies, int) or trusted_proxies < 0:
        raise ValueError("trusted_proxies must be 0 or more")
    if recorder is None:
        return Recorder(redis_url, prefix=prefix, **options)
    # Options that only a new recorder would take must not be dropped without a word.
    if options:
        raise TypeError(
            f"{', '.join(sorted(options))}: pass recorder options to the Recorder itself"
        )
    if prefix not in ("analytics", recorder.prefix):
        raise ValueError(f"prefix {prefix!r} differs from the recorder's {recorder.prefix!r}")
    return recorder


def record_quietly(
    recorder: Recorder, facts: Facts, status: int, throttled: bool, trusted_proxies: int
) -> None:
    """Queue a finished request; the middleware's own failure is logged, never raised."""
    if status == 0:
        return  # no response was started: the server or the client gave up first
    try:
        recorder.record(facts, status, throttled=throttled, trusted_proxies=trusted_proxies)
    except Exception:
        logger.exception("wsgi_analytics: could not record a request")
