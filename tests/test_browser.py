"""End to end in a real browser: `wsgi-analytics dashboard` served by uvicorn in its own
process, loaded by headless Chromium; the rendered DOM must hold the chart and the tables, and
a screenshot is kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from wsgi_analytics.cli import main
from wsgi_analytics.embedded import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
    ),
]


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dashboard exited: {process.communicate()[1]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"dashboard did not listen on {port}")


@pytest.fixture
def dashboard_url(client: redis.Redis, redis_url: str) -> Iterator[str]:
    """The demo's traffic in Redis and `wsgi-analytics dashboard` serving it."""
    assert main(["demo", "--redis-url", redis_url, "--no-serve", "--requests", "600"]) == 0
    port = free_port()
    command = [sys.executable, "-m", "wsgi_analytics", "dashboard", "--redis-url", redis_url]
    command += ["--prefix", "demo", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for_port(port, process)
        yield f"http://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.communicate(timeout=30)


def chromium(url: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
        *args,
        url,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_dashboard_renders_in_chromium(
    dashboard_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()  # the demo's report
    dom = chromium(f"{dashboard_url}?days=30", tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr
    html = dom.stdout
    assert '<svg id="traffic-chart"' in html
    assert html.count('<rect class="bar"') == 30  # today and 29 simulated days
    for name in ("paths", "referrers", "browsers", "platforms", "devices", "bots"):
        assert f'id="dim-{name}"' in html
    assert "/blog/hello-world/" in html
    assert 'class="on">30 days</a>' in html

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    done = chromium(f"{dashboard_url}?days=30", tmp_path / "profile", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
