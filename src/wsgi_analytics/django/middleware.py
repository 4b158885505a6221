"""``AnalyticsMiddleware``: the adapters' counting inside Django's middleware chain.

It reads the request with the core's own functions (the WSGI environ, or under ASGI the scope)
and records through the adapters' own call (status, Content-Type, route, duration from the
call to the last chunk), so it counts exactly what `WSGIAnalytics` and `ASGIAnalytics` count
for the same traffic, plus what only Django knows: the matched route
(``request.resolver_match.route``). Sync and
async capable: under ASGI it runs on the event loop, its throttle on an asyncio client.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from time import perf_counter
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase, StreamingHttpResponse

from .._log import logger
from ..adapters.common import record_quietly
from ..recording.recorder import Recorder
from ..request.facts import Facts, from_environ, from_scope
from ..request.routes import openapi_template
from ..throttle import Refusal
from .config import SiteAnalytics, current

__all__ = ["AnalyticsMiddleware"]

# Django hands a sync or an async callable (a coroutine function), told apart at start.
GetResponse = Callable[[HttpRequest], Any]
Done = Callable[[bool], None]


class AnalyticsMiddleware:
    """Put it first in ``MIDDLEWARE``: what runs before it (a redirect, a refusal) would not be
    counted, and the throttle should refuse before any other work is done. Options come from
    ``settings.WSGI_ANALYTICS``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        self.analytics: SiteAnalytics = current()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)  # Django then awaits us on the loop: no thread hop

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        # Per-request state lives in this frame and the closures below, never on self.
        started = perf_counter()
        analytics = self.analytics
        facts = _facts(request, analytics.recorder)
        counted = analytics.exclude is None or not analytics.exclude(facts.path)
        gate = analytics.sync_gate()
        if gate is not None and facts.method in gate.methods:
            refusal = gate.check(facts, analytics.trusted_proxies)
            if refusal is not None:
                return self._refuse(facts, refusal, started, counted)
        if not counted:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except BaseException:
            # Django turns a view's exception into a 500 response below us; this is what gets
            # past that (another middleware's bug): a 500 to the server as well.
            self._record(facts, 500, started, route_of(request))
            raise
        return self._counted(request, facts, response, started)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        started = perf_counter()
        analytics = self.analytics
        facts = _facts(request, analytics.recorder)
        counted = analytics.exclude is None or not analytics.exclude(facts.path)
        gate = analytics.async_gate()
        if gate is not None and facts.method in gate.methods:
            refusal = await gate.check(facts, analytics.trusted_proxies)
            if refusal is not None:
                return self._refuse(facts, refusal, started, counted)
        if not counted:
            response: HttpResponseBase = await self.get_response(request)
            return response
        try:
            response = await self.get_response(request)
        except BaseException:
            self._record(facts, 500, started, route_of(request))
            raise
        return self._counted(request, facts, response, started)

    def _refuse(
        self, facts: Facts, refusal: Refusal, started: float, counted: bool
    ) -> HttpResponse:
        """The adapters' refusal (429, or 503 with ``fail_open=False``): same status, headers
        and body; no view and no other middleware runs. An excluded path is refused all the
        same, and counted nowhere."""
        if counted:
            self._record(facts, refusal.status, started, throttled=refusal.status == 429)
        response = HttpResponse(refusal.body, status=refusal.status)
        for name, value in refusal.headers:
            response[name] = value
        return response

    def _counted(
        self, request: HttpRequest, facts: Facts, response: HttpResponseBase, started: float
    ) -> HttpResponseBase:
        route = route_of(request)
        status = response.status_code
        content_type = response.get("Content-Type")

        def done(failed: bool) -> None:
            if failed:
                self._record(facts, 500, started, route)
            else:
                self._record(facts, status, started, route, content_type)

        if isinstance(response, StreamingHttpResponse) and not _is_file(response):
            # Counted when the server has sent the last chunk and closes the response, as the
            # adapters count a streamed body; never buffered.
            if response.is_async:
                chunks: Any = response.streaming_content
                response.streaming_content = _AsyncCounted(chunks, done)
            else:
                response.streaming_content = _Counted(response.streaming_content, done)
        else:
            # The body is all in memory (or a file the server may send with sendfile, which
            # the WSGI adapter also counts as soon as it is handed over).
            done(False)
        return response

    def _record(
        self,
        facts: Facts,
        status: int,
        started: float,
        route: str | None = None,
        content_type: str | None = None,
        *,
        throttled: bool = False,
    ) -> None:
        analytics = self.analytics
        record_quietly(
            analytics.recorder,
            facts,
            status,
            throttled,
            analytics.trusted_proxies,
            content_type,
            route,
            perf_counter() - started,
        )


def _facts(request: HttpRequest, recorder: Recorder) -> Facts:
    # Under ASGI, META is Django's own rebuild of the scope (its PATH_INFO is already decoded
    # text, not WSGI's latin-1 bytes): read the scope itself, as ASGIAnalytics does.
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        return from_scope(scope, recorder.country_scope_key)
    return from_environ(request.META, recorder.country_environ_key)


def _is_file(response: StreamingHttpResponse) -> bool:
    # Replacing a FileResponse's content would drop its file_to_stream, and with it sendfile().
    return getattr(response, "file_to_stream", None) is not None


# Regex routes (re_path) come with their anchors (and keep their groups); path() routes lose
# their converters like every framework's template.
_ANCHORS = re.compile(r"^\^|(?:\$|\\Z)$")


def route_of(request: HttpRequest) -> str | None:
    """The URL pattern Django matched, as an OpenAPI-style path: ``items/<int:item_id>/`` is
    ``/items/{item_id}/``; ``None`` when no pattern matched (a 404, or a middleware that
    answered before URL resolution)."""
    try:
        route = getattr(getattr(request, "resolver_match", None), "route", None)
        if not isinstance(route, str):
            return None
        return openapi_template("/" + _ANCHORS.sub("", route))
    except Exception:  # an odd resolver must not break the response
        logger.exception("wsgi_analytics: could not read the route")
        return None


class _Closing:
    """Counts once, when Django closes the response: Django keeps the ``close`` of streaming
    content and calls it from the response's own ``close()``, after the last chunk was sent."""

    def __init__(self, done: Done) -> None:
        self._done: Done | None = done
        self._failed = False

    def _failure(self, error: BaseException) -> None:
        # A client gone away (GeneratorExit, a cancelled task) is not the app's failure.
        self._failed = not isinstance(error, (GeneratorExit, asyncio.CancelledError))

    def close(self) -> None:
        done, self._done = self._done, None
        if done is not None:
            done(self._failed)


class _Counted(_Closing):
    """A sync streaming body, passed through chunk by chunk."""

    def __init__(self, chunks: Iterable[bytes], done: Done) -> None:
        super().__init__(done)
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except BaseException as error:
            self._failure(error)
            raise


class _AsyncCounted(_Closing):
    """An async streaming body (Django's ASGI handler serves it on the loop). No ``__iter__``:
    Django tells the two kinds apart by whether ``iter()`` works."""

    def __init__(self, chunks: AsyncIterable[bytes], done: Done) -> None:
        super().__init__(done)
        self._chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        except BaseException as error:
            self._failure(error)
            raise
