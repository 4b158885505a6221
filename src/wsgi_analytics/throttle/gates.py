"""The throttle's I/O shells: one script call per throttled request, sync or asyncio.

Both gates share a `Policy` (identity, key names, reply to refusal, failure policy); they differ
only in how they reach Redis. ``check`` never raises: a Redis that is down, slow or confused is
handled by the failure policy, anything else is logged and treated the same way.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from .. import connection
from ..request.facts import Facts
from . import fastclient
from .policy import Policy, Refusal
from .window import SCRIPT

__all__ = ["AsyncGate", "SyncGate"]


class SyncGate:
    """The WSGI gate: a sync client with short timeouts (closed by `close` when ``owned``)."""

    def __init__(
        self,
        policy: Policy,
        methods: frozenset[str],
        client: connection.Client,
        *,
        owned: bool,
        timeout: float | None = None,
    ) -> None:
        self.methods = methods
        self.policy = policy
        self.client = client
        self._owned = owned
        # The server's name, resolved within the timeout (socket timeouts do not cover it).
        self._resolver = fastclient.resolver_for(client) if timeout else None
        # The raw path when the server allows it: a fraction of redis-py's client CPU.
        self._raw = (
            fastclient.raw_script(client, SCRIPT, timeout, self._resolver) if timeout else None
        )
        script = client.register_script(SCRIPT)
        self._sha: str = script.sha
        # The one call per throttled request: (KEYS, ARGV) -> the script's reply.
        self.script: Callable[[list[str], list[int]], Any] = self._raw or self._resolving(
            lambda keys, args: script(keys, args, client=client)
        )
        self._timeout = timeout or 0.0

    def check(self, facts: Facts, trusted_proxies: int) -> Refusal | None:
        """``None`` to let the request through, else the response to send instead."""
        policy = self.policy
        try:
            who, early = policy.start(facts, trusted_proxies)
            if who is None:
                return early
            secret = policy.secret
            if secret is None:
                secret, due = policy.shared.take()
                if due or secret is None:
                    return self._decide_reading_secret(who, facts.path, secret)
            call = policy.call(who, facts.path, secret)
            return policy.answer(self.script(call.keys, call.args), call.rules)
        except Exception as error:
            return policy.failed(error)

    def _decide_reading_secret(self, who: str, path: str, known: bytes | None) -> Refusal | None:
        """Decide with the secret known so far while reading the shared one in the same
        pipeline (`SharedSecret`); decide again only if it differs: the first time, or after
        Redis lost it."""
        policy, shared = self.policy, self.policy.shared
        if self._resolver is not None:
            self._resolver.addresses(self._timeout)  # redis-py's pipeline resolves unbounded
        pipe = self.client.pipeline(transaction=False)
        pipe.set(shared.key, shared.proposal(), nx=True)
        pipe.get(shared.key)
        call = policy.call(who, path, known) if known is not None else None
        if call is not None:
            # EVALSHA sent as a command: a pipeline given the Script object would check it
            # with SCRIPT EXISTS first, a round trip of its own. NOSCRIPT: decided again below.
            pipe.execute_command("EVALSHA", self._sha, len(call.keys), *call.keys, *call.args)
        replies = pipe.execute(raise_on_error=False)
        secret = shared.learn(replies[1])
        if call is not None and secret == known and not isinstance(replies[2], Exception):
            return policy.answer(replies[2], call.rules)
        call = policy.call(who, path, secret)
        return policy.answer(self.script(call.keys, call.args), call.rules)

    def _resolving(
        self, call: Callable[[list[str], list[int]], Any]
    ) -> Callable[[list[str], list[int]], Any]:
        """``call`` after the bounded lookup of the server's name, for redis-py's own
        connections (TLS): a name that does not resolve within the timeout fails the call
        instead of holding the request. (redis-py resolves the name again when it opens a
        connection: quick after the answer seen here, unless the DNS stalls in between.)"""
        resolver = self._resolver
        if resolver is None:
            return call

        def resolved(keys: list[str], args: list[int]) -> Any:
            resolver.addresses(self._timeout)
            return call(keys, args)

        return resolved

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        if self._owned:
            self._owned = False
            self.client.close()


class _LoopClient:
    __slots__ = ("client", "guard", "loading", "raw", "script", "sha")

    def __init__(self, client: connection.AsyncClient, timeout: float) -> None:
        self.client = client
        # The raw path when the server allows it (see `fastclient.AsyncRawScript`).
        self.raw = fastclient.async_raw_script(client, SCRIPT, timeout)
        script: Any = client.register_script(SCRIPT)
        self.sha: str = script.sha
        self.script: Callable[[list[str], list[int]], Awaitable[Any]] = self.raw or (
            lambda keys, args: script(keys, args, client=client)
        )
        # closes this loop's connections as the loop shuts down (`_close_with_loop`)
        self.guard: AsyncGenerator[None, None] | None = None
        self.loading: asyncio.Future[bytes] | None = None  # the secret, being fetched


class AsyncGate:
    """The ASGI gate: an asyncio client per event loop, made by ``connect`` inside it on first use.

    An asyncio client belongs to the loop it was made in, and one app can serve several loops
    (test clients start one per request). Each loop's client closes with the loop: it hangs on
    an async generator whose ``finally`` runs in the loop's ``shutdown_asyncgens``.
    """

    def __init__(
        self,
        policy: Policy,
        methods: frozenset[str],
        connect: Callable[[], connection.AsyncClient],
        *,
        timeout: float = 0.25,
    ) -> None:
        self.methods = methods
        self.policy = policy
        self.timeout = timeout
        self._connect = connect
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient] = (
            weakref.WeakKeyDictionary()
        )
        self._closed = False

    async def check(self, facts: Facts, trusted_proxies: int) -> Refusal | None:
        """``None`` to let the request through, else the response to send instead."""
        policy = self.policy
        try:
            who, early = policy.start(facts, trusted_proxies)
            if who is None:
                return early
            here = self._loops.get(asyncio.get_running_loop()) or await self._open()
            secret = policy.secret
            if secret is None:
                secret, due = policy.shared.take()
                if secret is None:
                    secret = await self._shared_secret(here)
                elif due:
                    return await self._decide_reading_secret(here, who, facts.path, secret)
            call = policy.call(who, facts.path, secret)
            reply = await here.script(call.keys, call.args)
            return policy.answer(reply, call.rules)
        except Exception as error:
            return policy.failed(error)

    async def _open(self) -> _LoopClient:
        if self._closed:
            raise RuntimeError("throttle closed")
        loop = asyncio.get_running_loop()
        client = self._connect()
        here = self._loops[loop] = _LoopClient(client, self.timeout)
        guard = here.guard = _close_with_loop(here, self._loops)
        await guard.__anext__()  # registers the generator with this loop's shutdown
        return here

    async def _shared_secret(self, here: _LoopClient) -> bytes:
        """The secret, fetched once for all the tasks that need it at the same moment (a burst
        at startup would otherwise open a connection each just to read it)."""
        loading = here.loading
        if loading is None:
            loading = here.loading = asyncio.ensure_future(self._load_secret(here.client))

            def forget(done: asyncio.Future[bytes]) -> None:
                here.loading = None  # fetched (kept in the policy) or failed (asked again)
                if not done.cancelled():
                    done.exception()  # retrieved: each waiter gets it raised

            loading.add_done_callback(forget)
        # shielded: one request going away must not cancel the others' fetch
        return await asyncio.shield(loading)

    async def _load_secret(self, client: connection.AsyncClient) -> bytes:
        # Two loops may both ask; SET NX makes them agree on one secret.
        shared = self.policy.shared
        pipe = client.pipeline(transaction=False)
        pipe.set(shared.key, shared.proposal(), nx=True)
        pipe.get(shared.key)
        return shared.learn((await pipe.execute())[1])

    async def _decide_reading_secret(
        self, here: _LoopClient, who: str, path: str, known: bytes
    ) -> Refusal | None:
        """As `SyncGate._decide_reading_secret`: one pipeline; a second call only on change.
        One task at a time does this (`SharedSecret.take`); the others decide meanwhile."""
        policy, shared = self.policy, self.policy.shared
        pipe = here.client.pipeline(transaction=False)
        pipe.set(shared.key, shared.proposal(), nx=True)
        pipe.get(shared.key)
        call = policy.call(who, path, known)
        pipe.execute_command("EVALSHA", here.sha, len(call.keys), *call.keys, *call.args)
        replies = await pipe.execute(raise_on_error=False)
        secret = shared.learn(replies[1])
        if secret == known and not isinstance(replies[2], Exception):
            return policy.answer(replies[2], call.rules)
        call = policy.call(who, path, secret)
        return policy.answer(await here.script(call.keys, call.args), call.rules)

    async def aclose(self) -> None:
        """Close the current loop's client now (others close with their loops)."""
        here = self._loops.pop(asyncio.get_running_loop(), None)
        if here is not None and here.guard is not None:
            await here.guard.aclose()  # runs its finally: the client closes

    def close(self) -> None:
        """No new clients from now on; the existing ones close with their loops."""
        self._closed = True


async def _close_with_loop(
    here: _LoopClient,
    loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopClient],
) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        loops.pop(asyncio.get_running_loop(), None)
        if here.raw is not None:
            here.raw.close()
        await here.client.aclose()
