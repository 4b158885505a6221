"""Web analytics and POST spam throttling for any WSGI or ASGI app, counted in Redis.

The parts, each a folder with one job (arrows point one way, top to bottom):

- `request`: reading a request (facts, client identity, user-agent labels); pure.
- `keys`, `connection`: the Redis key layout and the clients; `sketch`: the response-time
  buckets both recording and reading use.
- `recording`: what a request counts and how counts reach Redis; `throttle`: the spam throttle;
  `reading`: the counts read back (`Stats`, snapshots, reports).
- `adapters`: the WSGI and ASGI middleware.
- `cli`, `dashboard`, `demo`: apps built on the public names below.
"""

from __future__ import annotations

from .adapters.asgi import ASGIAnalytics
from .adapters.wsgi import WSGIAnalytics
from .reading.routes import RouteStats
from .reading.stats import Stats
from .recording.recorder import Recorder
from .throttle import Refusal, Rule, Throttle

__all__ = [
    "ASGIAnalytics",
    "Recorder",
    "Refusal",
    "RouteStats",
    "Rule",
    "Stats",
    "Throttle",
    "WSGIAnalytics",
]
