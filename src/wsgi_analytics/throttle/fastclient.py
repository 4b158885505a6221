"""Redis clients for the request path: short timeouts, on the server the throttle was pointed at.

A client made for the background flusher may wait seconds on a dead server, which costs nothing
in its thread but would hold every throttled request. The throttle therefore builds clients of
its own (and closes them): from the URL when one is given, else from a source client's settings
(host, port, database, credentials, TLS) -- the client passed to the `Throttle`, or the
recorder's -- so that a ready client is followed to the same server; with neither, from the
environment's URL (`wsgi_analytics.connection.resolve_url`).
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.cluster
import redis.connection

from .. import connection

__all__ = ["async_client", "check_async_source", "sync_client"]

# What identifies the server and the account; everything else (timeouts, retries, decoding,
# redis-py internals) is ours to choose. The asyncio connection classes accept all of these.
_SETTINGS = (
    "host",
    "port",
    "db",
    "path",
    "username",
    "password",
    "credential_provider",
    "client_name",
    "protocol",
    "ssl_keyfile",
    "ssl_certfile",
    "ssl_cert_reqs",
    "ssl_ca_certs",
    "ssl_ca_data",
    "ssl_ca_path",
    "ssl_check_hostname",
    "ssl_password",
    "ssl_min_version",
    "ssl_ciphers",
)
_sync = redis.connection
_async = redis.asyncio.connection
_ASYNC: dict[type[Any], type[Any]] = {
    _sync.Connection: _async.Connection,
    _sync.SSLConnection: _async.SSLConnection,
    _sync.UnixDomainSocketConnection: _async.UnixDomainSocketConnection,
}


def _timeouts(timeout: float) -> dict[str, Any]:
    # No retries: a retry doubles the worst case a request waits, and the next request retries
    # anyway.
    return {"socket_timeout": timeout, "socket_connect_timeout": timeout, "retry": None}


def _settings(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {name: kwargs[name] for name in _SETTINGS if name in kwargs}


def _cluster_node(source: redis.cluster.RedisCluster) -> tuple[str, int, dict[str, Any]] | None:
    """A node to start discovery from, and the cluster's settings."""
    node = source.nodes_manager.default_node
    if node is None:
        return None
    kwargs = source.nodes_manager.connection_kwargs
    settings = {
        name: value
        for name, value in _settings(kwargs).items()
        if name not in ("host", "port", "path", "db")
    }
    if kwargs.get("ssl") or kwargs.get("connection_class") is _sync.SSLConnection:
        settings["ssl"] = True
    return node.host, node.port, settings


def sync_client(
    source: connection.Client | None, url: str | None, timeout: float
) -> tuple[connection.Client, bool]:
    """A sync client and whether it is ours to close (a copy we could not make is not)."""
    if url or source is None:
        return connection.connect(url, **_timeouts(timeout)), True
    if isinstance(source, redis.Redis):
        pool = source.connection_pool
        cls = pool.connection_class
        if cls in _ASYNC:
            settings = {**_settings(pool.connection_kwargs), **_timeouts(timeout)}
            copy = redis.ConnectionPool(connection_class=cls, **settings)
            return redis.Redis.from_pool(copy), True
    elif isinstance(source, redis.cluster.RedisCluster):
        found = _cluster_node(source)
        if found is not None:
            host, port, settings = found
            cluster = connection.ClusterClient(host, port, **settings, **_timeouts(timeout))
            return cluster, True
    # An unusual connection class: share the source client (and its timeouts) rather than
    # guess how to copy it.
    return source, False


def check_async_source(source: connection.Client | None, url: str | None) -> None:
    """Raise ``ValueError`` now if `async_client` could not follow ``source`` later."""
    if url or source is None or isinstance(source, redis.cluster.RedisCluster):
        return
    if isinstance(source, redis.Redis) and source.connection_pool.connection_class in _ASYNC:
        return
    raise ValueError(
        "the throttle cannot copy this Redis client's settings for asyncio; "
        "pass redis_url= to the Throttle or to ASGIAnalytics"
    )


def async_client(
    source: connection.Client | None, url: str | None, timeout: float
) -> connection.AsyncClient:
    """An asyncio client (call inside the loop that will use it); the caller closes it."""
    if url or source is None:
        return connection.connect_async(url, **_timeouts(timeout))
    if isinstance(source, redis.Redis):
        pool = source.connection_pool
        cls = _ASYNC.get(pool.connection_class)
        if cls is not None:
            settings = {**_settings(pool.connection_kwargs), **_timeouts(timeout)}
            copy = redis.asyncio.ConnectionPool(connection_class=cls, **settings)
            return redis.asyncio.Redis.from_pool(copy)
    elif isinstance(source, redis.cluster.RedisCluster):
        found = _cluster_node(source)
        if found is not None:
            host, port, settings = found
            return redis.asyncio.cluster.RedisCluster(host, port, **settings, **_timeouts(timeout))
    raise ValueError(
        "the throttle cannot copy this Redis client's settings for asyncio; "
        "pass redis_url= to the Throttle or to ASGIAnalytics"
    )
