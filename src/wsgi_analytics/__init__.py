"""Web analytics and POST spam throttling for any WSGI or ASGI app, counted in Redis."""

from __future__ import annotations

from .asgi import ASGIAnalytics
from .recorder import Recorder
from .stats import Stats
from .throttle import Rule, Throttle
from .wsgi import WSGIAnalytics

__all__ = ["ASGIAnalytics", "Recorder", "Rule", "Stats", "Throttle", "WSGIAnalytics"]
