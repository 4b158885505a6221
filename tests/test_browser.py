"""End to end in a real browser: `wsgi-analytics dashboard` served by uvicorn in its own
process, loaded by headless Chromium at a phone's width and a desktop's; the rendered page must
hold the chart and the tables, fit the screen without scrolling sideways, and keep its chart
labels apart. Screenshots are kept in test-artifacts/ for a human to look at."""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from wsgi_analytics.cli import main
from wsgi_analytics.embedded import free_port

from .browser import CHROMIUM, Browser

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium)"
    ),
]

# What the page looks like once loaded, measured in the page (DevTools evaluation, not a page
# script: the page's CSP allows none).
MEASURE = """JSON.stringify((() => {
  const visible = [...document.querySelectorAll('#traffic-chart svg')]
    .filter(svg => getComputedStyle(svg).display !== 'none');
  const labels = visible.length ? [...visible[0].querySelectorAll('text.x')]
    .map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right, t.textContent]; })
    : [];
  const svg = visible.length ? visible[0].getBoundingClientRect() : null;
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: innerWidth,
    charts: visible.map(svg => svg.getAttribute('class')),
    chartWidth: svg ? svg.width : 0,
    bars: visible.length ? visible[0].querySelectorAll('rect.bar').length : 0,
    labels: labels,
    fontPx: visible.length
      ? visible[0].querySelector('text.axis').getBoundingClientRect().height : 0,
    tables: [...document.querySelectorAll('article[id^=dim-] table')]
      .map(t => t.closest('article').id),
    overflowing: [...document.querySelectorAll('main *')]
      .filter(e => e.getBoundingClientRect().right > innerWidth + 0.5 && !e.closest('.scroll'))
      .map(e => e.tagName + '.' + e.className).slice(0, 5),
  };
})())"""


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


@pytest.fixture(scope="module")
def dashboard_url(redis_url: str) -> Iterator[str]:
    """The demo's traffic in Redis and `wsgi-analytics dashboard` serving it."""
    redis.Redis.from_url(redis_url).flushdb()
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


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


def measure(browser: Browser, url: str, width: int, shot: Path) -> dict[str, Any]:
    browser.open(url, width)
    found: dict[str, Any] = json.loads(browser.evaluate(MEASURE))
    browser.screenshot(shot)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / shot.name).write_bytes(shot.read_bytes())
    return found


def assert_fits(found: dict[str, Any]) -> None:
    assert found["scrollWidth"] <= found["innerWidth"], found["overflowing"]
    assert found["overflowing"] == []
    spans = sorted((left, right) for left, right, _ in found["labels"])
    for (_, right), (left, _) in itertools.pairwise(spans):
        assert right + 2 <= left, found["labels"]  # x labels never touch
    assert 9.5 <= found["fontPx"] <= 20  # readable at every width


@pytest.mark.parametrize(
    ("width", "drawing"),
    [
        pytest.param(360, "chart chart-narrow", id="phone 360"),
        pytest.param(420, "chart chart-narrow", id="phone 420"),
        pytest.param(768, "chart chart-medium", id="tablet 768"),
        pytest.param(1400, "chart chart-wide", id="desktop 1400"),
        pytest.param(1600, "chart chart-wide", id="desktop 1600"),
    ],
)
def test_30_days_fit_every_width(
    dashboard_url: str, browser: Browser, tmp_path: Path, width: int, drawing: str
) -> None:
    shot = tmp_path / f"dashboard-30-days-{width}.png"
    found = measure(browser, f"{dashboard_url}?days=30", width, shot)
    assert found["charts"] == [drawing]  # exactly one drawing shown
    assert found["bars"] == 30  # today and 29 simulated days
    for name in ("paths", "referrers", "browsers", "platforms", "devices", "bots"):
        assert f"dim-{name}" in found["tables"]
    assert_fits(found)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one


@pytest.mark.parametrize("width", [360, 1400])
def test_today_and_one_table_fit(
    dashboard_url: str, browser: Browser, tmp_path: Path, width: int
) -> None:
    today = measure(browser, dashboard_url, width, tmp_path / f"dashboard-today-{width}.png")
    assert today["bars"] >= 1
    assert_fits(today)
    table = measure(
        browser,
        f"{dashboard_url}?days=30&dimension=paths",
        width,
        tmp_path / f"dashboard-pages-{width}.png",
    )
    assert table["tables"] == ["dim-paths"]
    assert table["scrollWidth"] <= table["innerWidth"], table["overflowing"]


@pytest.mark.parametrize("width", [360, 1400])
def test_filtered_page_fits(
    dashboard_url: str, browser: Browser, tmp_path: Path, width: int
) -> None:
    found = measure(
        browser,
        f"{dashboard_url}?days=30&where=sources%3AHacker+News",
        width,
        tmp_path / f"dashboard-filtered-{width}.png",
    )
    assert found["bars"] >= 1
    assert {"dim-paths", "dim-sources", "dim-countries"} <= set(found["tables"])
    assert "dim-bots" not in found["tables"]  # requests are not filtered
    assert browser.evaluate("document.querySelector('p.filter a.clear').textContent") == (
        "\u00d7 clear filter"
    )
    assert_fits(found)
