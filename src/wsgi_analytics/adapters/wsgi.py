"""WSGI middleware: the status from ``start_response``, counted when the response body is closed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._log import logger
from ..recording.recorder import Recorder
from ..request.facts import Facts, from_environ
from .common import adapter_recorder, record_quietly

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
    """

    def __init__(
        self,
        app: WSGIApp,
        /,
        *,
        redis_url: str | None = None,
        recorder: Recorder | None = None,
        prefix: str = "analytics",
        throttle: Throttle | None = None,
        trusted_proxies: int = 0,
        **recorder_options: Any,
    ) -> None:
        self.app = app
        self.recorder = adapter_recorder(
            recorder, redis_url, prefix, trusted_proxies, recorder_options
        )
        self.trusted_proxies = trusted_proxies
        self._gate = (
            throttle.bind_sync(
                redis_url=redis_url, client=self.recorder.client, prefix=self.recorder.prefix
            )
            if throttle
            else None
        )

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            facts = from_environ(environ)
        except Exception:  # pragma: no cover - from_environ is total; this is the last guard
            logger.exception("wsgi_analytics: unreadable environ; request not counted")
            return self.app(environ, start_response)

        gate = self._gate
        if gate is not None and facts.method in gate.methods:
            refusal = gate.check(facts, self.trusted_proxies)
            if refusal is not None:
                self._record(facts, refusal.status, throttled=refusal.status == 429)
                start_response(refusal.status_line, refusal.headers)
                return [refusal.body]

        status = 0

        def counting_start_response(
            status_line: str,
            headers: list[tuple[str, str]],
            exc_info: _ExcInfo | None = None,
        ) -> Any:
            nonlocal status
            # A second call with exc_info replaces the status (PEP 3333 error handling).
            status = _status_code(status_line)
            if exc_info is None:
                return start_response(status_line, headers)
            return start_response(status_line, headers, exc_info)

        def done(failed: bool) -> None:
            self._record(facts, 500 if failed else status)

        try:
            body = self.app(environ, counting_start_response)
        except BaseException:
            done(failed=True)
            raise

        wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(wrapper, type) and isinstance(body, wrapper):
            # Returned as the same object so the server can still use sendfile(); such apps
            # have called start_response already, so the status is known now.
            done(failed=False)
            return body
        if hasattr(body, "__len__"):
            return _SizedBody(body, done)
        return _Body(body, done)

    def _record(self, facts: Facts, status: int, *, throttled: bool = False) -> None:
        record_quietly(self.recorder, facts, status, throttled, self.trusted_proxies)


def _status_code(status_line: object) -> int:
    try:
        return int(str(status_line)[:3])
    except ValueError:
        return 0


class _Body:
    """The app's body, passed through chunk by chunk; counts once, when the server closes it."""

    __slots__ = ("_body", "_done", "_failed")

    def __init__(self, body: Iterable[bytes], done: Callable[[bool], None]) -> None:
        self._body = body
        self._done: Callable[[bool], None] | None = done
        self._failed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as error:
            # A client gone away (GeneratorExit) is not the app's failure; anything else is.
            self._failed = not isinstance(error, GeneratorExit)
            raise

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
                done(self._failed)


class _SizedBody(_Body):
    """Keeps ``len()`` for servers that set Content-Length from a one-chunk list (wsgiref)."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._body)  # type: ignore[arg-type]
