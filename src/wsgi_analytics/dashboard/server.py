"""Serving an ASGI app with uvicorn from the command line, until Ctrl-C."""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys

import uvicorn
from starlette.types import ASGIApp

__all__ = ["PortInUse", "check_port", "serve", "url_for"]


class PortInUse(Exception):
    """The port to serve on is taken (the message says which and what to do)."""


def url_for(host: str, port: int) -> str:
    """The URL to print for a bind address (an "any" address is shown as loopback)."""
    try:
        unspecified = ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = not host
    shown = "127.0.0.1" if unspecified else host
    return f"http://[{shown}]:{port}/" if ":" in shown else f"http://{shown}:{port}/"


def check_port(host: str, port: int) -> None:
    """Fail early, in one line, when the port is taken (uvicorn would log and exit)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortInUse(
                f"cannot listen on {host}:{port} ({error.strerror}); pick another --port"
            ) from None


def serve(app: ASGIApp, host: str, port: int, *, token: str | None = None) -> None:
    """Run ``app`` on ``host:port`` and print its URL; returns after Ctrl-C or SIGTERM."""
    check_port(host, port)
    link = url_for(host, port) + (f"?token={token}" if token else "")
    print(f"dashboard: {link}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    # uvicorn shuts down gracefully on SIGINT and SIGTERM, then raises the signal again with
    # the handler it found: SIGTERM's default would kill us before the caller's cleanup
    # (the demo's embedded server must be stopped). Both end up as KeyboardInterrupt here.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
