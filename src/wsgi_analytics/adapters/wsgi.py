"""WSGI middleware: the status and Content-Type from ``start_response``, the route from the
environ, counted when the response body is closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._log import logger
from ..recording.recorder import Recorder
from ..request.exclude import compile_exclude
from ..request.facts import Facts, from_environ
from ..request.routes import MAX_TEMPLATE, ROUTE_KEY
from .common import DEFAULT_PREFIX, adapter_recorder, record_quietly

if TYPE_CHECKING:
    from ..throttle import Throttle

__all__ = ["WSGIAnalytics"]

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class WSGIAnalytics:
    """Wrap a WSGI app: ``app.wsgi_app = WSGIAnalytics(app.wsgi_app, redis_url=...)``.

    Counting never touches the network on the request path and never raises into the app or the
    server; only a throttled method (``throttle=``) costs one Redis round trip.
    ``trusted_proxies``: see `wsgi_analytics.request.identity` before setting it above 0.
    ``exclude``: paths never counted, prefixes or globs (`wsgi_analytics.request.exclude`); the
    throttle still applies to them.
    """

    def __init__(
        self,
        app: WSGIApp,
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
        self._country_header = self.recorder.country_environ_key
        self._gate = (
            throttle.bind_sync(
                redis_url=redis_url, client=self.recorder.client, prefix=self.recorder.prefix
            )
            if throttle
            else None
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = perf_counter()
        try:
            facts = from_environ(environ, self._country_header)
        except Exception:  # pragma: no cover - from_environ is total; this is the last guard
            logger.exception("wsgi_analytics: unreadable environ; request not counted")
            return self.app(environ, start_response)

        exclude = self._exclude
        counted = exclude is None or not exclude(facts.path)
        gate = self._gate
        if gate is not None and facts.method in gate.methods:
            refusal = gate.check(facts, self.trusted_proxies)
            if refusal is not None:
                if counted:
                    self._record(
                        facts,
                        refusal.status,
                        throttled=refusal.status == 429,
                        duration=perf_counter() - started,
                    )
                start_response(refusal.status_line, refusal.headers)
                return [refusal.body]
        if not counted:
            return self.app(environ, start_response)

        # Per-request state lives in this object, never on self: one middleware object serves
        # every concurrent request. One object (no closures) is the cheapest holder.
        response = _Body(self, environ, facts, started, start_response)
        try:
            body = self.app(environ, response.start_response)
        except BaseException:
            response.count_failure()
            raise

        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):
            # Returned as the same object so the server can still use sendfile(); such apps
            # have called start_response already, so the status is known now. The time the
            # server then takes to send the file is not seen.
            response.close()  # counts it: there is no body of the app's to close yet
            return body
        response.body = body
        if hasattr(body, "__len__"):
            # Same slots, one method more: a class switch costs less than a second object.
            response.__class__ = _SizedBody
        return response

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


# The status lines apps send, read with one look-up (parsing one costs ~0.1 µs); any other
# is parsed.
_STATUS_CODES = {f"{status.value} {status.phrase}": status.value for status in HTTPStatus}


class _Body:
    """One request's state, then its body: ``start_response`` notes the status and the
    Content-Type, the app's body is passed through chunk by chunk, and the request is counted
    once, when the server closes it, timed to the moment the last chunk was handed over (the
    iterator was exhausted)."""

    __slots__ = (
        "_adapter",
        "_content_type",
        "_ended",
        "_environ",
        "_facts",
        "_failed",
        "_start_response",
        "_started",
        "_status",
        "body",
    )

    def __init__(
        self,
        adapter: WSGIAnalytics,
        environ: dict[str, Any],
        facts: Facts,
        started: float,
        start_response: StartResponse,
    ) -> None:
        self._adapter: WSGIAnalytics | None = adapter  # None once counted
        self._environ = environ
        self._facts = facts
        self._started = started
        self._start_response = start_response
        self._status = 0
        self._content_type: str | None = None
        self._failed = False
        self._ended = 0.0
        self.body: Iterable[bytes] = ()

    def start_response(
        self,
        status_line: str,
        headers: list[tuple[str, str]],
        exc_info: _ExcInfo | None = None,
    ) -> Any:
        # A second call with exc_info replaces the status (PEP 3333 error handling).
        try:
            self._status = _STATUS_CODES.get(status_line) or int(str(status_line)[:3])
        except (TypeError, ValueError):  # TypeError: not even hashable
            self._status = 0
        # `documents.wsgi_content_type`, inline (a call less on every request). An app's
        # malformed header list is the server's to refuse, never a reason for the middleware
        # to raise first.
        content_type = None
        try:
            for name, value in headers:
                if name == "Content-Type" or (len(name) == 12 and name.lower() == "content-type"):
                    content_type = value if isinstance(value, str) else None
                    break
        except Exception:
            content_type = None
        self._content_type = content_type
        if exc_info is None:
            return self._start_response(status_line, headers)
        return self._start_response(status_line, headers, exc_info)

    def count_failure(self) -> None:
        """Count the request as a 500: the app raised before it returned a body."""
        self._failed = True
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self.body
        except BaseException as error:
            # A client gone away (GeneratorExit) is not the app's failure; anything else is.
            self._failed = not isinstance(error, GeneratorExit)
            raise
        self._ended = perf_counter()

    def close(self) -> None:
        """Close the app's body, then count the request (once). `common.record_quietly`,
        inline: a call less on every request."""
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        except BaseException:
            self._failed = True
            raise
        finally:
            adapter = self._adapter
            if adapter is not None:
                self._adapter = None
                failed = self._failed
                status = 500 if failed else self._status
                # No status: no response was started (the server or the client gave up first).
                if status:
                    try:
                        # After the app ran: the app (or Flask's and Django's entry points)
                        # named the route (`routes.explicit_route`, inline).
                        route = self._environ.get(ROUTE_KEY)
                        adapter.recorder.record(
                            self._facts,
                            status,
                            trusted_proxies=adapter.trusted_proxies,
                            content_type=None if failed else self._content_type,
                            route=route[:MAX_TEMPLATE]
                            if isinstance(route, str) and route
                            else None,
                            duration=(self._ended or perf_counter()) - self._started,
                        )
                    except Exception:
                        logger.exception("wsgi_analytics: could not record a request")


class _SizedBody(_Body):
    """Keeps ``len()`` for servers that set Content-Length from a one-chunk list (wsgiref)."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self.body)  # type: ignore[arg-type]
