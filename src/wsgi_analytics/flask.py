"""Flask entry point: ``Analytics(app)``, or ``analytics = Analytics()`` then
``analytics.init_app(app)`` in an app factory.

Options come from the keyword arguments, over ``app.config["WSGI_ANALYTICS"]`` (a dict of the
same names; ``"throttle"`` may be a `Throttle` or a dict of its arguments). ``init_app`` wraps
``app.wsgi_app`` in `WSGIAnalytics`, so status, timing and streaming are measured exactly as by
the adapter, and leaves the matched ``request.url_rule`` in the environ for the route counts,
written as an OpenAPI path like every framework's (``/items/<int:item_id>`` ->
``/items/{item_id}``). It
adds ``flask analytics report``. ``analytics.dashboard(auth=...)`` serves the dashboard inside
the app, behind the app's own login.
"""

from __future__ import annotations

import argparse
import weakref
from collections.abc import Callable
from typing import Any

import click
from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    has_app_context,
    request,
    request_started,
)
from flask.cli import AppGroup
from werkzeug.wrappers import Response

from . import cli
from ._native import ROUTE_KEY, Bridge, adapter_options
from .adapters.wsgi import WSGIAnalytics
from .recording.recorder import Recorder
from .request.routes import openapi_template

__all__ = ["Analytics"]

_EXTENSION = "wsgi_analytics"

Auth = Callable[[Request], bool]


class _State:
    """What one app's analytics hold (in ``app.extensions["wsgi_analytics"]``)."""

    def __init__(self, owner: Analytics, middleware: WSGIAnalytics, redis_url: str | None) -> None:
        self.owner = owner
        self.middleware = middleware
        self.redis_url = redis_url
        self.bridge = Bridge(middleware.recorder)
        self._dashboard: Any = None

    def dashboard(self) -> Any:
        """The Starlette dashboard as a WSGI app (a2wsgi runs it on a loop thread of its own)."""
        if self._dashboard is None:
            from a2wsgi import ASGIMiddleware

            self._dashboard = ASGIMiddleware(self.bridge.app)  # type: ignore[arg-type]
        return self._dashboard


class Analytics:
    """The Flask extension; see the module docstring. One `Recorder` per app, created by
    `init_app` and flushed and closed at exit like the adapter's."""

    def __init__(self, app: Flask | None = None, **options: Any) -> None:
        self._options = options
        self._apps: weakref.WeakSet[Flask] = weakref.WeakSet()
        self._dashboards: list[tuple[str, Auth]] = []
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Count ``app``'s requests (several apps may share one `Analytics`)."""
        if _EXTENSION in app.extensions:
            raise RuntimeError(f"wsgi_analytics is already set up on app {app.name!r}")
        configured = adapter_options(
            app.config.get("WSGI_ANALYTICS", {}), "app.config['WSGI_ANALYTICS']"
        )
        options = {**configured, **adapter_options(self._options, "Analytics()")}
        middleware = WSGIAnalytics(app.wsgi_app, **options)
        app.wsgi_app = middleware  # type: ignore[method-assign]
        app.extensions[_EXTENSION] = _State(self, middleware, options.get("redis_url"))
        # A signal rather than before_request: a before_request hook registered earlier that
        # answers by itself (a login redirect) would skip ours, and the route would be lost.
        request_started.connect(_remember_route, app, weak=False)
        app.cli.add_command(_commands)
        self._apps.add(app)
        for url_prefix, auth in self._dashboards:
            app.register_blueprint(_dashboard_blueprint(url_prefix, auth))

    @property
    def recorder(self) -> Recorder:
        """The current app's recorder (in an app context), else the only app's."""
        return self._state().middleware.recorder

    def dashboard(
        self, url_prefix: str = "/analytics", *, auth: Auth | None = None, app: Flask | None = None
    ) -> None:
        """Serve the dashboard under ``url_prefix`` to requests that ``auth(request)`` accepts;
        the others get 403 (``auth`` may also ``abort()`` with a redirect to a login page).

        It is registered (as the blueprint ``wsgi_analytics``) on ``app``, else on every app
        this extension is set up on, now and later.
        """
        if auth is None or not callable(auth):
            raise TypeError(
                "dashboard() needs auth=: a function of the request that returns True for who "
                "may see the numbers (an analytics page is never open by accident)"
            )
        prefix = "/" + url_prefix.strip("/")
        if prefix == "/":
            raise ValueError("url_prefix must name a path, such as '/analytics'")
        if app is not None:
            app.register_blueprint(_dashboard_blueprint(prefix, auth))
            return
        self._dashboards.append((prefix, auth))
        for known in list(self._apps):
            known.register_blueprint(_dashboard_blueprint(prefix, auth))

    def _state(self) -> _State:
        if has_app_context():
            state = current_app.extensions.get(_EXTENSION)
            if isinstance(state, _State) and state.owner is self:
                return state
            raise RuntimeError(f"wsgi_analytics is not set up on app {current_app.name!r}")
        apps = list(self._apps)
        if len(apps) == 1:
            state = apps[0].extensions[_EXTENSION]
            assert isinstance(state, _State)
            return state
        raise RuntimeError(
            "no current app: use analytics.recorder inside an app context"
            if apps
            else "Analytics is not set up on an app yet: call init_app(app)"
        )


def _remember_route(sender: Flask, **extra: Any) -> None:
    rule = request.url_rule
    if rule is not None:
        request.environ[ROUTE_KEY] = openapi_template(rule.rule)


def _dashboard_blueprint(prefix: str, auth: Auth) -> Blueprint:
    pages = Blueprint("wsgi_analytics", __name__, url_prefix=prefix)
    # The prefix as it appears in PATH_INFO (PEP 3333: bytes in a latin-1 str).
    raw_prefix = prefix.encode().decode("latin-1")

    @pages.before_request
    def check() -> None:
        if not auth(request):
            abort(403)

    def show(rest: str = "") -> Response:
        state = current_app.extensions[_EXTENSION]
        environ = dict(request.environ)
        path = environ.get("PATH_INFO", "")
        # The dashboard sees itself mounted at the prefix: its links then stay under it.
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + raw_prefix
        environ["PATH_INFO"] = path[len(raw_prefix) :] if path.startswith(raw_prefix) else "/"
        environ["HTTP_AUTHORIZATION"] = state.bridge.authorization
        # Buffered: the pages are small, and the bridge's task is over before the view returns,
        # even for a client that never reads the body.
        return Response.from_app(state.dashboard(), environ, buffered=True)

    pages.add_url_rule("/", "index", show)
    pages.add_url_rule("/<path:rest>", "page", show)
    return pages


_commands = AppGroup("analytics", help="Read the web analytics counted for this app.")


@_commands.command(
    "report",
    # The options are the report's own (wsgi-analytics report), parsed by its parser.
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("arguments", nargs=-1, type=click.UNPROCESSED)
def _report(arguments: tuple[str, ...]) -> None:
    """Print the numbers (--help for the options)."""
    state = current_app.extensions.get(_EXTENSION)
    if not isinstance(state, _State):
        raise click.ClickException("wsgi_analytics is not set up on this app")
    parser = argparse.ArgumentParser(
        prog="flask analytics report", description="Print the web analytics counted for this app."
    )
    parser.add_argument("--redis-url", help="Redis URL (default: the app's)")
    cli.add_report_arguments(parser)
    parser.set_defaults(redis_url=state.redis_url, prefix=state.middleware.recorder.prefix)
    # argparse exits by itself on --help (0) and on a bad option (2), as the CLI does.
    code = cli.run_report(parser.parse_args(arguments))
    if code:
        raise click.exceptions.Exit(code)
