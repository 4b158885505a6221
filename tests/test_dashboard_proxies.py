"""The dashboard behind real forwarders on the same host: nginx with a bare ``proxy_pass`` and
socat as a raw TCP forwarder, in front of `wsgi-analytics dashboard` on loopback (which trusts
local requests) and of ``uvicorn --factory wsgi_analytics.dashboard:app`` (which does not).

Whatever a forwarder on this host passes on arrives from 127.0.0.1. nginx still leaves a trace
(by default it speaks HTTP/1.0 upstream; usual configs add X-Forwarded-For); socat leaves none,
so with local trust on and no secret what it forwards gets in: the residual risk the README
states. A token closes it, and nginx's access log keeps the token in one line only.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from wsgi_analytics.dashboard.access import SESSION_COOKIE
from wsgi_analytics.embedded import free_port
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.request.facts import from_environ

from .servers import ServerProcess

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or (
    "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None
)
SOCAT = shutil.which("socat")
TOKEN = "proxy-test-token"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
_BIN = Path(sys.executable).parent

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt install nginx)")
needs_socat = pytest.mark.skipif(SOCAT is None, reason="socat is not installed (apt install socat)")

Start = Callable[..., int]


@pytest.fixture
def recorded(client: redis.Redis, redis_url: str) -> str:
    """Three page views today."""
    recorder = Recorder(redis_url)
    for _ in range(3):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "HTTP_HOST": "example.org",
            "HTTP_USER_AGENT": FIREFOX,
            "REMOTE_ADDR": "203.0.113.9",
        }
        recorder.record(from_environ(environ), 200)
    recorder.close()
    return redis_url


def wait_for_port(port: int, process: ServerProcess, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.process.poll() is not None:
            raise AssertionError(f"{process.argv[0]} exited at start:\n{process.log()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on {port}:\n{process.log()}")


@pytest.fixture
def start(tmp_path: Path, recorded: str) -> Iterator[Start]:
    """``start(argv_for_port)``: a process on a free loopback port (ready when it listens),
    killed with its process group at teardown; returns the port."""
    started: list[ServerProcess] = []
    env = {**os.environ, "WSGI_ANALYTICS_REDIS_URL": recorded, "PYTHONUNBUFFERED": "1"}

    def run(argv: Callable[[int], list[str]]) -> int:
        port = free_port()
        process = ServerProcess(argv(port), port, env, tmp_path / f"process-{len(started)}.log")
        started.append(process)
        wait_for_port(port, process)
        return port

    yield run
    for process in started:
        process.close()


def cli_dashboard(*options: str) -> Callable[[int], list[str]]:
    """`wsgi-analytics dashboard` on 127.0.0.1: the CLI turns local trust on for that bind."""
    command = [sys.executable, "-m", "wsgi_analytics", "dashboard", "--host", "127.0.0.1"]
    return lambda port: [*command, "--port", str(port), *options]


def factory_dashboard(port: int) -> list[str]:
    """The app as a deployment would run it: defaults, so no local trust and no secret."""
    return [
        str(_BIN / "uvicorn"), "--factory", "wsgi_analytics.dashboard:app",
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log",
    ]  # fmt: skip


def nginx(tmp_path: Path, upstream: int, *directives: str) -> Callable[[int], list[str]]:
    """nginx in the foreground, one process, everything under ``tmp_path``: no root paths."""
    assert NGINX is not None
    home = tmp_path / f"nginx-{upstream}"
    home.mkdir()

    def argv(port: int) -> list[str]:
        extra = "".join(f"{directive}; " for directive in directives)
        (home / "nginx.conf").write_text(
            f"""
daemon off;
master_process off;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log {home}/access.log;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ {extra}proxy_pass http://127.0.0.1:{upstream}; }}
    }}
}}
"""
        )
        return [
            NGINX,
            "-p",
            str(home),
            "-c",
            str(home / "nginx.conf"),
            "-e",
            str(home / "error.log"),
        ]

    return argv


def socat(upstream: int) -> Callable[[int], list[str]]:
    assert SOCAT is not None
    return lambda port: [
        SOCAT, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", f"TCP:127.0.0.1:{upstream}",
    ]  # fmt: skip


def get(port: int, path: str = "/", **headers: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{port}{path}", headers=headers, timeout=5)


@needs_nginx
def test_nginx_bare_proxy_pass_with_a_token(start: Start, tmp_path: Path) -> None:
    # The case: the local check ran first, so nginx made a token-protected page open.
    dashboard = start(cli_dashboard("--token", TOKEN))
    front = start(nginx(tmp_path, dashboard))
    assert get(dashboard).status_code == 401  # local, but a token is configured: needed
    refused = get(front)
    assert refused.status_code == 401
    assert "Pages" not in refused.text
    assert refused.headers["cache-control"] == "no-store"
    with httpx.Client(base_url=f"http://127.0.0.1:{front}", timeout=5) as browser:
        signed_in = browser.get(f"/?days=7&token={TOKEN}")
        assert signed_in.status_code == 303
        assert signed_in.headers["location"] == "/?days=7"
        assert SESSION_COOKIE in browser.cookies
        assert browser.get("/?days=7").status_code == 200
        assert browser.get("/api.json").json()["page_views"] == 3
    # nginx writes a request's log line once the response has gone: the last may lag a little.
    path = tmp_path / f"nginx-{dashboard}" / "access.log"
    deadline = time.monotonic() + 5
    while len(log := path.read_text().splitlines()) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(log) == 4
    assert sum(TOKEN in line for line in log) == 1  # the sign-in request only


@needs_nginx
@pytest.mark.parametrize(
    "directives",
    [
        pytest.param((), id="bare proxy_pass"),  # HTTP/1.0 upstream, no header added
        pytest.param(
            ("proxy_http_version 1.1", "proxy_set_header X-Forwarded-For $remote_addr"),
            id="usual headers",
        ),
        pytest.param(
            ("proxy_http_version 1.1", "proxy_set_header X-Real-IP $remote_addr"),
            id="x-real-ip",
        ),
    ],
)
def test_nginx_is_not_local(start: Start, tmp_path: Path, directives: tuple[str, ...]) -> None:
    dashboard = start(cli_dashboard())
    front = start(nginx(tmp_path, dashboard, *directives))
    assert get(dashboard).status_code == 200  # the CLI trusts local requests on loopback
    refused = get(front)
    assert refused.status_code == 403
    assert "local requests only" in refused.text
    assert "default-src 'none'" in refused.headers["content-security-policy"]


@needs_socat
def test_socat_forwarding_needs_a_token(start: Start) -> None:
    dashboard = start(cli_dashboard("--token", TOKEN))
    front = start(socat(dashboard))
    assert get(front).status_code == 401
    assert get(front, Authorization=f"Bearer {TOKEN}").status_code == 200


@needs_socat
def test_socat_leaves_no_trace(start: Start) -> None:
    # The residual risk, shown: a raw TCP forwarder is indistinguishable from a local client,
    # so with local trust on and no secret, what it forwards gets in (README, Security)...
    trusting = start(cli_dashboard())
    assert get(start(socat(trusting))).status_code == 200
    # ...which is why local trust is opt-in: the app's defaults refuse the same request.
    closed = start(factory_dashboard)
    assert get(closed).status_code == 403
    assert get(start(socat(closed))).status_code == 403
