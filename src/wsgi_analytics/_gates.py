"""The throttle's I/O shells: one script call per throttled request, sync or asyncio.

Both gates share `_Plan` (identity, key names, reply to refusal, failure policy); they differ
only in how they reach Redis. ``check`` never raises: a Redis that is down, slow or confused is
handled by the failure policy, anything else is logged and treated the same way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import threading
import time
import traceback
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

import redis

from . import _fastclient
from ._log import warn_limited
from ._window import SCRIPT, Refusal, Rule, parse_reply, refusal, script_args, unavailable
from .identity import client_identity

if TYPE_CHECKING:
    from . import _redis
    from .facts import Facts
    from .recorder import Recorder
    from .throttle import Throttle

__all__ = ["AsyncGate", "SyncGate"]

# Failures of the transport: after one, Redis is left alone for _REST seconds, so a dead or
# black-holed server costs one timeout per second, not one per request.
_TRANSPORT = (redis.ConnectionError, redis.TimeoutError, OSError, asyncio.TimeoutError)
_REST = 1.0


class _Plan:
    """What both gates do around the round trip (no I/O here)."""

    def __init__(self, throttle: Throttle, recorder: Recorder) -> None:
        self.rules = throttle.rules
        self.single = len(self.rules) == 1
        self.args = script_args(self.rules)
        self.fail_open = throttle.fail_open
        self.ipv6_prefix = throttle.ipv6_prefix
        self.secret = throttle.secret
        self.secret_key = f"{recorder.keys.tag('throttle')}:secret"
        self.prefix = recorder.prefix
        self.resting_until = 0.0

    def subject(self, facts: Facts, trusted_proxies: int) -> str | None:
        who = client_identity(facts.client, facts.forwarded_for, trusted_proxies, self.ipv6_prefix)
        if who is None:
            warn_limited(
                "throttle-anonymous",
                "wsgi_analytics: %s %s has no usable client address; not throttled "
                "(check trusted_proxies and the proxy's X-Forwarded-For)",
                facts.method,
                facts.path[:100],
            )
        return who

    def call(self, who: str, path: str, secret: bytes) -> tuple[list[str], list[int], list[Rule]]:
        """KEYS and ARGV for the script, and the rules they stand for."""
        digest = hashlib.blake2b(who.encode(), key=secret, digest_size=16).hexdigest()
        # The client's hash in the hash tag: all its rules share a slot (one script, many
        # keys, cluster-safe) while clients spread over the cluster.
        tag = f"{{{self.prefix}:throttle:{digest}}}"
        if self.single:
            return [f"{tag}:{self.rules[0].name}"], self.args, list(self.rules)
        rules = [rule for rule in self.rules if rule.covers(path)]
        return [f"{tag}:{rule.name}" for rule in rules], script_args(rules), rules

    def resting(self) -> bool:
        return time.monotonic() < self.resting_until

    def answer(self, reply: object, rules: list[Rule]) -> Refusal | None:
        decision = parse_reply(reply, rules)
        return None if decision.allowed else refusal(rules, decision)

    def failed(self, error: BaseException | None) -> Refusal | None:
        """The failure policy; ``error`` None means Redis is resting after a recent failure."""
        if error is not None:
            if isinstance(error, _TRANSPORT):
                self.resting_until = time.monotonic() + _REST
            elif not isinstance(error, redis.RedisError):
                # A bug of ours: the traceback matters, but not once per request.
                warn_limited(
                    "throttle-bug",
                    "wsgi_analytics: throttle failed unexpectedly:\n%s",
                    "".join(traceback.format_exception(type(error), error, error.__traceback__)),
                    level=logging.ERROR,
                )
            warn_limited(
                "throttle",
                "wsgi_analytics: throttle cannot reach Redis (%s: %s); %s",
                type(error).__name__,
                error,
                "letting requests through" if self.fail_open else "answering 503",
            )
        return None if self.fail_open else unavailable(round(_REST))

    def secret_from(self, stored: object) -> bytes:
        raw = stored.encode() if isinstance(stored, str) else stored
        if not isinstance(raw, bytes):
            raise ValueError("throttle secret missing in Redis")
        return hashlib.blake2b(raw, digest_size=32).digest()


class SyncGate:
    """The WSGI gate: a sync client of its own with short timeouts."""

    def __init__(self, throttle: Throttle, recorder: Recorder, redis_url: str | None) -> None:
        self.methods = throttle.methods
        self._plan = _Plan(throttle, recorder)
        self._client, self._owned = _fastclient.sync_client(
            recorder.client, redis_url, throttle.timeout
        )
        self._script = self._client.register_script(SCRIPT)
        self._secret = self._plan.secret
        self._lock = threading.Lock()

    def check(self, facts: Facts, trusted_proxies: int) -> Refusal | None:
        """``None`` to let the request through, else the response to send instead."""
        plan = self._plan
        try:
            who = plan.subject(facts, trusted_proxies)
            if who is None:
                return None
            if plan.resting():
                return plan.failed(None)
            keys, args, rules = plan.call(who, facts.path, self._secret or self._load_secret())
            return plan.answer(self._script(keys, args, client=self._client), rules)
        except Exception as error:
            return plan.failed(error)

    def _load_secret(self) -> bytes:
        with self._lock:
            if self._secret is None:
                # Every worker must hash alike: the first one to ask creates the secret.
                pipe = self._client.pipeline(transaction=False)
                pipe.set(self._plan.secret_key, secrets.token_hex(32), nx=True)
                pipe.get(self._plan.secret_key)
                self._secret = self._plan.secret_from(pipe.execute()[1])
            return self._secret

    def close(self) -> None:
        if self._owned:
            self._owned = False
            self._client.close()


class _LoopClient:
    __slots__ = ("client", "guard", "script")

    def __init__(self, client: _redis.AsyncClient, guard: AsyncGenerator[None, None]) -> None:
        self.client = client
        self.script: Any = client.register_script(SCRIPT)
        self.guard = guard


class AsyncGate:
    """The ASGI gate: an asyncio client per event loop, created inside it on first use.

    An asyncio client belongs to the loop it was made in, and one app can serve several loops
    (test clients start one per request). Each loop's client closes with the loop: it hangs on
    an async generator whose ``finally`` runs in the loop's ``shutdown_asyncgens``.
    """

    def __init__(self, throttle: Throttle, recorder: Recorder, redis_url: str | None) -> None:
        self.methods = throttle.methods
        self._plan = _Plan(throttle, recorder)
        _fastclient.check_async_source(recorder.client, redis_url)  # fail at startup, not later
        self._source = recorder.client
        self._url = redis_url
        self._timeout = throttle.timeout
        self._secret = self._plan.secret
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False

    async def check(self, facts: Facts, trusted_proxies: int) -> Refusal | None:
        """``None`` to let the request through, else the response to send instead."""
        plan = self._plan
        try:
            who = plan.subject(facts, trusted_proxies)
            if who is None:
                return None
            if plan.resting():
                return plan.failed(None)
            here = self._loops.get(asyncio.get_running_loop()) or await self._open()
            secret = self._secret or await self._load_secret(here.client)
            keys, args, rules = plan.call(who, facts.path, secret)
            return plan.answer(await here.script(keys, args, client=here.client), rules)
        except Exception as error:
            return plan.failed(error)

    async def _open(self) -> _LoopClient:
        if self._closed:
            raise RuntimeError("throttle closed")
        loop = asyncio.get_running_loop()
        client = _fastclient.async_client(self._source, self._url, self._timeout)
        guard = _close_with_loop(client, self._loops)
        here = self._loops[loop] = _LoopClient(client, guard)
        await guard.__anext__()  # registers the generator with this loop's shutdown
        return here

    async def _load_secret(self, client: _redis.AsyncClient) -> bytes:
        # Two tasks may both ask; SET NX makes them agree on one secret.
        pipe = client.pipeline(transaction=False)
        pipe.set(self._plan.secret_key, secrets.token_hex(32), nx=True)
        pipe.get(self._plan.secret_key)
        self._secret = self._plan.secret_from((await pipe.execute())[1])
        return self._secret

    async def aclose(self) -> None:
        """Close the current loop's client now (others close with their loops)."""
        here = self._loops.pop(asyncio.get_running_loop(), None)
        if here is not None:
            await here.guard.aclose()  # runs its finally: the client closes

    def close(self) -> None:
        """No new clients from now on; the existing ones close with their loops."""
        self._closed = True


async def _close_with_loop(
    client: _redis.AsyncClient,
    loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        loops.pop(asyncio.get_running_loop(), None)
        await client.aclose()
