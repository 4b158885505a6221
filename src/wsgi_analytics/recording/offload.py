"""The worker's end of an offloaded flusher (``Recorder(offload=True)``).

In process, the flusher spends ~25 µs of the worker's interpreter on every request (parsing the
agent, the rules, aggregating, writing) and holds the interpreter while it does. Offloaded, a
helper process (`wsgi_analytics.recording.sidecar`) does all of that on another core, and the
worker only ships its queued requests: ``marshal`` in chunks (~0.7 µs a request), written to a
pipe (the write gives the interpreter back). What the worker keeps is the request path.

The protocol is length-prefixed ``marshal`` frames. Worker to helper: the configuration first,
then ``("requests", [...])``, ``("counts", [...])``, ``("flush", n)`` and ``("close",)``. Helper
to worker: ``("status", {...})`` after each frame and each of its flushes, ``("flushed", n,
error)`` for a flush, ``("log", level, text)`` for what it logs (logged here, so the host's
logging configuration applies). The helper exits when the worker closes the pipe, whatever the
reason (a crash, SIGKILL), after writing what it holds: it never outlives the worker by more
than a final flush.

Nothing is lost silently: when the helper dies, what it had taken in and not written, and what
was in the pipe, is added to the recorder's ``dropped`` and logged, and the recorder goes on
flushing in process.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from .._log import logger

__all__ = ["CHUNK", "Gone", "Offload", "interpreter", "read_frame", "write_frame"]

_LENGTH = struct.Struct("!I")
# Requests marshalled per frame: ~0.35 ms of the worker's interpreter, then a pause.
CHUNK = 512
# What the helper runs: the worker's import path first, so that it imports this very package
# (a source checkout, a zipapp, a virtualenv's site-packages alike).
_BOOT = (
    "import marshal, sys\n"
    "config = marshal.load(sys.stdin.buffer)\n"
    "sys.path[:0] = config['path']\n"
    "from wsgi_analytics.recording.sidecar import main\n"
    "main(config)\n"
)


def interpreter() -> str | None:
    """The Python interpreter to start the helper with, or None. Under uWSGI or mod_wsgi,
    ``sys.executable`` is the server's own binary (started with ``-c``, it would be another
    server, or nothing useful): only a file named like an interpreter is trusted."""
    found = sys.executable
    name = os.path.basename(found or "").lower()
    if found and os.access(found, os.X_OK) and name.startswith(("python", "pypy")):
        return found
    return None


class Gone(RuntimeError):
    """The helper process is not there (any more)."""


def write_frame(stream: IO[bytes], message: Any) -> None:
    data = marshal.dumps(message)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream."""
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (size,) = _LENGTH.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    # Only ever our own process's peer at the other end of a private pipe.
    return marshal.loads(data)  # noqa: S302


class Offload:
    """A helper process and the pipes to it. Thread-safe: ``ship`` and ``flush`` may come from
    the flusher thread and from any thread calling ``Recorder.flush``."""

    def __init__(self, config: dict[str, Any], on_gone: Callable[[Offload], None]) -> None:
        self._on_gone = on_gone
        self._lock = threading.Lock()  # one writer at a time on the pipe
        self._answered = threading.Condition()
        self._flushes = 0
        self._results: dict[int, Any] = {}
        self.status: dict[str, int] = {}
        self.shipped = 0  # requests and counts written to the pipe
        self.alive = True
        # The helper inherits stderr (what it prints before its logging is set up) and nothing
        # else; it ignores SIGINT and SIGTERM (a terminal's Ctrl-C, a process group's stop) and
        # leaves when this end of the pipe closes, once it has written what it holds.
        executable = interpreter()
        if executable is None:
            raise Gone(f"sys.executable ({sys.executable!r}) is not a Python interpreter")
        self.process = subprocess.Popen(
            [executable, "-c", _BOOT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self._to: IO[bytes] = self.process.stdin  # type: ignore[assignment]  # PIPE: never None
        self._from: IO[bytes] = self.process.stdout  # type: ignore[assignment]
        marshal.dump({**config, "path": [p for p in sys.path if isinstance(p, str)]}, self._to)
        self._to.flush()
        self._reader = threading.Thread(
            target=self._read, name=f"wsgi_analytics-offload-{os.getpid()}", daemon=True
        )
        self._reader.start()

    def ship(self, kind: str, items: list[Any]) -> None:
        """Send requests (``"requests"``, `pending.pack` strings) or custom counts; raises
        `Gone` when the helper is not there to take them."""
        with self._lock:
            self._send((kind, items))
            self.shipped += len(items)

    def flush(self, timeout: float) -> None:
        """Ask the helper to write everything it holds; raise what its flush raised."""
        with self._lock:
            self._flushes += 1
            number = self._flushes
            self._send(("flush", number))
        with self._answered:
            if not self._answered.wait_for(
                lambda: number in self._results or not self.alive, timeout
            ):
                raise TimeoutError(f"the offload process did not flush within {timeout:.0f} s")
            if number not in self._results:
                raise Gone("the offload process is gone")
            failed = self._results.pop(number)
        if failed is not None:
            kind, text = failed
            raise _error(kind, text)

    def close(self, timeout: float) -> bool:
        """Ask the helper to write everything and leave; whether it did within ``timeout``."""
        with self._lock:
            if self.alive:
                try:
                    write_frame(self._to, ("close",))
                    self._to.close()
                except (OSError, ValueError):
                    pass
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.error("wsgi_analytics: the offload process did not finish; stopping it")
            self.process.kill()
            self.process.wait()
            return False
        self._reader.join(timeout=1.0)
        return self.process.returncode == 0

    def _send(self, message: Any) -> None:
        """One frame to the helper, with the lock held; `Gone` when it is not there."""
        if not self.alive:
            raise Gone("the offload process is gone")
        try:
            write_frame(self._to, message)
        except (OSError, ValueError) as error:  # a closed pipe
            self._gone()
            raise Gone("the offload process is gone") from error

    def abandon(self) -> None:
        """In a forked child: the pipes belong to the parent's helper; close this copy of them
        without a word to it (the parent still talks to it)."""
        self.alive = False
        for stream in (self._to, self._from):
            with contextlib.suppress(OSError, ValueError):
                os.close(stream.fileno())

    def _read(self) -> None:
        stream = self._from
        try:
            while True:
                message = read_frame(stream)
                if message is None:
                    break
                kind = message[0]
                if kind == "status":
                    self.status = message[1]
                elif kind == "log":
                    logger.log(message[1], "%s", message[2])
                elif kind == "flushed":
                    with self._answered:
                        self._results[message[1]] = message[2]
                        self._answered.notify_all()
        except (OSError, ValueError, EOFError, TypeError):
            pass
        with self._lock:
            was = self.alive
            self._gone()
            for end in (self._to, self._from):
                with contextlib.suppress(OSError, ValueError):
                    end.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=60.0)  # reaped, whichever way it ended
        if was:
            self._on_gone(self)

    def _gone(self) -> None:
        self.alive = False
        with self._answered:
            self._answered.notify_all()


def _error(kind: str, text: str) -> Exception:
    """The helper's flush error as the same kind of exception here: callers (and `not_now`)
    tell an outage from a refusal by its class."""
    import redis

    found = getattr(redis.exceptions, kind, None)
    if isinstance(found, type) and issubclass(found, Exception):
        return found(text)
    return RuntimeError(f"{kind}: {text}")
