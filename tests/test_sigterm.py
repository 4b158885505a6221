"""SIGTERM under servers without a handler of their own: the final flush still runs.

Python's default action for SIGTERM ends the process without ``atexit``. The first recorder made
in the main thread, while SIGTERM still has that default action, turns it into a normal exit
(status 143), so `Recorder.close` runs at exit. Servers with their own handler (gunicorn,
uvicorn) keep it: their stop paths are tested in test_servers.
"""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from .servers import APPS, Load, ServerProcess, drive, read_counts, server_process

__all__ = ["server_process"]

_BIN = Path(sys.executable).parent
REQUESTS = 60

APP = str(APPS / "sigterm_wsgi.py")


def plain(server: str) -> Callable[[int], list[str]]:
    return lambda port: [sys.executable, APP, server, str(port)]


def flask_run(port: int) -> list[str]:
    return [str(_BIN / "flask"), "--app", f"{APP}:flask_app", "run", "--port", str(port)]


SERVERS = [
    pytest.param(plain("wsgiref"), id="python app.py (wsgiref)"),
    pytest.param(plain("waitress"), id="python app.py (waitress)"),
    pytest.param(flask_run, id="flask run"),
]


@pytest.mark.slow
@pytest.mark.parametrize("argv", SERVERS)
def test_sigterm_right_after_traffic_loses_nothing(
    server_process: Callable[..., ServerProcess],
    redis_url: str,
    client: redis.Redis,
    argv: Callable[[int], list[str]],
) -> None:
    server = server_process(argv, redis_url, SAMPLE_FLUSH_INTERVAL="3600")
    server.wait_ready()
    load = drive(server.port, REQUESTS, Load(), threads=4)
    assert load.statuses == {200: REQUESTS}
    # A response reaches the client a moment before the server's thread closes the body (where
    # it is counted); these servers' request threads are daemons that exit does not wait for.
    time.sleep(0.2)
    server.send(signal.SIGTERM)
    # 143 (128 + SIGTERM); waitress catches the SystemExit, shuts down and returns: 0.
    assert server.wait(20) in (0, 128 + signal.SIGTERM), server.log()
    assert read_counts(redis_url, "statuses") == {"200": REQUESTS}, server.log()
    assert "Traceback" not in server.log()


HANDLERS = """
import signal, sys, threading
from wsgi_analytics import Recorder

def mine(signum, frame):
    pass

case = sys.argv[1]
if case == "own handler":
    signal.signal(signal.SIGTERM, mine)
    Recorder("redis://127.0.0.1:1/0")
    print(signal.getsignal(signal.SIGTERM) is mine)
elif case == "ignored":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    Recorder("redis://127.0.0.1:1/0")
    print(signal.getsignal(signal.SIGTERM) is signal.SIG_IGN)
elif case == "other thread":
    made = threading.Thread(target=Recorder, args=("redis://127.0.0.1:1/0",))
    made.start()
    made.join()
    print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
"""


@pytest.mark.parametrize("case", ["own handler", "ignored", "other thread"])
def test_a_handler_set_by_someone_else_is_kept(case: str) -> None:
    """A server's own handler (or SIG_IGN) stays; a recorder made outside the main thread
    cannot set one and leaves SIGTERM alone."""
    done = subprocess.run(
        [sys.executable, "-c", HANDLERS, case], capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "True", done.stderr


def test_the_default_action_becomes_a_normal_exit() -> None:
    """SIGTERM on a process that only made a recorder: exit status 143, through ``atexit``."""
    script = (
        "import atexit, os, signal, time\n"
        "from wsgi_analytics import Recorder\n"
        "Recorder('redis://127.0.0.1:1/0')\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "time.sleep(10)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 128 + signal.SIGTERM, done.stderr
    assert done.stdout.strip() == "atexit ran"


def _make_a_recorder_and_wait(ready: Any) -> None:
    from wsgi_analytics import Recorder

    Recorder("redis://127.0.0.1:1/0")
    ready.set()
    time.sleep(60)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_multiprocessing_child_is_ended_by_sigterm(method: str) -> None:
    """A multiprocessing child never runs atexit (it leaves through os._exit), so SIGTERM keeps
    its default action there: a pool's terminate() must not meet a SystemExit raised wherever
    the worker was waiting."""
    context: Any = multiprocessing.get_context(method)  # its Process per start method
    ready = context.Event()
    child = context.Process(target=_make_a_recorder_and_wait, args=(ready,))
    child.start()
    try:
        assert ready.wait(60)
        child.terminate()
        child.join(60)
        assert child.exitcode == -signal.SIGTERM
    finally:
        if child.is_alive():
            child.kill()
