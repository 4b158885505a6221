"""Real servers, real workers, real signals: what reached Redis equals what the clients got.

Each case starts gunicorn or uvicorn as a separate process group on a loopback port, with
the sample apps in ``tests/apps`` and a Redis of the test's own, drives requests over HTTP from
threads, restarts or stops the server mid-load with signals, and then compares the counts in
Redis with the responses the clients received: exactly, request for request, per worker pid.

No server hook is configured anywhere: the recorder's ``atexit`` handler and its fork handling
(gunicorn), and the ASGI adapter's flush on lifespan shutdown (uvicorn), are all it takes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis

from wsgi_analytics import ASGIAnalytics, Recorder, Stats
from wsgi_analytics.adapters.asgi import Message, Receive, Send
from wsgi_analytics.embedded import EmbeddedServer

from .helpers import zscores
from .servers import (
    Figures,
    Load,
    ServerProcess,
    children,
    drive,
    figures,
    gunicorn_argv,
    read_counts,
    server_process,
    uvicorn_argv,
)

__all__ = ["figures", "server_process"]  # the fixtures, imported for pytest

# About 2000 requests a case: a third before the restart, a third between restart and stop.
STEP = 700
CEILING = 100 * STEP  # never reached: the clients end when the server is gone
Start = Callable[..., ServerProcess]


def restart_then_stop(server: ServerProcess, workers: int) -> Load:
    """Load the server; after STEP answers SIGHUP it, STEP answers later SIGTERM it. Checks that
    the restart replaced every worker mid-load and that the new ones served."""
    first = server.wait_ready(workers=workers)
    second: set[int] = set()
    load = Load()

    def restart() -> None:
        # Blocks one client thread until the new generation answers; the others keep going.
        server.send(signal.SIGHUP)
        second.update(server.wait_ready(workers=workers, besides=first))
        load.after(STEP, lambda: load.stop(server))

    load.after(STEP, restart)
    drive(server.port, CEILING, load)
    assert server.wait() == 0
    assert len(second) == workers
    assert set(load.served) & second
    return load


def assert_counted_exactly(url: str, load: Load, figures: Figures) -> None:
    """Redis holds one count per answered request: statuses, paths, and per worker pid."""
    figures(
        answered=load.answered,
        failed=load.failed,
        workers=len(load.served),
        counted=sum(read_counts(url, "statuses").values()),
    )
    assert load.answered > 0
    statuses = read_counts(url, "statuses")
    assert statuses == {str(code): count for code, count in load.statuses.items()}
    assert sum(read_counts(url, "paths").values()) == load.statuses[200]
    workers = read_counts(url, "workers")
    assert workers == {str(pid): count for pid, count in load.served.items()}


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def no_tracebacks(log: str) -> None:
    assert "Traceback" not in log, log[-4000:]
    assert "wsgi_analytics" not in log, log[-4000:]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "offload"),
    [
        pytest.param(("-k", "sync"), "0", id="sync"),
        pytest.param(("-k", "sync", "--preload"), "0", id="sync-preload"),
        pytest.param(("-k", "gthread", "--threads", "4"), "0", id="gthread"),
        pytest.param(("-k", "gthread", "--threads", "4", "--preload"), "0", id="gthread-preload"),
        # A helper process per worker, started after the fork; a restart ends the old ones.
        pytest.param(("-k", "sync", "--preload"), "1", id="sync-preload-offload"),
        pytest.param(("-k", "gthread", "--threads", "4"), "1", id="gthread-offload"),
    ],
)
def test_gunicorn_restart_and_stop_mid_load(
    server_process: Start,
    private_server: EmbeddedServer,
    figures: Figures,
    options: tuple[str, ...],
    offload: str,
) -> None:
    server = server_process(
        lambda port: gunicorn_argv(port, "-w", "4", *options),
        private_server.url,
        SAMPLE_OFFLOAD=offload,
    )
    load = restart_then_stop(server, workers=4)
    # The stop came while requests flowed.
    assert 2 * STEP <= load.answered < CEILING
    assert load.failed >= 1
    assert_counted_exactly(private_server.url, load, figures)
    no_tracebacks(server.log())


@pytest.mark.slow
def test_two_hosts_behind_a_load_balancer_share_one_redis(
    server_process: Start, private_server: EmbeddedServer, figures: Figures
) -> None:
    """Two deployments (a gunicorn and a uvicorn, as two hosts would run them) behind a
    round-robin balancer, one Redis: the counts add up, and a visitor seen by both hosts is one
    visitor, because the day's salt for the visitor hash lives in Redis."""
    url = private_server.url
    hosts = [
        server_process(lambda port: gunicorn_argv(port, "-w", "2", "-k", "gthread"), url),
        server_process(lambda port: uvicorn_argv(port, "--workers", "2"), url),
    ]
    for host in hosts:
        host.wait_ready(workers=2)
    load = drive([host.port for host in hosts], 2 * STEP, Load())
    for host in hosts:
        host.send(signal.SIGTERM)
    for host in hosts:
        host.wait()
    assert load.failed == 0
    assert_counted_exactly(url, load, figures)
    with Stats(url) as stats:
        assert stats.total() == 2 * STEP
        assert stats.uniques() == 1  # one client address and agent, whichever host it reached
    for host in hosts:
        no_tracebacks(host.log())


@pytest.mark.slow
def test_gunicorn_max_requests_recycling(
    server_process: Start, private_server: EmbeddedServer, figures: Figures
) -> None:
    """Workers retired by ``--max-requests`` exit like a graceful stop: their counts flush."""
    server = server_process(
        lambda port: gunicorn_argv(port, "-w", "2", "--max-requests", "150"), private_server.url
    )
    server.wait_ready(workers=2)
    load = drive(server.port, 2 * STEP, Load())
    load.stop(server)
    assert server.wait() == 0
    assert load.failed == 0
    assert len(load.served) >= 2 * STEP // 150  # every worker retired several times
    assert_counted_exactly(private_server.url, load, figures)
    no_tracebacks(server.log())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "workers", "stop", "offload"),
    [
        pytest.param(("--lifespan", "on"), 1, signal.SIGTERM, "0", id="single-lifespan-on"),
        pytest.param((), 1, signal.SIGTERM, "0", id="single-lifespan-auto"),
        pytest.param(
            ("--lifespan", "on", "--workers", "2"), 2, signal.SIGTERM, "0", id="workers2-on"
        ),
        pytest.param(
            ("--lifespan", "on", "--workers", "2"), 2, signal.SIGTERM, "1", id="workers2-offload"
        ),
        pytest.param(("--workers", "2"), 2, signal.SIGINT, "0", id="workers2-auto-sigint"),
        # No lifespan, no flush at SIGTERM (see below); Ctrl-C ends with KeyboardInterrupt,
        # so atexit runs.
        pytest.param(("--lifespan", "off"), 1, signal.SIGINT, "0", id="single-lifespan-off-sigint"),
    ],
)
def test_uvicorn_stop_mid_load(
    server_process: Start,
    private_server: EmbeddedServer,
    figures: Figures,
    options: tuple[str, ...],
    workers: int,
    stop: signal.Signals,
    offload: str,
) -> None:
    server = server_process(
        lambda port: uvicorn_argv(port, *options), private_server.url, SAMPLE_OFFLOAD=offload
    )
    server.wait_ready(workers=workers)
    load = Load()
    load.after(2 * STEP, lambda: load.stop(server, stop))
    drive(server.port, CEILING, load)
    server.wait()
    assert 2 * STEP <= load.answered < CEILING
    assert_counted_exactly(private_server.url, load, figures)
    no_tracebacks(server.log())


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        pytest.param(
            lambda port: uvicorn_argv(port, app="sample_django:application"), id="uvicorn"
        ),
        pytest.param(
            lambda port: gunicorn_argv(
                port,
                "-w",
                "2",
                "-k",
                "uvicorn_worker.UvicornWorker",
                app="sample_django:application",
            ),
            id="gunicorn-uvicorn-worker",
        ),
        pytest.param(
            lambda port: uvicorn_argv(port, "--workers", "2", app="sample_fastapi:application"),
            id="fastapi-add-middleware",
        ),
        pytest.param(
            lambda port: uvicorn_argv(port, app="sample_django_native:application"),
            id="django-native-uvicorn",
        ),
        pytest.param(
            lambda port: gunicorn_argv(
                port, "-w", "2", app="sample_django_native:wsgi_application"
            ),
            id="django-native-gunicorn",
        ),
    ],
)
def test_framework_apps_under_uvicorn_flush_at_shutdown(
    server_process: Start,
    private_server: EmbeddedServer,
    figures: Figures,
    argv: Callable[[int], list[str]],
) -> None:
    """Django's ASGI handler raises on the lifespan scope; the middleware then answers the
    lifespan protocol itself, so that the shutdown flush happens under uvicorn all the same.
    FastAPI with ``add_middleware`` passes lifespan through its middleware stack."""
    server = server_process(argv, private_server.url)
    server.wait_ready()
    load = Load()
    load.after(2 * STEP, lambda: load.stop(server))
    drive(server.port, CEILING, load)
    server.wait()
    assert 2 * STEP <= load.answered < CEILING
    assert_counted_exactly(private_server.url, load, figures)
    no_tracebacks(server.log())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("options", "workers"),
    [
        pytest.param(("--lifespan", "off"), 1, id="single"),
        pytest.param(("--lifespan", "off", "--workers", "2"), 2, id="workers2"),
    ],
)
def test_uvicorn_without_lifespan_loses_only_the_unflushed(
    server_process: Start,
    private_server: EmbeddedServer,
    figures: Figures,
    options: tuple[str, ...],
    workers: int,
) -> None:
    """uvicorn ends a SIGTERM shutdown by raising SIGTERM again with its default action, so the
    process dies without running atexit; with ``--lifespan off`` nothing can flush at the end.
    What the background flusher has written (everything older than ``flush_interval``) stays:
    here the traffic pauses until it has caught up, and the stop then loses nothing."""
    server = server_process(lambda port: uvicorn_argv(port, *options), private_server.url)
    server.wait_ready(workers=workers)
    load = drive(server.port, 2 * STEP, Load())
    assert wait_for(lambda: read_counts(private_server.url, "statuses") == {"200": 2 * STEP})
    server.send(signal.SIGTERM)
    server.wait()
    assert load.answered == 2 * STEP
    assert_counted_exactly(private_server.url, load, figures)
    no_tracebacks(server.log())


@pytest.mark.slow
def test_gunicorn_uvicorn_worker(
    server_process: Start, private_server: EmbeddedServer, figures: Figures
) -> None:
    server = server_process(
        lambda port: gunicorn_argv(
            port, "-w", "2", "-k", "uvicorn_worker.UvicornWorker", app="sample_asgi:app"
        ),
        private_server.url,
    )
    load = restart_then_stop(server, workers=2)
    assert_counted_exactly(private_server.url, load, figures)
    no_tracebacks(server.log())


@pytest.mark.slow
def test_sigkill_loses_at_most_the_killed_workers_unflushed_counts(
    server_process: Start, private_server: EmbeddedServer, figures: Figures
) -> None:
    """A SIGKILLed worker loses what it counted since its last flush (at most one
    ``flush_interval`` of its own traffic, plus whatever an outage held back): nothing it had
    flushed, and nothing of the other workers."""
    url = private_server.url
    server = server_process(lambda port: gunicorn_argv(port, "-w", "4", "-k", "sync"), url)
    server.wait_ready(workers=4)
    load = drive(server.port, STEP, Load())
    # The background flushers write everything within a flush interval, with no shutdown.
    assert wait_for(
        lambda: read_counts(url, "workers") == {str(p): n for p, n in load.served.items()}
    )
    flushed = dict(load.served)

    drive(server.port, STEP, load)
    victim = max(children(server.pid), key=lambda pid: load.served[pid] - flushed.get(pid, 0))
    os.kill(victim, signal.SIGKILL)
    drive(server.port, STEP // 2, load)  # the master replaces it; traffic goes on
    load.stop(server)
    assert server.wait() == 0
    assert load.failed == 0

    counted = {int(pid): n for pid, n in read_counts(url, "workers").items()}
    others = {pid: n for pid, n in load.served.items() if pid != victim}
    assert {pid: counted.get(pid, 0) for pid in others} == others
    lost = load.served[victim] - counted.get(victim, 0)
    figures(
        answered=load.answered,
        victim_served=load.served[victim],
        victim_flushed_before=flushed.get(victim, 0),
        victim_counted=counted.get(victim, 0),
        lost=lost,
    )
    assert 0 <= lost <= load.served[victim] - flushed.get(victim, 0)
    statuses = sum(read_counts(url, "statuses").values())
    # The victim's statuses may sit one flush apart from its `workers` count (track() runs in
    # the app, the request is recorded when the body closes).
    assert load.answered - lost - 1 <= statuses <= load.answered - lost + 1
    assert "Traceback" not in server.log()


def test_lifespan_shutdown_flushes_before_it_completes(redis_url: str, client: redis.Redis) -> None:
    """What lets uvicorn stop without losing counts, in process: the recorder is flushed before
    the app's ``lifespan.shutdown.complete`` reaches the server; the messages pass unchanged."""
    recorder = Recorder(redis_url, flush_interval=3600.0)  # only an explicit flush writes
    seen_at_complete: list[dict[str, float]] = []

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "lifespan.startup"
        await send({"type": "lifespan.startup.complete"})
        recorder.track("signups", "alice")
        assert (await receive())["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete", "extra": 1})

    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        if message["type"] == "lifespan.shutdown.complete":
            seen_at_complete.append(zscores(client, "{analytics:signups}:all"))
        sent.append(message)

    try:
        asyncio.run(ASGIAnalytics(app, recorder=recorder)({"type": "lifespan"}, receive, send))
    finally:
        recorder.close()
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete", "extra": 1},
    ]
    assert seen_at_complete == [{"alice": 1.0}]


def lifespan_messages(app: Any) -> list[Message]:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    return sent


def test_an_app_refusing_lifespan_gets_it_answered_and_flushed(
    redis_url: str, client: redis.Redis
) -> None:
    recorder = Recorder(redis_url, flush_interval=3600.0)

    async def django_like(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")

    try:
        recorder.track("signups", "bob")
        sent = lifespan_messages(ASGIAnalytics(django_like, recorder=recorder))
        assert sent == [
            {"type": "lifespan.startup.complete"},
            {"type": "lifespan.shutdown.complete"},
        ]
        assert zscores(client, "{analytics:signups}:all") == {"bob": 1.0}
    finally:
        recorder.close()


def test_a_lifespan_app_that_fails_still_fails(redis_url: str) -> None:
    """An app that read the startup message and then raised keeps its error: only an app that
    never looked at the protocol gets it answered."""
    recorder = Recorder(redis_url, flush_interval=3600.0)
    failure = RuntimeError("database unreachable at startup")

    async def app(scope: Any, receive: Receive, send: Send) -> None:
        await receive()
        raise failure

    try:
        with pytest.raises(RuntimeError) as raised:
            lifespan_messages(ASGIAnalytics(app, recorder=recorder))
        assert raised.value is failure
    finally:
        recorder.close()
