"""Small readers shared by the tests."""

from __future__ import annotations

from typing import cast

import redis

from wsgi_analytics.keys import Keys, today


def zscores(client: redis.Redis, key: str) -> dict[str, float]:
    """A sorted set as {member: score} (the client decodes responses)."""
    rows = cast("list[tuple[str, float]]", client.zrange(key, 0, -1, withscores=True))
    return dict(rows)


def zset(client: redis.Redis, dimension: str, prefix: str = "analytics") -> dict[str, float]:
    """Today's sorted set of ``dimension`` as {member: score}."""
    return zscores(client, Keys(prefix).day(dimension, today()))
