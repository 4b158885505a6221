"""The helper process of an offloaded flusher (`wsgi_analytics.recording.offload`): an ordinary
in-process `Recorder` fed with the worker's queued requests instead of its own.

Started by `offload.Offload` with the worker's interpreter; reads frames on stdin, answers on
the original stdout (anything printed goes to stderr instead, so that it cannot corrupt the
protocol). SIGINT and SIGTERM are ignored: a terminal's Ctrl-C or a supervisor's stop reaches
the whole process group, and the worker, which stops too, still has requests to hand over. The
end of stdin, for whatever reason the worker went away, is the signal to write everything and
leave.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import IO, Any

from .._log import logger
from .offload import read_frame, write_frame
from .pending import Count
from .recorder import Recorder

__all__ = ["main"]


class _Relay(logging.Handler):
    """Hands the helper's log records to the worker, which logs them with its own handlers."""

    def __init__(self, send: Any) -> None:
        super().__init__(logging.INFO)
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # the worker is gone: nothing left to tell
            self._send(("log", record.levelno, self.format(record)))


def main(config: dict[str, Any]) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    answers: IO[bytes] = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    lock = threading.Lock()

    def send(message: Any) -> None:
        # A worker that left first (it does not wait for the last status) is not an error.
        with lock, contextlib.suppress(OSError, ValueError):
            write_frame(answers, message)

    logger.addHandler(_Relay(send))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    recorder = Recorder(config["redis_url"], offload=False, **config["options"])
    stopped = threading.Event()

    def status() -> None:
        send(("status", recorder._offload_status()))

    def report() -> None:
        # While Redis is away the held counts change without a frame coming in.
        while not stopped.wait(recorder.flush_interval):
            status()

    threading.Thread(target=report, name="wsgi_analytics-offload-status", daemon=True).start()
    inbox = sys.stdin.buffer
    try:
        while True:
            message = read_frame(inbox)
            if message is None or message[0] == "close":
                break
            kind = message[0]
            if kind == "requests":
                recorder._take_in(message[1])
            elif kind == "counts":
                for item in message[1]:
                    recorder._take_in_count(Count(*item))
            elif kind == "flush":
                error = None
                try:
                    recorder.flush()
                except Exception as failure:
                    error = (type(failure).__name__, str(failure))
                send(("flushed", message[1], error))
            status()
    finally:
        stopped.set()
        recorder.close()
        status()
        with contextlib.suppress(OSError):
            answers.close()
