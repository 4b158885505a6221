"""Building Redis clients from URLs, with the ownership rule of redis-py: what we build we close.

``redis://``, ``rediss://`` (TLS) and ``unix://`` URLs give a ``redis.Redis``; the same schemes
with ``+cluster`` (``redis+cluster://host:port``, ``rediss+cluster://``) give a
``redis.cluster.RedisCluster`` that discovers the other nodes from the one named.
"""

from __future__ import annotations

import os
from typing import Any, TypeAlias

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.cluster

__all__ = [
    "AsyncClient",
    "Client",
    "ClusterClient",
    "close_cluster_connections",
    "connect",
    "connect_async",
    "describe",
    "resolve_url",
]

Client: TypeAlias = "redis.Redis | redis.cluster.RedisCluster"
AsyncClient: TypeAlias = "redis.asyncio.Redis | redis.asyncio.cluster.RedisCluster"

DEFAULT_URL = "redis://localhost:6379/0"
# Counting happens in a background thread, so a slow Redis costs no request time; the timeouts
# only bound how long a flush (and a shutdown) can hang on a dead server.
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 2.0}


def resolve_url(url: str | None) -> str:
    """The URL to use: the argument, else ``WSGI_ANALYTICS_REDIS_URL``, else ``REDIS_URL``."""
    if url:
        return url
    return os.environ.get("WSGI_ANALYTICS_REDIS_URL") or os.environ.get("REDIS_URL") or DEFAULT_URL


def _split_cluster(url: str) -> tuple[str, bool]:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not a Redis URL: {describe(url)!r} (expected redis://host:port/db)")
    base, plus, kind = scheme.lower().partition("+")
    if plus and kind != "cluster":
        raise ValueError(f"unknown Redis URL scheme {scheme!r}")
    if base not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise ValueError(f"unknown Redis URL scheme {scheme!r} (redis, rediss, unix, +cluster)")
    base = {"valkey": "redis", "valkeys": "rediss"}.get(base, base)
    return f"{base}://{rest}", bool(plus)


class ClusterClient(redis.cluster.RedisCluster):
    """A `RedisCluster` whose ``close()`` closes its connections: redis-py (8.1) only returns
    them to the nodes' pools, and they stay open until garbage collection (ResourceWarning)."""

    def close(self) -> None:
        super().close()
        close_cluster_connections(self)


def close_cluster_connections(client: redis.cluster.RedisCluster) -> None:
    """Disconnect every pool of a cluster client, the discovery (startup) nodes' included."""
    manager = client.nodes_manager
    for node in [*manager.nodes_cache.values(), *manager.startup_nodes.values()]:
        if node.redis_connection is not None:
            node.redis_connection.connection_pool.disconnect()


def connect(url: str | None = None, **options: Any) -> Client:
    """A sync client for ``url`` (resolved as `resolve_url` does); the caller owns it."""
    target, cluster = _split_cluster(resolve_url(url))
    settings = {**_TIMEOUTS, **options}
    if cluster:
        return ClusterClient.from_url(target, **settings)
    return redis.Redis.from_url(target, **settings)


def connect_async(url: str | None = None, **options: Any) -> AsyncClient:
    """An asyncio client; create it inside the event loop that will use it."""
    target, cluster = _split_cluster(resolve_url(url))
    settings = {**_TIMEOUTS, **options}
    if cluster:
        return redis.asyncio.cluster.RedisCluster.from_url(target, **settings)
    return redis.asyncio.Redis.from_url(target, **settings)


def describe(url: str) -> str:
    """The URL without its password, for log lines and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    credentials, at, host = rest.rpartition("@")
    if not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':***' if user else '***'}@{host}"
