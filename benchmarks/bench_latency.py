"""Tail latency at a fixed rate (open loop), and how long the interpreter is held in the server.

For each server setup the bare app's closed-loop throughput is measured first (``wrk``), then
every variant is driven by `benchmarks.loadgen` at 25 % and 50 % of that rate, in interleaved
rounds (bare, ours, a peer, bare, ...), and the p50/p99/p99.9 latencies, measured from each
request's scheduled time, are compared with the bare app's of the same round. Meanwhile
`benchmarks.probe` runs in every server process (``BENCH_PROBE``): a thread ticking every 1 ms
records how late it wakes (the interpreter's hold, as a request sees it), an event-loop tick
does the same on uvicorn, garbage collections are timed, and the flusher's steps too.

Setups: ``uvicorn`` (one worker, uvloop + httptools, the FastAPI app), ``gunicorn`` (``-w 2``
sync workers, the Flask app) and ``gthread`` (``-w 2 --threads 4``, the Flask app).

    python -m benchmarks.bench_latency [--servers uvicorn,gunicorn,gthread] [--rounds 3]
                                       [--duration 8] [--rates 0.25,0.5] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from wsgi_analytics.embedded import EmbeddedServer

from . import peers, probe, traffic
from ._util import median, table, write_json
from .bench_http import SERVERS, _command, serve, wrk

__all__ = ["main", "run"]

ROOT = Path(__file__).resolve().parent.parent
# setup -> (server, kind of app, variants, connections of the load generator)
SETUPS: dict[str, tuple[str, str, tuple[str, ...], int]] = {
    "uvicorn": (
        "uvicorn",
        "fastapi",
        ("bare", "wrapped", "offload", "prometheus", "opentelemetry"),
        32,
    ),
    "gunicorn": ("gunicorn", "flask", ("bare", "wrapped", "offload", "flask_exporter"), 8),
    "gthread": ("gthread", "flask", ("bare", "wrapped", "offload", "flask_exporter"), 16),
}
LABELS = {
    "uvicorn": "uvicorn -w1 (uvloop, httptools), FastAPI",
    "gunicorn": "gunicorn -w2 sync, Flask",
    "gthread": "gunicorn -w2 gthread (4 threads), Flask",
}
# The probe's histograms worth a line each.
PROBES = ("thread_lag", "loop_lag", "gc/2", "holds", "steps/Pending.drain", "steps/Writer.write")


def loadgen(url: str, *, rate: float, duration: float, connections: int) -> dict[str, Any]:
    """One open-loop run from a separate process (it must not share the server's cores' GIL)."""
    port = urlsplit(url).port
    command = [
        sys.executable, "-m", "benchmarks.loadgen", "--port", str(port),
        "--rate", f"{rate:.1f}", "--duration", str(duration), "--connections", str(connections),
    ]  # fmt: skip
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def run_setup(
    setup: str,
    *,
    rounds: int,
    duration: float,
    fractions: tuple[float, ...],
    variants: tuple[str, ...] | None,
    script: Path,
    wrk_duration: float,
    capacity: float | None = None,
) -> dict[str, Any]:
    server, kind, default_variants, connections = SETUPS[setup]
    chosen: list[str] = []
    skipped: dict[str, str] = {}
    for variant in variants or default_variants:
        reason = peers.missing(kind, variant)
        if reason:
            skipped[variant] = reason
            print(f"skipped {setup}/{variant}: {reason}", flush=True)
        else:
            chosen.append(variant)
    with contextlib.ExitStack() as stack:
        redis_url = stack.enter_context(EmbeddedServer(prefer="redis-server")).url
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-probe-")))
        urls = {
            v: stack.enter_context(serve(server, v, redis_url, kind=kind, BENCH_PROBE=str(tmp / v)))
            for v in chosen
        }
        settings = SERVERS["gunicorn" if server == "gthread" else server]
        if capacity is None:
            for url in urls.values():  # warm-up: imports, memos, connections
                wrk(url, script, duration=1, **settings)
            capacity = median(
                [
                    wrk(urls["bare"], script, duration=wrk_duration, **settings)["requests_per_s"]
                    for _ in range(2)
                ]
            )
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {
            f"{f:g}": {v: [] for v in chosen} for f in fractions
        }
        probes: dict[str, dict[str, dict[str, list[int]]]] = {
            f"{f:g}": {v: {} for v in chosen} for f in fractions
        }
        for _ in range(rounds):
            for fraction in fractions:
                for variant, url in urls.items():
                    before = probe.read(tmp / variant)
                    result = loadgen(
                        url, rate=capacity * fraction, duration=duration, connections=connections
                    )
                    after = probe.read(tmp / variant)
                    samples[f"{fraction:g}"][variant].append(result)
                    sums = probes[f"{fraction:g}"][variant]
                    for name in PROBES:
                        counts = probe.delta(before, after, name)
                        old = sums.get(name)
                        sums[name] = (
                            counts
                            if old is None
                            else [a + b for a, b in zip(old, counts, strict=True)]
                        )
    out: dict[str, Any] = {"capacity_per_s": capacity, "skipped": skipped, "rates": {}}
    for label, by_variant in samples.items():
        bare = by_variant["bare"]
        entry: dict[str, Any] = {}
        for variant, rows in by_variant.items():
            row: dict[str, Any] = {
                "rate_per_s": median([r["target_rate"] for r in rows]),
                "achieved_per_s": median([r["achieved_rate"] for r in rows]),
                "errors": sum(r["errors"] for r in rows),
                "non_2xx": sum(r["non_2xx"] for r in rows),
                "generator_cpu_share": median([r["generator_cpu_share"] for r in rows]),
                "send_lag_p99_ms": median([r["send_lag"]["p99_ms"] for r in rows]),
            }
            for q in ("p50", "p99", "p999", "max"):
                row[f"{q}_ms"] = median([r["latency"][f"{q}_ms"] for r in rows])
                row[f"service_{q}_ms"] = median([r["service"][f"{q}_ms"] for r in rows])
                # the round's value over the bare app's in the same round, then the median
                row[f"{q}_ratio"] = median(
                    [
                        r["latency"][f"{q}_ms"] / b["latency"][f"{q}_ms"]
                        for r, b in zip(rows, bare, strict=True)
                        if b["latency"][f"{q}_ms"] > 0
                    ]
                )
                row[f"{q}_over_bare_ms"] = median(
                    [
                        r["latency"][f"{q}_ms"] - b["latency"][f"{q}_ms"]
                        for r, b in zip(rows, bare, strict=True)
                    ]
                )
            seconds = duration * len(rows)
            row["probe"] = {
                name: probe.summary(counts, seconds=seconds)
                for name, counts in probes[label][variant].items()
            }
            entry[variant] = row
        out["rates"][label] = entry
    return out


def tail_goal(row: dict[str, Any], bare: dict[str, Any]) -> bool:
    """p99 and p99.9 within 1.2x the bare app's, or within 1 ms of it, whichever is larger."""
    return all(
        row[f"{q}_ms"] <= max(1.2 * bare[f"{q}_ms"], bare[f"{q}_ms"] + 1.0) for q in ("p99", "p999")
    )


def run(
    *,
    setups: tuple[str, ...] = tuple(SETUPS),
    rounds: int = 3,
    duration: float = 8.0,
    fractions: tuple[float, ...] = (0.25, 0.5),
    variants: tuple[str, ...] | None = None,
    wrk_duration: float = 3.0,
    capacity: float | None = None,
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="wsgi-analytics-latency-") as tmp:
        script = Path(tmp) / "stream.lua"
        script.write_text(traffic.wrk_script())
        for setup in setups:
            results[setup] = run_setup(
                setup,
                rounds=rounds,
                duration=duration,
                fractions=fractions,
                variants=variants,
                script=script,
                wrk_duration=wrk_duration,
                capacity=capacity,
            )
    return {
        "config": {
            "rounds": rounds,
            "duration_s": duration,
            "fractions": fractions,
            "servers": {
                s: {
                    "app": SETUPS[s][1],
                    "connections": SETUPS[s][3],
                    "command": " ".join(_command(SETUPS[s][0], 0)[1:]),
                }
                for s in setups
            },
        },
        "results": results,
    }


def _ms(us: float) -> float:
    return us / 1000


def report(data: dict[str, Any]) -> str:
    rows = []
    for setup, result in data["results"].items():
        for fraction, variants in result["rates"].items():
            bare = variants["bare"]
            for variant, r in variants.items():
                lag = r["probe"].get("thread_lag", {})
                gc2 = r["probe"].get("gc/2", {})
                drain = r["probe"].get("holds", {})
                rows.append(
                    (
                        LABELS.get(setup, setup),
                        f"{float(fraction):.0%} ({r['rate_per_s']:,.0f}/s)",
                        peers.PEERS.get(variant, variant),
                        f"{r['p50_ms']:.2f}",
                        f"{r['p99_ms']:.2f} ({r['p99_ratio']:.2f}x)",
                        f"{r['p999_ms']:.2f} ({r['p999_ratio']:.2f}x)",
                        "" if variant == "bare" else ("yes" if tail_goal(r, bare) else "no"),
                        f"{_ms(lag.get('p99_us', float('nan'))):.2f} / "
                        f"{_ms(lag.get('max_us', float('nan'))):.1f}",
                        f"{lag.get('over_1ms', 0)} / {lag.get('over_5ms', 0)}",
                        f"{gc2.get('count', 0)} / {_ms(gc2.get('max_us', float('nan'))):.1f}",
                        f"{_ms(drain.get('max_us', float('nan'))):.2f}"
                        if drain.get("count")
                        else "",
                    )
                )
    headers = (
        "server",
        "rate",
        "variant",
        "p50 ms",
        "p99 ms (vs bare)",
        "p99.9 ms (vs bare)",
        "tail goal",
        "1 ms tick lateness p99 / max ms",
        "ticks > 1 / > 5 ms",
        "gen-2 GCs / longest ms",
        "flusher's longest hold, ms CPU",
    )
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", default=",".join(SETUPS), help=f"of {', '.join(SETUPS)}")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per run")
    parser.add_argument("--rates", default="0.25,0.5", help="fractions of the bare throughput")
    parser.add_argument("--variants", help="comma-separated (default: each setup's own)")
    parser.add_argument(
        "--quick", action="store_true", help="uvicorn, bare and ours, 1 s at 100/s: a smoke run"
    )
    args = parser.parse_args(argv)
    if args.quick:
        print("quick: uvicorn only, bare and ours, 1 s at 100/s (peers skipped: a smoke run)")
        data = run(
            setups=("uvicorn",),
            rounds=1,
            duration=1.0,
            fractions=(0.25,),
            variants=("bare", "wrapped"),
            capacity=400.0,
        )
    else:
        data = run(
            setups=tuple(args.servers.split(",")),
            rounds=args.rounds,
            duration=args.duration,
            fractions=tuple(float(f) for f in args.rates.split(",")),
            variants=tuple(args.variants.split(",")) if args.variants else None,
        )
    print(report(data))
    print(f"written: {write_json('latency', data)}")


if __name__ == "__main__":
    main()
