"""ASGI middleware: the status and Content-Type from ``http.response.start``, the route from the
scope after the app ran, counted when the response is over."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .._log import logger
from ..recording.recorder import Recorder
from ..request.documents import asgi_content_type
from ..request.exclude import compile_exclude
from ..request.facts import Facts, from_scope
from ..request.routes import ROUTE_KEY, template_from_scope
from .common import DEFAULT_PREFIX, adapter_recorder, record_quietly

if TYPE_CHECKING:
    from ..throttle import Throttle

__all__ = ["ASGIAnalytics"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ASGIAnalytics:
    """Wrap an ASGI app: ``ASGIAnalytics(app, redis_url=...)`` or, in Starlette and FastAPI,
    ``app.add_middleware(ASGIAnalytics, redis_url=...)``.

    Only ``http`` scopes are counted; ``lifespan`` and ``websocket`` pass through untouched.
    Recording is an in-memory append, so nothing blocks the event loop; only a throttled method
    (``throttle=``) awaits one Redis round trip, on an asyncio client. ``exclude``: paths never
    counted, prefixes or globs (`wsgi_analytics.request.exclude`); the throttle still applies.
    """

    def __init__(
        self,
        app: ASGIApp,
        /,
        *,
        redis_url: str | None = None,
        recorder: Recorder | None = None,
        prefix: str = DEFAULT_PREFIX,
        throttle: Throttle | None = None,
        trusted_proxies: int = 0,
        exclude: str | Iterable[str] | None = (),
        **recorder_options: Any,
    ) -> None:
        self.app = app
        # Compiled once; None when nothing is excluded (one `is None` test a request).
        self._exclude = compile_exclude(exclude)
        self.recorder = adapter_recorder(
            recorder, redis_url, prefix, trusted_proxies, recorder_options
        )
        self.trusted_proxies = trusted_proxies
        self._country_header = self.recorder.country_scope_key
        self._gate = (
            throttle.bind_async(
                redis_url=redis_url, client=self.recorder.client, prefix=self.recorder.prefix
            )
            if throttle
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") != "http":
            if scope.get("type") == "lifespan":
                await self._lifespan(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        try:
            facts = from_scope(scope, self._country_header)
        except Exception:  # pragma: no cover - from_scope is total; this is the last guard
            logger.exception("wsgi_analytics: unreadable scope; request not counted")
            await self.app(scope, receive, send)
            return

        exclude = self._exclude
        counted = exclude is None or not exclude(facts.path)
        gate = self._gate
        if gate is not None and facts.method in gate.methods:
            refusal = await gate.check(facts, self.trusted_proxies)
            if refusal is not None:
                if counted:
                    self._record(
                        facts,
                        refusal.status,
                        duration=perf_counter() - started,
                        throttled=refusal.status == 429,
                    )
                headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in refusal.headers]
                await send(
                    {"type": "http.response.start", "status": refusal.status, "headers": headers}
                )
                await send({"type": "http.response.body", "body": refusal.body})
                return
        if not counted:
            await self.app(scope, receive, send)
            return

        # Per-request state lives in this frame, never on self: one middleware object serves
        # every concurrent request.
        status = 0
        content_type: str | None = None
        ended = 0.0  # when the last body chunk was handed to the server

        def counting_send(message: Message) -> Awaitable[None]:
            # A plain function handing back the server's own awaitable: no coroutine of ours
            # per message, but for the last one, timed once the server has it.
            nonlocal status, content_type
            kind = message.get("type")
            if kind == "http.response.start":
                code = message.get("status")
                status = code if isinstance(code, int) and 100 <= code <= 999 else 0
                headers = message.get("headers")
                # Odd headers are the server's to refuse, never a reason for the middleware
                # to raise first.
                try:
                    content_type = asgi_content_type(headers) if headers else None
                except Exception:
                    content_type = None
            elif kind in _BODY and not message.get("more_body", False):
                return send_last(message)
            return send(message)

        async def send_last(message: Message) -> None:
            nonlocal ended
            await send(message)
            ended = perf_counter()

        failed = False
        try:
            await self.app(scope, receive, counting_send)
        except BaseException as error:
            # Cancellation (the client went away, the server shuts down) is not the app's fault:
            # count what was answered, if anything. Any other exception is a 500.
            failed = not isinstance(error, _CANCELLED)
            raise
        finally:
            if failed and not ended:
                status, content_type = 500, None
            # An app that raises after its response completed (a background task) still
            # served that response: count what the client saw. Not at all when no response
            # was started (the server or the client gave up first). `common.record_quietly`,
            # inline: a call less on every request.
            if status:
                try:
                    # After the app ran, the scope holds what its router matched (or the
                    # app's own key).
                    # Neither key: no route named (`template_from_scope`'s first answer,
                    # without the call).
                    route = (
                        template_from_scope(scope)
                        if ROUTE_KEY in scope or "endpoint" in scope
                        else None
                    )
                    self.recorder.record(
                        facts,
                        status,
                        trusted_proxies=self.trusted_proxies,
                        content_type=content_type,
                        route=route,
                        duration=(ended or perf_counter()) - started,
                    )
                except Exception:
                    logger.exception("wsgi_analytics: could not record a request")

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app's lifespan, flushed before its shutdown completes. An app that refuses the
        protocol outright (Django's ASGI handler raises before reading a message) would leave
        nothing to flush on, so the middleware then answers the protocol for it."""
        listened = False

        async def app_receive() -> Message:
            nonlocal listened
            listened = True
            return await receive()

        try:
            await self.app(scope, app_receive, self._flush_before_shutdown_complete(send))
            return
        except Exception:
            if listened:
                raise
        logger.debug("wsgi_analytics: the app refused lifespan; answering it to flush at shutdown")
        flushing_send = self._flush_before_shutdown_complete(send)
        while True:
            kind = (await receive()).get("type")
            if kind == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif kind == "lifespan.shutdown":
                await flushing_send({"type": "lifespan.shutdown.complete"})
                return

    def _flush_before_shutdown_complete(self, send: Send) -> Send:
        """The lifespan ``send``, unchanged except that the counts are flushed before the app's
        ``lifespan.shutdown.complete`` goes out. uvicorn re-raises SIGTERM with its default
        action once shut down, so ``atexit`` never runs there: this is the last chance."""

        async def lifespan_send(message: Message) -> None:
            if message.get("type") in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self.recorder.flush)
                except Exception as error:  # the counts stay pending for the atexit flush
                    logger.warning("wsgi_analytics: flush at shutdown failed: %s", error)
            await send(message)

        return lifespan_send

    def _record(
        self,
        facts: Facts,
        status: int,
        content_type: str | None = None,
        route: str | None = None,
        duration: float = 0.0,
        *,
        throttled: bool = False,
    ) -> None:
        record_quietly(
            self.recorder,
            facts,
            status,
            throttled,
            self.trusted_proxies,
            content_type,
            route,
            duration,
        )


# The messages that carry the body; the last one (no more_body) ends the response.
# "http.response.pathsend" (the ASGI path-send extension) is always the last.
_BODY = frozenset({"http.response.body", "http.response.pathsend", "http.response.zerocopysend"})


_CANCELLED = asyncio.CancelledError
