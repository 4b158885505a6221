"""Real server processes for the deployment tests: gunicorn, uvicorn, and a load driver.

Each server runs in its own process group (so a stop reaches every worker), on a free loopback
port, with its output in a log file the test can read. `ServerProcess.close` kills whatever is
left, so a failing test never leaves a process behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence, Set
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from wsgi_analytics.embedded import free_port

from .helpers import zscores

__all__ = [
    "APPS",
    "Figures",
    "Load",
    "ServerProcess",
    "children",
    "drive",
    "figures",
    "gunicorn_argv",
    "read_counts",
    "server_process",
    "uvicorn_argv",
]

APPS = Path(__file__).parent / "apps"
_BIN = Path(sys.executable).parent
# A browser agent: every 200 is a page view (not a bot; the sample pages are HTML documents),
# so `paths` counts each one.
AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)


def gunicorn_argv(port: int, *args: str, app: str = "sample_wsgi:application") -> list[str]:
    return [
        str(_BIN / "gunicorn"),
        "--bind", f"127.0.0.1:{port}",
        "--chdir", str(APPS),
        "--graceful-timeout", "20",
        "--log-level", "info",
        *args,
        app,
    ]  # fmt: skip


def uvicorn_argv(port: int, *args: str, app: str = "sample_asgi:app") -> list[str]:
    return [
        str(_BIN / "uvicorn"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--app-dir", str(APPS),
        "--no-access-log",
        *args,
        app,
    ]  # fmt: skip


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc), e.g. a master's workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


class ServerProcess:
    """One server command in its own process group on ``127.0.0.1:port``."""

    def __init__(self, argv: Sequence[str], port: int, env: dict[str, str], log_path: Path) -> None:
        self.argv = list(argv)
        self.port = port
        self.env = env
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            self.argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(
        self, workers: int = 1, timeout: float = 30.0, *, besides: Set[int] = frozenset()
    ) -> set[int]:
        """Wait until ``/_ready`` (served outside the middleware) has answered from ``workers``
        distinct processes not in ``besides`` (the workers before a restart); returns them."""
        seen: set[int] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.log()}")
            try:
                pid = int(_get(self.port, "/_ready")[1])
                if pid not in besides:
                    seen.add(pid)
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.05)
                continue
            if len(seen) >= workers:
                return seen
        raise RuntimeError(f"server not ready after {timeout}s ({seen}):\n{self.log()}")

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout)

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        """Kill anything left in the process group and release the log."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._log.close()


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """``start(argv_factory, redis_url, **env)``: a server on a free port, closed at teardown."""
    started: list[ServerProcess] = []

    def start(argv: Callable[[int], list[str]], redis_url: str, **extra: str) -> ServerProcess:
        port = free_port()
        env = {
            **os.environ,
            "WSGI_ANALYTICS_REDIS_URL": redis_url,
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
        server = ServerProcess(argv(port), port, env, tmp_path / f"server-{len(started)}.log")
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def _get(port: int, path: str, agent: str = AGENT) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"User-Agent": agent, "Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


@dataclass
class Load:
    """What the clients saw: responses per serving pid and per status, and requests that got
    none. `after` schedules an action (a signal to the server) a number of answers from now."""

    served: Counter[int] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failed: int = 0
    stopping: bool = False
    halted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    actions: list[tuple[int, Callable[[], None]]] = field(default_factory=list)

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    def after(self, answers: int, action: Callable[[], None]) -> None:
        with self.lock:
            self.actions.append((self.answered + answers, action))

    def stop(self, server: ServerProcess, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal the server to stop; clients then end at their first unanswered request."""
        self.stopping = True
        server.send(sig)


def drive(
    port: int | Sequence[int],
    requests: int,
    load: Load,
    *,
    threads: int = 8,
    path: str = "/page/",
    pace: float = 0.0,
) -> Load:
    """Send up to ``requests`` GETs (one connection each) from ``threads`` threads.

    Actions scheduled with `Load.after` run in the client thread that reached their mark (so
    an action may block that thread: the others keep going). A request without a response
    counts as failed; once `Load.stop` was called, a thread ends at its first failure. Setting
    ``load.halted`` ends every thread after its current request; ``pace`` is a pause after each.
    Several ports take turns, as hosts behind a round-robin load balancer would.
    """
    ports = [port] if isinstance(port, int) else list(port)
    tickets = iter(range(requests))
    ticket_lock = threading.Lock()

    def worker() -> None:
        while True:
            with ticket_lock:
                number = next(tickets, None)
            if number is None or load.halted:
                return
            try:
                status, body = _get(ports[number % len(ports)], f"{path}{number % 10}")
            except (OSError, http.client.HTTPException):
                with load.lock:
                    load.failed += 1
                if load.stopping:
                    return
                continue
            with load.lock:
                load.statuses[status] += 1
                if status == 200:
                    load.served[int(body)] += 1
                answered = load.answered
                due = [action for mark, action in load.actions if answered >= mark]
                load.actions = [(m, a) for m, a in load.actions if answered < m]
            for action in due:
                action()
            if pace:
                time.sleep(pace)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return load


Figures = Callable[..., None]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Figures:
    """``figures(answered=..., counted=...)``: measured numbers, printed (see them with
    ``pytest -rP``) and kept in the test's ``user_properties``, for the README and notes."""

    def note(**values: object) -> None:
        request.node.user_properties.extend(values.items())
        print("figures:", request.node.name, " ".join(f"{k}={v}" for k, v in values.items()))

    return note


def read_counts(url: str, dimension: str, prefix: str = "analytics") -> dict[str, int]:
    """All-time counts of one dimension, read with a plain ``ZRANGE ... WITHSCORES``."""
    connection = redis.Redis.from_url(url, decode_responses=True)
    try:
        return {
            member: int(score)
            for member, score in zscores(connection, f"{{{prefix}:{dimension}}}:all").items()
        }
    finally:
        connection.close()
