"""The package's logger, with a rate limit so that a dead Redis does not flood the log."""

from __future__ import annotations

import logging
import threading
import time

__all__ = ["logger", "reset_limits", "warn_limited"]

logger = logging.getLogger("wsgi_analytics")

_INTERVAL = 60.0
_last: dict[str, tuple[float, int]] = {}
_lock = threading.Lock()


def warn_limited(topic: str, message: str, *args: object, level: int = logging.WARNING) -> None:
    """Log ``message`` at most once a minute per ``topic``, saying how many were held back."""
    now = time.monotonic()
    with _lock:
        last, held = _last.get(topic, (-_INTERVAL, 0))
        if now - last < _INTERVAL:
            _last[topic] = (last, held + 1)
            return
        _last[topic] = (now, 0)
    if held:
        message += " (%d similar messages suppressed)"
        args = (*args, held)
    logger.log(level, message, *args)


def reset_limits() -> None:
    """Forget which warnings were given, so that the next of each is logged (tests use it to see
    their own warnings whatever ran before)."""
    with _lock:
        _last.clear()
