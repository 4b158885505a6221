"""``track_signal``: count a Django signal in a custom dimension."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from .._log import logger
from .config import get_recorder

__all__ = ["track_signal"]


def track_signal(
    signal: Signal,
    dimension: str,
    member: Callable[[Any], object],
    sender: Any = None,
    **match: Any,
) -> str:
    """Count ``signal`` in ``dimension``, with ``member(instance)`` as the member, e.g.
    ``track_signal(post_save, "orders", lambda order: order.plan, sender=Order, created=True)``.

    ``member`` gets the signal's ``instance`` (model signals), else its sender; a ``None`` from
    it is not counted. ``match``: count only when the signal's arguments have these values
    (``created=True``: new rows only, since ``post_save`` fires on every save). Connecting the
    same ``member`` twice (``ready()`` run again) counts once.
    A failure in ``member`` or in counting is logged, never raised into the code that sent the
    signal (a ``save()`` must not fail because of analytics). Returns the receiver's
    ``dispatch_uid``: ``signal.disconnect(sender=..., dispatch_uid=...)`` stops counting.
    """
    if not isinstance(dimension, str) or not dimension:
        raise ValueError("dimension must be a non-empty string")
    if not callable(member):
        raise TypeError("member must be a function of the signal's instance")

    def receiver(sender: Any, **kwargs: Any) -> None:
        if any(kwargs.get(name) != value for name, value in match.items()):
            return
        try:
            value = member(kwargs.get("instance", sender))
            if value is not None:
                get_recorder().track(dimension, str(value))
        except Exception:
            logger.exception("wsgi_analytics: could not count signal into %r", dimension)

    code = getattr(member, "__code__", None)
    where = f"{code.co_filename}:{code.co_firstlineno}" if code is not None else id(member)
    name = f"{getattr(member, '__module__', '')}.{getattr(member, '__qualname__', '')}"
    wanted = ",".join(f"{key}={value!r}" for key, value in sorted(match.items()))
    uid = f"wsgi_analytics:{dimension}:{name}@{where}:{wanted}"
    signal.connect(receiver, sender=sender, weak=False, dispatch_uid=uid)
    return uid
