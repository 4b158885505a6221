"""Small helpers shared by the benchmark scripts: a Redis server, medians, tables, JSON."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from wsgi_analytics.embedded import EmbeddedServer

__all__ = [
    "RESULTS",
    "drive_wsgi",
    "machine",
    "median",
    "redis_server",
    "table",
    "write_json",
]

# BENCH_RESULTS moves every result file (the smoke test writes to a temporary directory).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


@contextlib.contextmanager
def redis_server(url: str | None = None) -> Iterator[str]:
    """``url`` when given (or ``BENCH_REDIS_URL``), else a private server for the duration."""
    configured = url or os.environ.get("BENCH_REDIS_URL")
    if configured:
        yield configured
        return
    with EmbeddedServer(prefer="redis-server") as server:
        yield server.url


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def drive_wsgi(app: Any, environs: Iterable[dict[str, Any]]) -> None:
    """Call a WSGI app with each environ, its body iterated and closed as a server does."""
    start_response = _start_response
    for environ in environs:
        body: Iterable[bytes] = app(environ, start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table (it reads fine in a terminal too)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def machine() -> dict[str, Any]:
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_json(name: str, data: dict[str, Any], directory: Path = RESULTS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path
