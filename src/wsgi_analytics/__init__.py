"""Web analytics and POST spam throttling for any WSGI or ASGI app, counted in Redis."""

from __future__ import annotations

from .recorder import Recorder

__all__ = ["Recorder"]
