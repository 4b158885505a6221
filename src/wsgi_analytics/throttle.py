"""The spam throttle: at most ``limit`` requests of the throttled methods per client per rolling
``window``, decided by one Lua script in Redis (see `wsgi_analytics._window`).

Pass a `Throttle` to `WSGIAnalytics` or `ASGIAnalytics` (``throttle=``); the adapter binds it to
a sync or an asyncio gate, which costs one Redis round trip per throttled request and none for
any other method (the first throttled request of a process also loads the script and the hashing
secret: a few round trips, once).

Security: the client is the TCP peer, or with the adapter's ``trusted_proxies=N`` the N-th
``X-Forwarded-For`` entry from the right. Setting ``trusted_proxies`` higher than the number of
proxies really in front of the app lets every client pick its own address and walk past the
throttle (see `wsgi_analytics.identity`).
"""

from __future__ import annotations

import atexit
import hashlib
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ._window import Refusal, Rule, check_rule

if TYPE_CHECKING:
    from ._gates import AsyncGate, SyncGate
    from .recorder import Recorder

__all__ = ["Refusal", "Rule", "Throttle"]


class Throttle:
    """At most ``limit`` requests per client in any ``window`` seconds, for ``methods``.

    - ``rules``: further `Rule` objects, each with its own limit, window and path prefix, for
      example ``Rule(3, 600, path="/login", name="login")``. A request must fit every rule that
      covers its path; an accepted request counts in each of them, a refused one in none.
    - ``fail_open``: when Redis cannot be asked (down, or slower than ``timeout`` seconds), let
      the request through and log a warning (``True``), or answer ``503`` (``False``).
    - ``timeout``: connect and read timeout of the throttle's own Redis clients, in seconds.
    - ``ipv6_prefix``: IPv6 clients are grouped by this network size (a subscriber usually holds
      a whole /64, so one address each would let them walk past the limit).
    - ``secret``: the key that hashes client addresses into Redis key names. By default a random
      one is created in Redis on first use; pass your own to keep it out of Redis, so that
      someone who can read Redis cannot reverse the hashes by trying every IPv4 address.

    A request with no usable client address (no peer, unparseable) is let through with a
    rate-limited warning rather than put in a shared bucket that one client could fill for all.

    Security: ``trusted_proxies`` (an adapter option) must equal the number of proxies in front
    of the app that append to ``X-Forwarded-For``; trusting more lets clients choose their own
    address. See `wsgi_analytics.identity`.
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
        ipv6_prefix: int = 64,
        secret: str | bytes | None = None,
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
        if not 32 <= ipv6_prefix <= 128:
            # shorter would put whole providers in one bucket
            raise ValueError("ipv6_prefix must be between 32 and 128")
        self.limit = limit
        self.window = float(window)
        self.fail_open = fail_open
        self.timeout = timeout
        self.ipv6_prefix = ipv6_prefix
        if isinstance(secret, str):
            secret = secret.encode()
        self.secret: bytes | None = (
            hashlib.blake2b(secret, digest_size=32).digest() if secret else None
        )
        self._gates: weakref.WeakSet[SyncGate | AsyncGate] = weakref.WeakSet()
        atexit.register(_close_at_exit, weakref.ref(self))

    def bind_sync(self, recorder: Recorder, redis_url: str | None) -> SyncGate:
        """A gate for WSGI: a sync client of its own, with this throttle's ``timeout``."""
        from ._gates import SyncGate

        gate = SyncGate(self, recorder, redis_url)
        self._gates.add(gate)
        return gate

    def bind_async(self, recorder: Recorder, redis_url: str | None) -> AsyncGate:
        """A gate for ASGI: an asyncio client per event loop, made inside that loop."""
        from ._gates import AsyncGate

        gate = AsyncGate(self, recorder, redis_url)
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
