"""A WSGI site run by servers that have no SIGTERM handler of their own: ``python
sigterm_wsgi.py wsgiref|waitress PORT``, and ``flask --app sigterm_wsgi:flask_app run``.

Every answer is counted (``statuses``) and names the serving process; ``/_ready`` is answered
outside the middleware. The Redis URL comes from ``WSGI_ANALYTICS_REDIS_URL``; the flush
interval (``SAMPLE_FLUSH_INTERVAL``) is long, so that only the final flush can write.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from flask import Flask

from wsgi_analytics import WSGIAnalytics
from wsgi_analytics.adapters.wsgi import StartResponse

FLUSH_INTERVAL = float(os.environ.get("SAMPLE_FLUSH_INTERVAL", "3600"))


def site(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    body = f"{os.getpid()}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def ready(app: Any) -> Any:
    def wrapped(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/_ready":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [f"{os.getpid()}\n".encode()]
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return wrapped


flask_app = Flask(__name__)


@flask_app.route("/<path:anything>")
def page(anything: str) -> str:
    return f"{os.getpid()}\n"


def main() -> None:
    server, port = sys.argv[1], int(sys.argv[2])
    application = ready(WSGIAnalytics(site, flush_interval=FLUSH_INTERVAL))
    if server == "wsgiref":
        from wsgiref.simple_server import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

        make_server("127.0.0.1", port, application, handler_class=Quiet).serve_forever()
    elif server == "waitress":
        import waitress

        waitress.serve(application, host="127.0.0.1", port=port, threads=4)
    else:
        raise SystemExit(f"unknown server {server!r}")


if __name__ == "__main__":
    main()
else:
    # Under `flask run` (the module is imported, not run).
    flask_app.wsgi_app = ready(  # type: ignore[method-assign]
        WSGIAnalytics(flask_app.wsgi_app, flush_interval=FLUSH_INTERVAL)
    )
