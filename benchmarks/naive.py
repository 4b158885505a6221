"""The seed's way, kept as the baseline: four synchronous ``ZINCRBY`` round trips per request.

Paths, referrers, browsers and platforms, each its own command, sent while the request waits,
with ua-parser's default parser on the request path. The ASGI flavour calls the same sync client
from the event loop, as the seed did.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import redis
import ua_parser

__all__ = ["NaiveASGI", "NaiveWSGI"]

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def _count(client: redis.Redis, prefix: str, path: str, referrer: str, agent: str) -> None:
    parsed = ua_parser.parse(agent)
    browser = parsed.user_agent.family if parsed.user_agent else "Other"
    platform = parsed.os.family if parsed.os else "Other"
    source = (urlsplit(referrer).hostname or "(direct)") if referrer else "(direct)"
    client.zincrby(f"{prefix}:paths", 1, path)
    client.zincrby(f"{prefix}:referrers", 1, source)
    client.zincrby(f"{prefix}:browsers", 1, browser)
    client.zincrby(f"{prefix}:platforms", 1, platform)


class NaiveWSGI:
    def __init__(self, app: WSGIApp, redis_url: str, prefix: str = "naive") -> None:
        self.app = app
        self.client = redis.Redis.from_url(redis_url)
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        with contextlib.suppress(redis.RedisError):
            _count(
                self.client,
                self.prefix,
                environ.get("PATH_INFO", "/"),
                environ.get("HTTP_REFERER", ""),
                environ.get("HTTP_USER_AGENT", ""),
            )
        return self.app(environ, start_response)


class NaiveASGI:
    def __init__(self, app: ASGIApp, redis_url: str, prefix: str = "naive") -> None:
        self.app = app
        self.client = redis.Redis.from_url(redis_url)
        self.prefix = prefix

    async def __call__(
        self,
        scope: MutableMapping[str, Any],
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            with contextlib.suppress(redis.RedisError):
                _count(
                    self.client,
                    self.prefix,
                    scope["path"],
                    headers.get(b"referer", b"").decode("latin-1"),
                    headers.get(b"user-agent", b"").decode("latin-1"),
                )
        await self.app(scope, receive, send)
