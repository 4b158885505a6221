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
    "inprocess": (["--rounds", "7"], ["--quick"]),
    "agents": ([], ["--agents", "50", "--basic-agents", "5", "--rounds", "1"]),
    "redis": ([], ["--rates", "200", "--intervals", "1", "--flushes", "1"]),
    "http": (
        ["--rounds", "7", "--duration", "3", "--decompose"],
        # quick: the raw apps only (the peers' servers are slow to start; a smoke run)
        ["--rounds", "1", "--duration", "1", "--warmup", "0", "--servers", "uvicorn,gunicorn"],
    ),
    "memory": ([], ["--requests", "3000", "--paths", "500", "--parallel"]),
    "gc": ([], ["--requests", "400", "--flush-every", "200"]),
    "latency": ([], ["--quick"]),
    # per-call costs of the pure lookups each feature adds (what each feature costs)
    "pure": ([], ["--number", "2000"]),
    "lookups": ([], ["--calls", "2000", "--rounds", "1"]),
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


# The table's columns: (heading, the variant each benchmark calls it). The "Prometheus"
# column is prometheus-fastapi-instrumentator on FastAPI and prometheus-flask-exporter on Flask.
COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bare", ("bare",)),
    ("wsgi_analytics", ("wrapped",)),
    ("ours, offload=True", ("offload",)),
    ("naive", ("naive",)),
    ("Prometheus", ("prometheus", "flask_exporter")),
    ("starlette_exporter", ("starlette_exporter",)),
    ("OpenTelemetry", ("opentelemetry",)),
    ("limits", ("limits",)),
)
_NAN = float("nan")


OURS = ("wrapped", "offload")


def _ours(variants: dict[str, Any]) -> list[Any]:
    """Our results in both modes (a goal is met when either mode meets it)."""
    return [variants[name] for name in OURS if name in variants]


def _pick(variants: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in variants:
            return variants[name]
    return None


def _fmt(value: float, digits: int = 2) -> str:
    if value != value:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


Row = tuple[str, ...]


def _inprocess_rows(data: dict[str, Any], found: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    labels = {"wsgi": "WSGI", "asgi": "ASGI", "fastapi": "FastAPI", "flask": "Flask"}
    for kind, variants in data["results"].items():
        cells = []
        for heading, names in COLUMNS:
            r = _pick(variants, names)
            if r is None:
                cells.append("")
            elif heading == "bare":
                cells.append(f"{_fmt(r['us_per_request'])} µs")
            else:
                cells.append(f"+{_fmt(r['added_us'])}")
        value = min((r["added_us"] for r in _ours(variants)), default=_NAN)
        found[f"{kind}_added_us"] = value
        goal = "≤ 5" if kind in ("wsgi", "asgi") else "lowest"
        if kind in ("wsgi", "asgi"):
            status = _goal(value, 5, at_most=True)
        else:
            others = [
                r["added_us"]
                for n, r in variants.items()
                if n not in ("bare", *OURS) and not n.startswith("wrapped:")
            ]
            status = _goal(value, min(others), at_most=True) if others else "-"
        name = f"in-process µs added per request, {labels.get(kind, kind)}"
        rows.append((name, *cells, goal, status))
        for label, r in variants.items():
            if label.startswith("wrapped:"):
                rows.append(
                    (
                        f"  ours with {label.partition(':')[2]}, {labels.get(kind, kind)}",
                        "",
                        f"+{_fmt(r['added_us'])}",
                        *[""] * (len(COLUMNS) - 2),
                        "",
                        "",
                    )
                )
    return rows


def _http_rows(data: dict[str, Any], found: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    goals = {"uvicorn": 0.90, "uvicorn-fastapi": 0.90, "gunicorn": 0.97, "gunicorn-flask": 0.97}
    labels = {
        "uvicorn": "uvicorn -w1, raw ASGI",
        "uvicorn-fastapi": "uvicorn -w1, FastAPI",
        "gunicorn": "gunicorn -w2 sync, raw WSGI",
        "gunicorn-flask": "gunicorn -w2 sync, Flask",
    }
    for setup, variants in data["results"].items():
        cells = []
        for heading, names in COLUMNS:
            r = _pick(variants, names)
            if r is None:
                cells.append("")
            elif heading == "bare":
                cells.append(f"{_fmt(r['requests_per_s'])}/s")
            else:
                cells.append(_fmt(r["ratio"]))
        ratio = max((r["ratio"] for r in _ours(variants)), default=_NAN)
        found[f"{setup}_ratio"] = ratio
        goal = goals.get(setup, 0.9)
        rows.append(
            (
                f"throughput vs bare (wrk), {labels.get(setup, setup)}",
                *cells,
                f"≥ {goal:.2f}",
                _goal(ratio, goal, at_most=False),
            )
        )
    return rows


def _latency_rows(data: dict[str, Any], found: dict[str, Any]) -> list[Row]:
    from .bench_latency import tail_goal

    rows: list[Row] = []
    labels = {
        "uvicorn": "uvicorn -w1, FastAPI",
        "gunicorn": "gunicorn -w2 sync, Flask",
        "gthread": "gunicorn -w2 gthread, Flask",
    }
    holds: list[Row] = []
    for setup, result in data["results"].items():
        for fraction, variants in result["rates"].items():
            bare = variants["bare"]
            cells = []
            for heading, names in COLUMNS:
                r = _pick(variants, names)
                if r is None:
                    cells.append("")
                elif heading == "bare":
                    cells.append(f"{_fmt(r['p99_ms'])} / {_fmt(r['p999_ms'])} ms")
                else:
                    cells.append(f"{_fmt(r['p99_ratio'])} / {_fmt(r['p999_ratio'])}")
            mine = _ours(variants)
            met = any(tail_goal(r, bare) for r in mine) if mine else None
            found[f"{setup}_{fraction}_tail"] = met
            rows.append(
                (
                    f"p99 / p99.9 vs bare, {labels.get(setup, setup)}, "
                    f"{float(fraction):.0%} rate ({bare['rate_per_s']:,.0f}/s)",
                    *cells,
                    "≤ 1.2x or +1 ms",
                    "-" if met is None else ("met" if met else "not met"),
                )
            )
            cells = []
            for _, names in COLUMNS:
                r = _pick(variants, names)
                lag = r["probe"].get("thread_lag") if r else None
                gc2 = r["probe"].get("gc/2", {}) if r else {}
                if not lag:
                    cells.append("")
                    continue
                cells.append(
                    f"{_fmt(lag['max_us'] / 1000, 1)} / {lag['over_5ms']} / {gc2.get('count', 0)}"
                )
            # in process: the flusher's; offloaded: the worker's shipping to its helper
            longest, shipping = (
                _longest_hold(variants.get(name)) for name in ("wrapped", "offload")
            )
            found[f"{setup}_{fraction}_longest_hold_ms"] = longest
            found[f"{setup}_{fraction}_longest_hold_ms_offload"] = shipping
            best = min((h for h in (longest, shipping) if h == h), default=_NAN)
            holds.append(
                (
                    f"interpreter hold², {labels.get(setup, setup)}, {float(fraction):.0%} rate",
                    *cells,
                    "",
                    "",
                )
            )
            holds.append(
                _ours_only(
                    f"  flusher's longest hold between pauses, ms CPU, {labels.get(setup, setup)}, "
                    f"{float(fraction):.0%} rate",
                    _fmt(longest),
                    "≤ 1",
                    _goal(best, 1.0, at_most=True),
                    offload=_fmt(shipping),
                )
            )
    return rows + holds


def _throttle_rows(data: dict[str, Any], found: dict[str, Any]) -> list[Row]:
    versus = data.get("versus")
    if not versus:
        return []
    rows: list[Row] = []
    ours, theirs = versus["ours"], versus["limits"]
    for key, label in (
        ("added_accepted_us", "throttle: µs added per accepted POST (WSGI, same Redis)"),
        ("added_refused_us", "throttle: µs added per refused POST (WSGI, same Redis)"),
    ):
        cells = []
        for heading, _ in COLUMNS:
            if heading == "wsgi_analytics":
                cells.append(_fmt(ours[key], 1))
            elif heading == "limits":
                cells.append(_fmt(theirs[key], 1))
            else:
                cells.append("")
        found[f"throttle_{key}"] = (ours[key], theirs[key])
        rows.append((label, *cells, "≤ limits", _goal(ours[key], theirs[key], at_most=True)))
    return rows


def _ours_only(name: str, value: str, goal: str, status: str, *, offload: str = "") -> Row:
    cells = ["" for _ in COLUMNS]
    cells[1] = value
    cells[2] = offload
    return (name, *cells, goal, status)


def _longest_hold(result: dict[str, Any] | None) -> float:
    """The longest hold the probe's meter saw in a server (`probe.meter_holds`), in ms."""
    meter = (result or {}).get("probe", {}).get("holds", {})
    return float(meter["max_us"]) / 1000 if meter.get("count") else _NAN


def _other_rows(results: Path, found: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    http = _load("http", results)
    if http:
        for setup in ("uvicorn", "gunicorn"):
            wrapped = http["results"].get(setup, {}).get("wrapped")
            if not wrapped:
                continue
            per_request = wrapped["redis_commands_per_request"]
            found[f"{setup}_redis_commands_per_request"] = per_request
            rows.append(
                _ours_only(
                    f"Redis commands sent per request during the {setup} run (run inside "
                    f"Redis {wrapped.get('redis_executed_per_request', _NAN):.3f})",
                    f"{per_request:.4f}",
                    "≤ 0.02",
                    _goal(per_request, 0.02, at_most=True),
                )
            )
    redis_load = _load("redis", results)
    if redis_load:
        rows.extend(
            _ours_only(
                f"Redis commands sent per request at {r['rate_per_s']:,} req/s per process, "
                f"{r['flush_interval_s']:g} s flushes",
                f"{r['commands_per_request']:.4f}",
                "≤ 0.02",
                _goal(r["commands_per_request"], 0.02, at_most=True),
            )
            for r in redis_load["results"]
        )
    agents = _load("agents", results)
    if agents:
        r = agents["results"].get("ua-parser-rs")
        if r:
            rows.append(
                _ours_only(
                    f"uncached user agent µs, ua-parser-rs (cached {r['cached_us']:.2f})",
                    _fmt(r["uncached_us"], 1),
                    "≤ 30",
                    _goal(r["uncached_us"], 30, at_most=True),
                )
            )
    memory = _load("memory", results)
    if memory:
        for name, r in memory["results"].items():
            rows.append(
                _ours_only(
                    f"RSS MB after {r['requests']:,} requests over {r['distinct_paths']:,} "
                    f"paths, {name} (counts dropped)",
                    # What the bounds dropped belongs beside the memory they kept: a queue
                    # that never grows past its bound is only half the story.
                    f"{r['rss_after_mb']:.0f} ({r.get('dropped', 0):,})",
                    "",
                    "",
                )
            )
    collections = _load("gc", results)
    if collections:
        cells = {
            mode: " / ".join(
                f"{g['collections_per_100k']:.0f}"
                for g in collections["results"][mode]["generations"]
            )
            for mode in ("in process", "offload")
            if mode in collections["results"]
        }
        rows.append(
            _ours_only(
                "garbage collections per 100,000 requests, young / middle / full (bench_gc)",
                cells.get("in process", ""),
                "",
                "",
                offload=cells.get("offload", ""),
            )
        )
    return rows


def summary(results: Path = RESULTS) -> tuple[str, dict[str, Any]]:
    """The one table: each measure a row, ours and the peers side by side, from whatever
    result files exist. In-process: µs added over the bare app; throughput and tail latency:
    ratios to the bare app measured in the same rounds."""
    found: dict[str, Any] = {}
    rows: list[Row] = []
    for name, make in (
        ("inprocess", _inprocess_rows),
        ("http", _http_rows),
        ("latency", _latency_rows),
        ("throttle", _throttle_rows),
    ):
        data = _load(name, results)
        if data:
            rows += make(data, found)
    rows += _other_rows(results, found)
    headers = ("measure", *(heading for heading, _ in COLUMNS), "goal (ours)", "status")
    return table(headers, rows), found


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
    print(
        "\nIn-process: µs per request added over the bare app, flush or scrape included. "
        "Throughput and tail latency: ratio to the bare app in the same interleaved rounds "
        "(medians). Prometheus: prometheus-fastapi-instrumentator on FastAPI, "
        "prometheus-flask-exporter on Flask. ² a thread in the server waking every 1 ms: its "
        "worst lateness in ms / ticks more than 5 ms late / generation-2 garbage collections."
    )
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
