"""The process' analytics, made once from ``settings.WSGI_ANALYTICS``: the recorder, the throttle's
gates and the dashboard bridge.

Django builds its middleware once per handler, and a process may hold several handlers (the test
client makes one per client): they all count into the one recorder made here. The recorder's own
lifecycle flushes it (a background thread, ``atexit``, a clean start in forked workers).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .._native import Bridge, adapter_options
from ..adapters.common import adapter_recorder
from ..request.exclude import Exclude, compile_exclude

if TYPE_CHECKING:
    from ..recording.recorder import Recorder
    from ..throttle import Throttle
    from ..throttle.gates import AsyncGate, SyncGate

__all__ = ["SiteAnalytics", "current", "get_recorder", "settings_options"]

_SETTING = "settings.WSGI_ANALYTICS"


def settings_options() -> dict[str, Any]:
    """The adapter options in ``settings.WSGI_ANALYTICS`` (a dict; absent means defaults)."""
    try:
        return adapter_options(getattr(settings, "WSGI_ANALYTICS", None) or {}, _SETTING)
    except (TypeError, ValueError) as error:
        raise ImproperlyConfigured(str(error)) from None


class SiteAnalytics:
    """What one ``WSGI_ANALYTICS`` setting makes: the objects an adapter holds, once."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        options = dict(options)
        self.redis_url: str | None = options.pop("redis_url", None)
        self.trusted_proxies: int = options.pop("trusted_proxies", 0)
        self.throttle: Throttle | None = options.pop("throttle", None)
        try:
            self.exclude: Exclude | None = compile_exclude(options.pop("exclude", None))
            shared: Recorder | None = options.pop("recorder", None)
            # No prefix given means the shared recorder's own, as for the adapters.
            default = shared.prefix if shared is not None else "analytics"
            self.recorder: Recorder = adapter_recorder(
                shared,
                self.redis_url,
                options.pop("prefix", default),
                self.trusted_proxies,
                options,
            )
        except (TypeError, ValueError) as error:
            raise ImproperlyConfigured(f"{_SETTING}: {error}") from None
        self.bridge = Bridge(self.recorder)
        self._lock = threading.Lock()
        self._sync_gate: SyncGate | None = None
        self._async_gate: AsyncGate | None = None

    def _source(self) -> dict[str, Any]:
        # As the adapters bind it: the recorder's server and prefix unless the throttle has its own.
        recorder = self.recorder
        return {"redis_url": self.redis_url, "client": recorder.client, "prefix": recorder.prefix}

    def sync_gate(self) -> SyncGate | None:
        """The throttle's gate for sync requests (WSGI, or a sync middleware chain under ASGI)."""
        if self.throttle is None:
            return None
        with self._lock:
            if self._sync_gate is None:
                self._sync_gate = self.throttle.bind_sync(**self._source())
            return self._sync_gate

    def async_gate(self) -> AsyncGate | None:
        """The throttle's gate for async requests: an asyncio client per event loop."""
        if self.throttle is None:
            return None
        with self._lock:
            if self._async_gate is None:
                self._async_gate = self.throttle.bind_async(**self._source())
            return self._async_gate


_made: list[tuple[object, SiteAnalytics]] = []
_making = threading.Lock()


def current() -> SiteAnalytics:
    """The analytics of the current ``settings.WSGI_ANALYTICS``, made on first use.

    Keyed by the setting object itself: a site has one, so one recorder per process; tests that
    override the setting get one per override.
    """
    source = getattr(settings, "WSGI_ANALYTICS", None)
    for known, analytics in _made:
        if known is source:
            return analytics
    with _making:
        for known, analytics in _made:
            if known is source:
                return analytics
        analytics = SiteAnalytics(settings_options())
        _made.append((source, analytics))
        return analytics


def get_recorder() -> Recorder:
    """The process' `Recorder`: ``get_recorder().track("signups", "pro")`` in a view."""
    return current().recorder
