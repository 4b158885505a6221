"""The throttle's I/O shells: one script call per throttled request, sync or asyncio.

Both gates share `Plan` (identity, key names, reply to refusal, failure policy); they differ
only in how they reach Redis. ``check`` never raises: a Redis that is down, slow or confused is
handled by the failure policy, anything else is logged and treated the same way.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from . import _fastclient
from ._plan import Plan
from ._window import SCRIPT, Refusal

if TYPE_CHECKING:
    from . import _redis
    from .facts import Facts
    from .recorder import Recorder
    from .throttle import Throttle

__all__ = ["AsyncGate", "SyncGate"]


class SyncGate:
    """The WSGI gate: a sync client of its own with short timeouts."""

    def __init__(self, throttle: Throttle, recorder: Recorder, redis_url: str | None) -> None:
        self.methods = throttle.methods
        self._plan = Plan(throttle, recorder)
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
        self._plan = Plan(throttle, recorder)
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
