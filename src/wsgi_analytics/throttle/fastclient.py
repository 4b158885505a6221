"""Redis clients for the request path: short timeouts, on the server the throttle was pointed at.

A client made for the background flusher may wait seconds on a dead server, which costs nothing
in its thread but would hold every throttled request. The throttle therefore builds clients of
its own (and closes them): from the URL when one is given, else from a source client's settings
(host, port, database, credentials, TLS) -- the client passed to the `Throttle`, or the
recorder's -- so that a ready client is followed to the same server; with neither, from the
environment's URL (`wsgi_analytics.connection.resolve_url`).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.connection
import redis.cluster
import redis.connection

from .. import connection

__all__ = [
    "AsyncRawScript",
    "RawScript",
    "Resolver",
    "async_client",
    "async_raw_script",
    "check_async_source",
    "open_socket",
    "raw_script",
    "resolver_for",
    "sync_client",
]

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


# -- name resolution bounded by the timeout -----------------------------------------------------

# How long an answer is used before it is asked for again; while a new lookup is slow, the last
# answer keeps serving.
_RESOLVED_FOR = 60.0
_AddressInfo = tuple[int, int, int, Any]  # family, type, protocol, socket address


class Resolver:
    """``getaddrinfo`` of one host, bounded by a timeout.

    Socket timeouts do not cover name resolution: a DNS server that does not answer would hold
    a WSGI request for the resolver's own timeout (glibc: 5 s, twice) before the throttle's
    0.25 s even starts. The lookup runs in a daemon thread and the caller waits at most the
    timeout for it (one lookup at a time, shared by every caller); an answer is reused for a
    minute, and kept past that while a new lookup is slow. Fork-safe: a child starts its own.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._answer: list[_AddressInfo] | None = None
        self._answered_at = 0.0
        self._error: OSError | None = None
        self._lookup: threading.Thread | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()

    def addresses(self, timeout: float) -> list[_AddressInfo]:
        """The host's addresses, within ``timeout`` seconds, else ``redis.TimeoutError``."""
        answer = self._answer
        if answer is not None and time.monotonic() - self._answered_at < _RESOLVED_FOR:
            return answer
        with self._lock:
            lookup = self._lookup
            if lookup is None or not lookup.is_alive():
                done = self._done = threading.Event()
                lookup = self._lookup = threading.Thread(
                    target=self._resolve, args=(done,), name="wsgi_analytics-resolve", daemon=True
                )
                lookup.start()
            done = self._done
        if done.wait(timeout) and self._answer is not None:
            return self._answer
        if answer is not None:
            return answer  # stale, but the server was there a minute ago
        if done.is_set() and self._error is not None:
            raise redis.ConnectionError(f"cannot resolve {self.host!r}: {self._error}")
        raise redis.TimeoutError(f"resolving {self.host!r} took more than {timeout:g} s")

    def _resolve(self, done: threading.Event) -> None:
        try:
            found = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM)
        except OSError as error:
            self._error = error
        else:
            self._answer = [(info[0], info[1], info[2], info[4]) for info in found]
            self._answered_at = time.monotonic()
            self._error = None
        finally:
            done.set()


def open_socket(addresses: list[_AddressInfo], timeout: float) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that answers, all within ``timeout``."""
    deadline = time.monotonic() + timeout
    failure: OSError = TimeoutError("timed out connecting")
    for family, kind, protocol, address in addresses:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock = socket.socket(family, kind, protocol)
        sock.settimeout(left)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            failure = error
            continue
        sock.settimeout(timeout)
        return sock
    raise failure


def resolver_for(client: connection.Client) -> Resolver | None:
    """A `Resolver` for a plain client's host (not a Unix socket, not a cluster)."""
    if not isinstance(client, redis.Redis):
        return None
    kwargs = client.connection_pool.connection_kwargs
    if kwargs.get("path") or not kwargs.get("host"):
        return None
    return Resolver(str(kwargs["host"]), int(kwargs.get("port") or 6379))


# -- a raw RESP2 path for the one script call of a WSGI request ----------------------------------


class _Incomplete(Exception):
    """The reply is not all here yet."""


def _encode(parts: list[bytes]) -> bytes:
    out = [b"*%d\r\n" % len(parts)]
    out += [b"$%d\r\n%s\r\n" % (len(part), part) for part in parts]
    return b"".join(out)


def _parse(buffer: bytes, at: int) -> tuple[Any, int]:
    """One RESP2 value at ``at``: the value (an error as `redis.ResponseError`) and where the
    next one starts; `_Incomplete` if the buffer ends first."""
    end = buffer.find(b"\r\n", at)
    if end < 0:
        raise _Incomplete
    kind, line = buffer[at : at + 1], buffer[at + 1 : end]
    at = end + 2
    if kind == b":":
        return int(line), at
    if kind == b"*":
        count = int(line)
        if count < 0:
            return None, at
        items = []
        for _ in range(count):
            item, at = _parse(buffer, at)
            items.append(item)
        return items, at
    if kind == b"$":
        size = int(line)
        if size < 0:
            return None, at
        if len(buffer) < at + size + 2:
            raise _Incomplete
        return buffer[at : at + size], at + size + 2
    if kind == b"+":
        return line.decode(), at
    if kind == b"-":
        return redis.ResponseError(line.decode(errors="replace")), at
    raise redis.InvalidResponse(f"unexpected reply {bytes(buffer[:50])!r}")


class RawScript:
    """``EVALSHA`` of one script on plain sockets, for the sync gate's hot path.

    redis-py's generic command path (connection pool, encoders, response callbacks, the RESP3
    parser) costs more client CPU than the round trip itself on loopback; this sends one
    pre-framed command and reads one small reply. It covers the plain TCP and Unix socket
    servers with a password and a database; anything else (TLS, a credential provider, a
    cluster) keeps redis-py (`raw_script` returns ``None``). Sockets are pooled (a thread takes
    one, gives it back when the reply is read; a socket that failed mid-call is closed, never
    reused) and dropped in a forked child.
    """

    def __init__(
        self,
        script: str,
        settings: dict[str, Any],
        timeout: float,
        resolver: Resolver | None = None,
    ) -> None:
        self.script = script.encode()
        self.sha = hashlib.sha1(self.script).hexdigest().encode()  # noqa: S324 - Redis' script id
        self.settings = settings
        self.timeout = timeout
        self._idle: list[socket.socket] = []
        self._pid = os.getpid()
        self._closed = False
        self._resolver = resolver or Resolver(
            str(settings.get("host") or "localhost"), int(settings.get("port") or 6379)
        )

    def _connect(self) -> socket.socket:
        settings, timeout = self.settings, self.timeout
        sock: socket.socket
        if settings.get("path"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(settings["path"])
            except BaseException:
                sock.close()
                raise
        else:
            # Resolving and connecting share the timeout (see `Resolver`).
            start = time.monotonic()
            addresses = self._resolver.addresses(timeout)
            sock = open_socket(addresses, max(0.001, timeout - (time.monotonic() - start)))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            hello: list[list[bytes]] = []
            password, username = settings.get("password"), settings.get("username")
            if password:
                auth = [b"AUTH", str(username).encode()] if username else [b"AUTH"]
                hello.append([*auth, str(password).encode()])
            if int(settings.get("db") or 0):
                hello.append([b"SELECT", str(int(settings["db"])).encode()])
            for command in hello:
                reply = self._round_trip(sock, _encode(command))
                if isinstance(reply, redis.ResponseError):
                    raise redis.AuthenticationError(str(reply))
        except BaseException:
            sock.close()
            raise
        return sock

    @staticmethod
    def _round_trip(sock: socket.socket, payload: bytes) -> Any:
        sock.sendall(payload)
        buffer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                raise redis.ConnectionError("Redis closed the connection")
            buffer += chunk
            try:
                value, end = _parse(buffer, 0)
            except _Incomplete:
                continue
            if end != len(buffer):
                raise redis.InvalidResponse("more than one reply")
            return value

    def __call__(self, keys: list[str], args: list[int]) -> Any:
        if self._closed:
            raise redis.ConnectionError("throttle closed")
        if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use
            self._pid = os.getpid()
            self._drop()
        parts = [b"EVALSHA", self.sha, b"%d" % len(keys)]
        parts += [key.encode() for key in keys]
        parts += [b"%d" % arg for arg in args]
        payload = _encode(parts)
        try:
            sock = self._idle.pop()
        except IndexError:
            sock = self._call_safely(self._connect)
            reply = self._call_safely(self._round_trip, sock, payload, close=sock)
        else:
            try:
                reply = self._call_safely(self._round_trip, sock, payload, close=sock)
            except redis.ConnectionError:
                # A pooled socket the server closed while it sat idle (a restart, a failover,
                # `CLIENT KILL`, an idle timeout): the command never ran, so it is sent once more
                # on a new connection, as redis-py reconnects, instead of failing this request
                # open. (Were it a reply lost after the script ran, the retry would count the
                # request twice: stricter by one, never looser.) A timeout is not retried.
                sock = self._call_safely(self._connect)
                reply = self._call_safely(self._round_trip, sock, payload, close=sock)
        if isinstance(reply, redis.ResponseError) and str(reply).startswith("NOSCRIPT"):
            # the script cache was flushed (a restart, SCRIPT FLUSH): load it and ask again
            parts[:2] = [b"EVAL", self.script]
            reply = self._call_safely(self._round_trip, sock, _encode(parts), close=sock)
        if self._closed:
            sock.close()
        else:
            self._idle.append(sock)
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    @staticmethod
    def _call_safely(function: Any, *args: Any, close: socket.socket | None = None) -> Any:
        """``function(*args)`` with socket failures as redis-py's errors (which the policy
        knows); ``close`` is closed on any failure, as its stream is no longer in step."""
        try:
            return function(*args)
        except BaseException as error:
            if close is not None:
                close.close()
            if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError
                raise redis.TimeoutError(str(error) or "timed out") from error
            if isinstance(error, OSError):
                raise redis.ConnectionError(str(error)) from error
            raise

    def close(self) -> None:
        self._closed = True
        self._drop()

    def _drop(self) -> None:
        # (closing in a forked child only drops this process's descriptor: the parent's
        # connection stays open)
        idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()

    def __del__(self) -> None:
        # a gate dropped without close() (redis-py's connections close themselves alike)
        self._drop()


def raw_script(
    client: connection.Client, script: str, timeout: float, resolver: Resolver | None = None
) -> RawScript | None:
    """A `RawScript` on ``client``'s server when its settings are plain enough, else ``None``."""
    if not isinstance(client, redis.Redis):
        return None
    pool = client.connection_pool
    kwargs = pool.connection_kwargs
    # exactly these classes: a subclass may do something on connect that we would skip
    if pool.connection_class not in (_sync.Connection, _sync.UnixDomainSocketConnection):
        return None
    if kwargs.get("credential_provider") is not None:
        return None
    return RawScript(script, _settings(kwargs), timeout, resolver)


class _Resp(asyncio.Protocol):
    """One asyncio connection carrying one command at a time (`AsyncRawScript`)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.waiter: asyncio.Future[Any] | None = None
        self.broken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        waiter = self.waiter
        if waiter is None or waiter.done():
            self.broken = True  # a reply nobody asked for: this stream is out of step
            return
        try:
            value, end = _parse(self.buffer, 0)
        except _Incomplete:
            return
        except Exception as error:
            self.broken = True
            waiter.set_exception(error)
            return
        self.buffer = self.buffer[end:]
        waiter.set_result(value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.broken = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(redis.ConnectionError("Redis closed the connection"))

    def close(self) -> None:
        self.broken = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(redis.TimeoutError("Timeout reading from Redis"))


class AsyncRawScript:
    """`RawScript` for one event loop: asyncio protocol connections, pooled in that loop.

    Made inside the loop that uses it (the async gate makes one per loop); `close` closes its
    transports, which the gate does as the loop shuts down.
    """

    def __init__(self, script: str, settings: dict[str, Any], timeout: float) -> None:
        self.script = script.encode()
        self.sha = hashlib.sha1(self.script).hexdigest().encode()  # noqa: S324 - Redis' script id
        self.settings = settings
        self.timeout = timeout
        self._idle: list[_Resp] = []
        self._closed = False

    async def _connect(self) -> _Resp:
        loop = asyncio.get_running_loop()
        settings, timeout = self.settings, self.timeout
        if settings.get("path"):
            opening = loop.create_unix_connection(_Resp, settings["path"])
        else:
            host = settings.get("host") or "localhost"
            opening = loop.create_connection(_Resp, host, int(settings.get("port") or 6379))
        try:
            _, protocol = await asyncio.wait_for(opening, timeout)
        except (asyncio.TimeoutError, TimeoutError) as error:
            raise redis.TimeoutError("Timeout connecting to Redis") from error
        except OSError as error:
            raise redis.ConnectionError(str(error)) from error
        try:
            password, username = settings.get("password"), settings.get("username")
            if password:
                auth = [b"AUTH", str(username).encode()] if username else [b"AUTH"]
                reply = await self._ask(protocol, _encode([*auth, str(password).encode()]))
                if isinstance(reply, redis.ResponseError):
                    raise redis.AuthenticationError(str(reply))
            if int(settings.get("db") or 0):
                reply = await self._ask(protocol, _encode([b"SELECT", b"%d" % int(settings["db"])]))
                if isinstance(reply, redis.ResponseError):
                    raise reply
        except BaseException:
            protocol.close()
            raise
        return protocol

    async def _ask(self, protocol: _Resp, payload: bytes) -> Any:
        loop = asyncio.get_running_loop()
        waiter = protocol.waiter = loop.create_future()
        assert protocol.transport is not None
        protocol.transport.write(payload)
        timer = loop.call_later(self.timeout, _expire, waiter)
        try:
            return await waiter
        except BaseException:
            # timed out, cancelled (the client went away) or lost: the reply may still come,
            # so this connection can never be trusted with another command
            protocol.close()
            raise
        finally:
            timer.cancel()
            protocol.waiter = None

    async def __call__(self, keys: list[str], args: list[int]) -> Any:
        if self._closed:
            raise redis.ConnectionError("throttle closed")
        parts = [b"EVALSHA", self.sha, b"%d" % len(keys)]
        parts += [key.encode() for key in keys]
        parts += [b"%d" % arg for arg in args]
        idle, payload = self._idle, _encode(parts)
        while idle and idle[-1].broken:  # lost while idle: its connection_lost said so
            idle.pop().close()
        if idle:
            protocol = idle.pop()
            try:
                reply = await self._ask(protocol, payload)
            except redis.ConnectionError:
                # closed by the server just as it was taken (see `RawScript.__call__`)
                protocol = await self._connect()
                reply = await self._ask(protocol, payload)
        else:
            protocol = await self._connect()
            reply = await self._ask(protocol, payload)
        if isinstance(reply, redis.ResponseError) and str(reply).startswith("NOSCRIPT"):
            parts[:2] = [b"EVAL", self.script]  # the script cache was flushed: load it again
            reply = await self._ask(protocol, _encode(parts))
        if self._closed or protocol.broken:
            protocol.close()
        else:
            idle.append(protocol)
        if isinstance(reply, redis.ResponseError):
            raise reply
        return reply

    def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for protocol in idle:
            protocol.close()


def async_raw_script(
    client: connection.AsyncClient, script: str, timeout: float
) -> AsyncRawScript | None:
    """An `AsyncRawScript` on ``client``'s server when its settings are plain enough."""
    if not isinstance(client, redis.asyncio.Redis):
        return None
    pool = client.connection_pool
    if pool.connection_class not in (_async.Connection, _async.UnixDomainSocketConnection):
        return None
    kwargs = pool.connection_kwargs
    if kwargs.get("credential_provider") is not None:
        return None
    return AsyncRawScript(script, _settings(kwargs), timeout)
