"""Run every benchmark, print their tables and a summary against the goals, write JSON.

    nox -s bench                      # the documented way: installs what is needed, then this
    python -m benchmarks [--quick] [--only inprocess,agents,...] [--skip http,...]

Each benchmark runs in its own process (``python -m benchmarks.<name>``), prints its table and
writes ``benchmarks/results/<name>.json``; this runner adds ``benchmarks/results/summary.json``.
``--quick`` runs everything on a tiny input (the test suite's smoke run): its numbers mean
nothing. Benchmarks written by others (``bench_throttle``, ``bench_read``) are run when present.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ._util import RESULTS, machine, table

__all__ = ["main"]

ROOT = Path(__file__).resolve().parent.parent
# name -> (full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[list[str], list[str]]] = {
    "inprocess": (["--rounds", "7"], ["--requests", "200", "--rounds", "1"]),
    "agents": ([], ["--agents", "50", "--basic-agents", "5", "--rounds", "1"]),
    "redis": ([], ["--rates", "200", "--intervals", "1", "--flushes", "1"]),
    "http": (
        ["--rounds", "7", "--duration", "3", "--decompose"],
        ["--rounds", "1", "--duration", "1", "--decompose"],
    ),
    "memory": ([], ["--requests", "3000", "--paths", "500"]),
    "throttle": ([], ["--quick"]),
    "read": ([], ["--quick"]),
}


def _present(name: str) -> bool:
    return importlib.util.find_spec(f"benchmarks.bench_{name}") is not None


def _load(name: str, results: Path) -> dict[str, Any] | None:
    path = results / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data


def _goal(value: float | None, goal: float, *, at_most: bool) -> str:
    if value is None or value != value:
        return "-"
    met = value <= goal if at_most else value >= goal
    return "met" if met else "not met"


def summary(results: Path = RESULTS) -> tuple[str, dict[str, Any]]:
    """The goals table from whatever result files exist."""
    rows: list[tuple[str, str, str, str]] = []
    found: dict[str, Any] = {}
    inprocess = _load("inprocess", results)
    if inprocess:
        for protocol in ("wsgi", "asgi"):
            r = inprocess["results"][protocol]["wrapped"]
            value = r["added_us"]
            found[f"{protocol}_added_us"] = value
            rows.append(
                (
                    f"in-process added µs/request, {protocol.upper()}, cached agent "
                    f"(request path {r['request_path_us']:.2f} + flusher {r['flush_us']:.2f})",
                    f"{value:.2f}",
                    "≤ 5",
                    _goal(value, 5, at_most=True),
                )
            )
    http = _load("http", results)
    if http:
        for server, goal in (("uvicorn", 0.90), ("gunicorn", 0.97)):
            if server not in http["results"]:
                continue
            r = http["results"][server]
            ratio = r["wrapped"]["ratio"]
            found[f"{server}_ratio"] = ratio
            rows.append(
                (
                    f"HTTP throughput wrapped/bare, {server} "
                    f"({r['bare']['requests_per_s']:,.0f} → {r['wrapped']['requests_per_s']:,.0f}"
                    f" req/s; naive {r['naive']['ratio']:.2f})",
                    f"{ratio:.3f}",
                    f"≥ {goal:.2f}",
                    _goal(ratio, goal, at_most=False),
                )
            )
            wrapped = r["wrapped"]
            per_request = wrapped["redis_commands_per_request"]
            run_inside = wrapped.get("redis_executed_per_request", float("nan"))
            redis_cpu = wrapped.get("redis_cpu_us_per_request", float("nan"))
            rows.append(
                (
                    f"Redis commands sent/request during the {server} run (run inside Redis "
                    f"{run_inside:.3f}, Redis CPU {redis_cpu:.2f} µs/request)",
                    f"{per_request:.4f}",
                    "≤ 0.02",
                    _goal(per_request, 0.02, at_most=True),
                )
            )
    redis_load = _load("redis", results)
    if redis_load:
        rows.extend(
            (
                f"Redis commands sent/request at {r['rate_per_s']:,} req/s per process, "
                f"{r['flush_interval_s']:g} s flushes (run {r['executed_per_request']:.3f}, "
                f"{r['bytes_in_per_flush']:,.0f} bytes/flush)",
                f"{r['commands_per_request']:.4f}",
                "≤ 0.02",
                _goal(r["commands_per_request"], 0.02, at_most=True),
            )
            for r in redis_load["results"]
        )
    agents = _load("agents", results)
    if agents:
        for name, r in agents["results"].items():
            limit = "≤ 30" if name == "ua-parser-rs" else ""
            rows.append(
                (
                    f"uncached agent µs, {name} (cached {r['cached_us']:.2f})",
                    f"{r['uncached_us']:.1f}",
                    limit,
                    _goal(r["uncached_us"], 30, at_most=True) if limit else "",
                )
            )
    memory = _load("memory", results)
    if memory:
        for name, r in memory["results"].items():
            rows.append(
                (
                    f"RSS MB after {r['requests']:,} requests over {r['distinct_paths']:,} paths, "
                    f"{name} ({r['pending_members']:,} members pending)",
                    f"{r['rss_after_mb']:.0f}",
                    "",
                    "",
                )
            )
    return table(("measure", "value", "goal", "status"), rows), found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny inputs: a smoke run")
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    skipped = set(filter(None, args.skip.split(",")))
    env = {**os.environ, "BENCH_RESULTS": str(args.results)}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    args.results.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    failed: list[str] = []
    for name in names:
        if name in skipped or name not in BENCHMARKS or not _present(name):
            continue
        full, quick = BENCHMARKS[name]
        print(f"\n## {name}\n", flush=True)
        start = time.monotonic()
        code = subprocess.call(
            [sys.executable, "-m", f"benchmarks.bench_{name}", *(quick if args.quick else full)],
            cwd=ROOT,
            env=env,
        )
        timings[name] = time.monotonic() - start
        if code:
            failed.append(name)
    text, found = summary(args.results)
    print("\n## summary\n")
    print(text)
    out = args.results / "summary.json"
    out.write_text(
        json.dumps(
            {
                "machine": machine(),
                "quick": args.quick,
                "seconds": timings,
                "goals": found,
                "failed": failed,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten: {out}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
