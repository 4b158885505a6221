"""WSGI middleware: the status and Content-Type from ``start_response``, the route from the
environ, counted when the response body is closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from time import perf_counter
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._log import logger
from ..recording.recorder import Recorder
from ..request.documents import wsgi_content_type
from ..request.exclude import compile_exclude
from ..request.facts import Facts, from_environ
from ..request.routes import explicit_route
from .common import DEFAULT_PREFIX, adapter_recorder, record_quietly

if TYPE_CHECKING:
    from ..throttle import Throttle

__all__ = ["WSGIAnalytics"]

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
Done = Callable[[bool, float], None]  # (the app failed, when the body was over)


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

        # Per-request state lives in these closures, never on self: one middleware object
        # serves every concurrent request.
        status = 0
        content_type: str | None = None

        def counting_start_response(
            status_line: str,
            headers: list[tuple[str, str]],
            exc_info: _ExcInfo | None = None,
        ) -> Any:
            nonlocal status, content_type
            # A second call with exc_info replaces the status (PEP 3333 error handling).
            status = _status_code(status_line)
            content_type = _content_type(headers)
            if exc_info is None:
                return start_response(status_line, headers)
            return start_response(status_line, headers, exc_info)

        def done(failed: bool, ended: float) -> None:
            # After the app ran: the app (or Flask's and Django's entry points) named the route.
            route = explicit_route(environ)
            if failed:
                self._record(facts, 500, route=route, duration=ended - started)
            else:
                self._record(facts, status, content_type, route, ended - started)

        try:
            body = self.app(environ, counting_start_response)
        except BaseException:
            done(True, perf_counter())
            raise

        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):
            # Returned as the same object so the server can still use sendfile(); such apps
            # have called start_response already, so the status is known now. The time the
            # server then takes to send the file is not seen.
            done(False, perf_counter())
            return body
        if hasattr(body, "__len__"):
            return _SizedBody(body, done)
        return _Body(body, done)

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


def _status_code(status_line: object) -> int:
    try:
        return int(str(status_line)[:3])
    except ValueError:
        return 0


def _content_type(headers: object) -> str | None:
    """The response's Content-Type, or None; an app's malformed header list is the server's to
    refuse, never a reason for the middleware to raise first."""
    try:
        found = wsgi_content_type(headers)  # type: ignore[arg-type]
    except Exception:
        return None
    return found if isinstance(found, str) else None


class _Body:
    """The app's body, passed through chunk by chunk; counts once, when the server closes it,
    timed to the moment the last chunk was handed over (the iterator was exhausted)."""

    __slots__ = ("_body", "_done", "_ended", "_failed")

    def __init__(self, body: Iterable[bytes], done: Done) -> None:
        self._body = body
        self._done: Done | None = done
        self._failed = False
        self._ended = 0.0

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as error:
            # A client gone away (GeneratorExit) is not the app's failure; anything else is.
            self._failed = not isinstance(error, GeneratorExit)
            raise
        self._ended = perf_counter()

    def close(self) -> None:
        done, self._done = self._done, None
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        except BaseException:
            self._failed = True
            raise
        finally:
            if done is not None:
                done(self._failed, self._ended or perf_counter())


class _SizedBody(_Body):
    """Keeps ``len()`` for servers that set Content-Length from a one-chunk list (wsgiref)."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._body)  # type: ignore[arg-type]
