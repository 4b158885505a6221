"""Small readers shared by the tests."""

from __future__ import annotations

from typing import cast

import redis


def zscores(client: redis.Redis, key: str) -> dict[str, float]:
    """A sorted set as {member: score} (the client decodes responses)."""
    rows = cast("list[tuple[str, float]]", client.zrange(key, 0, -1, withscores=True))
    return dict(rows)
