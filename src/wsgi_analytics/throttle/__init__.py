"""The spam throttle: at most ``limit`` requests of the throttled methods per client per rolling
``window``, decided by one Lua script in Redis.

Pass a `Throttle` to `WSGIAnalytics` or `ASGIAnalytics` (``throttle=``); the adapter binds it to
a sync or an asyncio gate, which costs one Redis round trip per throttled request and none for
any other method (the first throttled request of a process also loads the script and the hashing
secret: a few round trips, once). A `Throttle` needs no `Recorder`: ``bind_sync()`` and
``bind_async()`` give gates on its own server, which an app calls with the request's `Facts`.

The parts: `window` (the rules, the script and its reply, as data), `policy` (identity, keys,
refusals and the failure policy; pure), `gates` (the sync and asyncio I/O), `fastclient` (their
short-timeout clients).

Security: the client is the TCP peer, or with the adapter's ``trusted_proxies=N`` the N-th
``X-Forwarded-For`` entry from the right. Setting ``trusted_proxies`` higher than the number of
proxies really in front of the app lets every client pick its own address and walk past the
throttle (see `wsgi_analytics.request.identity`).
"""

from __future__ import annotations

import atexit
import hashlib
import weakref
from collections.abc import Iterable

from .. import connection
from ..keys import Keys
from . import fastclient
from .gates import AsyncGate, SyncGate
from .policy import Policy, Refusal
from .window import Rule, check_rule

__all__ = ["AsyncGate", "Refusal", "Rule", "SyncGate", "Throttle"]


class Throttle:
    """At most ``limit`` requests per client in any ``window`` seconds, for ``methods``.

    - ``rules``: further `Rule` objects, each with its own limit, window and path prefix, for
      example ``Rule(3, 600, path="/login", name="login")``. A request must fit every rule that
      covers its path; an accepted request counts in each of them, a refused one in none.
    - ``fail_open``: when Redis cannot be asked (down, or slower than ``timeout`` seconds), let
      the request through and log a warning (``True``), or answer ``503`` (``False``).
    - ``timeout``: connect and read timeout of the throttle's own Redis clients, in seconds.
    - ``secret``: the key that hashes client addresses into Redis key names. By default a random
      one is created in Redis on first use; pass your own to keep it out of Redis, so that
      someone who can read Redis cannot reverse the hashes by trying every IPv4 address.
    - ``redis_url`` or ``client``: the server. By default the adapter's (its ``redis_url``, else
      its recorder's client), else the environment's URL. The throttle always makes clients of
      its own with ``timeout`` (following a passed client's settings) and closes them.
    - ``prefix``: the key prefix; by default the adapter's, else ``"analytics"``.

    A request with no usable client address (no peer, unparseable) is let through with a
    rate-limited warning rather than put in a shared bucket that one client could fill for all.

    Security: ``trusted_proxies`` (an adapter option) must equal the number of proxies in front
    of the app that append to ``X-Forwarded-For``; trusting more lets clients choose their own
    address. See `wsgi_analytics.request.identity`.
    """

    def __init__(
        self,
        limit: int = 5,
        window: float = 3600.0,
        *,
        methods: Iterable[str] = ("POST",),
        fail_open: bool = True,
        rules: Iterable[Rule] = (),
        name: str = "default",
        timeout: float = 0.25,
        secret: str | bytes | None = None,
        redis_url: str | None = None,
        client: connection.Client | None = None,
        prefix: str | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = (
            check_rule(Rule(limit, window, "/", name)),
            *(check_rule(Rule(*rule)) for rule in rules),
        )
        if len({rule.name for rule in self.rules}) != len(self.rules):
            raise ValueError("rule names must be unique")
        if isinstance(methods, str):
            methods = (methods,)
        self.methods: frozenset[str] = frozenset(method.upper() for method in methods)
        if not self.methods:
            raise ValueError("methods must name at least one HTTP method")
        if not 0 < timeout <= 60:
            raise ValueError("timeout must be between 0 and 60 seconds")
        self.limit = limit
        self.window = float(window)
        self.fail_open = fail_open
        self.timeout = timeout
        if isinstance(secret, str):
            secret = secret.encode()
        self.secret: bytes | None = (
            hashlib.blake2b(secret, digest_size=32).digest() if secret else None
        )
        if prefix is not None:
            Keys(prefix)  # validated now, not at the first request
        self.redis_url = redis_url
        self.client = client
        self.prefix = prefix
        self._gates: weakref.WeakSet[SyncGate | AsyncGate] = weakref.WeakSet()
        atexit.register(_close_at_exit, weakref.ref(self))

    def _policy(self, prefix: str) -> Policy:
        return Policy(
            self.rules,
            fail_open=self.fail_open,
            secret=self.secret,
            keys=Keys(self.prefix or prefix),
        )

    def _source(
        self, redis_url: str | None, client: connection.Client | None
    ) -> tuple[str | None, connection.Client | None]:
        """The server to follow: this throttle's own, else the one an adapter offers."""
        if self.redis_url is not None or self.client is not None:
            return self.redis_url, self.client
        return redis_url, client

    def bind_sync(
        self,
        *,
        redis_url: str | None = None,
        client: connection.Client | None = None,
        prefix: str = "analytics",
    ) -> SyncGate:
        """A gate for WSGI: a sync client of its own, with this throttle's ``timeout``. The
        arguments are the adapter's defaults; the throttle's own settings win over them."""
        url, source = self._source(redis_url, client)
        made, owned = fastclient.sync_client(source, url, self.timeout)
        gate = SyncGate(self._policy(prefix), self.methods, made, owned=owned, timeout=self.timeout)
        self._gates.add(gate)
        return gate

    def bind_async(
        self,
        *,
        redis_url: str | None = None,
        client: connection.Client | None = None,
        prefix: str = "analytics",
    ) -> AsyncGate:
        """A gate for ASGI: an asyncio client per event loop, made inside that loop."""
        url, source = self._source(redis_url, client)
        fastclient.check_async_source(source, url)  # fail at startup, not at the first request
        timeout = self.timeout

        def connect() -> connection.AsyncClient:
            return fastclient.async_client(source, url, timeout)

        gate = AsyncGate(self._policy(prefix), self.methods, connect, timeout=timeout)
        self._gates.add(gate)
        return gate

    def close(self) -> None:
        """Close the Redis clients of every gate bound so far. Idempotent; run at exit too.

        The asyncio clients close with their event loop (``asyncio.run`` and servers shut a
        loop down through ``shutdown_asyncgens``, which closes them); ``await gate.aclose()``
        closes the current loop's one earlier.
        """
        for gate in list(self._gates):
            gate.close()

    def __repr__(self) -> str:
        rules = ", ".join(f"{r.name}: {r.limit}/{r.window:g}s on {r.path}" for r in self.rules)
        return f"<Throttle {sorted(self.methods)} {rules} fail_open={self.fail_open}>"


def _close_at_exit(ref: weakref.ref[Throttle]) -> None:
    throttle = ref()
    if throttle is not None:
        throttle.close()
