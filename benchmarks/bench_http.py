"""HTTP throughput on real servers: bare vs wrapped vs naive, driven by ``wrk`` on loopback.

- uvicorn ``--loop uvloop --http httptools``, one worker, the raw ASGI hello app;
- gunicorn ``-w 2`` sync workers, the WSGI hello app.

The three variants of one server run side by side on their own ports and the rounds are
interleaved (bare, wrapped, naive, bare, ...), so drift on the machine hits them alike; each
rate is the median over the rounds, and each ratio the median over the rounds of the round's
ratio to the bare app measured just before it.
``wrk`` replays a rotating stream of paths, agents and referrers (`benchmarks.traffic`). The
wrapped and naive apps write to separate Redis servers, so the wrapped one's ``INFO
commandstats`` gives the real commands per request under this load (sent: all but the
``ZINCRBY`` that the writer's ``EVAL`` runs inside Redis; run: all of them).

With ``--decompose`` two more variants show where the wrapped app's cost goes: ``facts`` reads
the request facts and nothing else, ``silent`` is the whole middleware recording nothing.

    python -m benchmarks.bench_http [--rounds 5] [--duration 3] [--servers uvicorn,gunicorn]
                                    [--decompose]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis

from wsgi_analytics.embedded import EmbeddedServer, free_port

from . import peers, traffic
from ._util import median, table, write_json
from .apps import DECOMPOSITION
from .bench_redis import _commands, _cpu

__all__ = ["main", "run", "serve", "wrk"]

ROOT = Path(__file__).resolve().parent.parent
# wrk threads and connections per server: one wrk thread leaves the other core to the server.
SERVERS: dict[str, dict[str, Any]] = {
    "uvicorn": {"threads": 1, "connections": 64},
    "gunicorn": {"threads": 1, "connections": 8},
}


def _command(server: str, port: int) -> list[str]:
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", "--factory", "benchmarks.apps:asgi_factory",
            "--loop", "uvloop", "--http", "httptools", "--workers", "1",
            "--host", "127.0.0.1", "--port", str(port),
            "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
    if server == "gunicorn":
        return [
            sys.executable, "-m", "gunicorn", "-w", "2", "-k", "sync",
            "-b", f"127.0.0.1:{port}", "--log-level", "warning",
            "benchmarks.apps:wsgi_factory()",
        ]  # fmt: skip
    if server == "gthread":
        return [
            sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "4",
            "-b", f"127.0.0.1:{port}", "--log-level", "warning",
            "benchmarks.apps:wsgi_factory()",
        ]  # fmt: skip
    raise ValueError(f"unknown server {server!r}")


@contextlib.contextmanager
def serve(
    server: str, variant: str, redis_url: str, *, kind: str | None = None, **env_extra: str
) -> Iterator[str]:
    """``server`` running ``kind``'s app in ``variant`` (see `benchmarks.apps`); its URL."""
    port = free_port()
    env = {**os.environ, "BENCH_VARIANT": variant, "BENCH_REDIS_URL": redis_url, **env_extra}
    if kind is not None:
        env["BENCH_APP"] = kind
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    process = subprocess.Popen(_command(server, port), cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{server} ({variant}) exited with {process.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in")
_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(
    url: str, script: Path, *, duration: float, threads: int, connections: int
) -> dict[str, Any]:
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(int(duration), 1)}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    latency = {f"p{p}_ms": float(v) * _UNIT[u] for p, v, u in _LATENCY.findall(output)}
    errors = _ERRORS.search(output)
    return {
        "requests_per_s": float(rate.group(1)),
        "requests": int(total.group(1)),
        **latency,
        # gunicorn's sync workers close every connection: wrk counts those as read errors.
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx.*?:\s+(\d+)", output)) else 0,
    }


# setup name -> (server, kind of app); the first two are the raw hello apps
SETUPS: dict[str, tuple[str, str]] = {
    "uvicorn": ("uvicorn", "asgi"),
    "gunicorn": ("gunicorn", "wsgi"),
    "uvicorn-fastapi": ("uvicorn", "fastapi"),
    "gunicorn-flask": ("gunicorn", "flask"),
}
LABELS = {
    "uvicorn": "uvicorn -w1 (uvloop, httptools), raw ASGI",
    "gunicorn": "gunicorn -w2 sync, raw WSGI",
    "uvicorn-fastapi": "uvicorn -w1 (uvloop, httptools), FastAPI",
    "gunicorn-flask": "gunicorn -w2 sync, Flask",
}


def run_server(
    setup: str,
    script: Path,
    *,
    rounds: int,
    duration: float,
    warmup: float,
    decompose: bool = False,
) -> tuple[dict[str, Any], dict[str, str]]:
    server, kind = SETUPS[setup]
    settings = SERVERS[server]
    variants: list[str] = []
    skipped: dict[str, str] = {}
    for variant in (
        *peers.variants(kind),
        *(DECOMPOSITION if decompose and kind in ("asgi", "wsgi") else ()),
    ):
        reason = peers.missing(kind, variant)
        if reason:
            skipped[f"{setup}/{variant}"] = reason
            print(f"skipped {setup}/{variant}: {reason}", flush=True)
        else:
            variants.append(variant)
    with contextlib.ExitStack() as stack:
        # ours and the naive one each write to a server of their own
        redises = {
            v: stack.enter_context(EmbeddedServer(prefer="redis-server")).url
            for v in ("wrapped", "offload", "naive")
        }
        admin = redis.Redis.from_url(redises["wrapped"])
        stack.callback(admin.close)
        before, cpu_before = _commands(admin), _cpu(admin)
        with contextlib.ExitStack() as servers:
            urls = {
                v: servers.enter_context(
                    serve(server, v, redises.get(v, redises["wrapped"]), kind=kind)
                )
                for v in variants
            }
            served = dict.fromkeys(variants, 0)
            for variant, url in urls.items():  # warm-up: imports, agent memo, connections
                if warmup > 0:
                    served[variant] += wrk(url, script, duration=warmup, **settings)["requests"]
            samples: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
            for _ in range(rounds):
                for variant, url in urls.items():
                    result = wrk(url, script, duration=duration, **settings)
                    served[variant] += result["requests"]
                    samples[variant].append(result)
        # The servers are stopped: a graceful shutdown flushed the last counts.
        after, cpu_after = _commands(admin), _cpu(admin)
    executed = {name: after[name] - before.get(name, 0) for name in after}
    commands = sum(executed.values())
    # commandstats counts the ZINCRBY the writer's EVAL runs too; the writer sends none itself.
    sent = commands - executed.get("zincrby", 0)
    bare_rounds = [s["requests_per_s"] for s in samples["bare"]]
    out: dict[str, Any] = {}
    for variant, rows in samples.items():
        rate = median([r["requests_per_s"] for r in rows])
        # Each round's ratio against the bare run just before it (the machine's load drifts;
        # neighbours in time share it), then the median over the rounds.
        ratios = [r["requests_per_s"] / b for r, b in zip(rows, bare_rounds, strict=True) if b]
        out[variant] = {
            "requests_per_s": rate,
            "ratio": median(ratios),
            "round_ratios": ratios,
            "p50_ms": median([r.get("p50_ms", float("nan")) for r in rows]),
            "p99_ms": median([r.get("p99_ms", float("nan")) for r in rows]),
            "rounds": [r["requests_per_s"] for r in rows],
            "non_2xx": sum(r["non_2xx"] for r in rows),
        }
    requests = max(served["wrapped"], 1)
    out["wrapped"]["redis_commands"] = commands
    out["wrapped"]["redis_by_command"] = {k: v for k, v in executed.items() if v}
    out["wrapped"]["redis_commands_per_request"] = sent / requests
    out["wrapped"]["redis_executed_per_request"] = commands / requests
    out["wrapped"]["redis_cpu_us_per_request"] = (cpu_after - cpu_before) / requests * 1e6
    return out, skipped


def run(
    *,
    setups: tuple[str, ...] = tuple(SETUPS),
    rounds: int = 5,
    duration: float = 3.0,
    warmup: float = 1.0,
    decompose: bool = False,
) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk not found: apt-get install -y wrk (nox -s bench does it)")
    results: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="wsgi-analytics-wrk-") as tmp:
        script = Path(tmp) / "stream.lua"
        script.write_text(traffic.wrk_script())
        for setup in setups:
            results[setup], missing = run_server(
                setup, script, rounds=rounds, duration=duration, warmup=warmup, decompose=decompose
            )
            skipped.update(missing)
    return {
        "config": {
            "rounds": rounds,
            "duration_s": duration,
            "servers": {
                s: {
                    **SERVERS[SETUPS[s][0]],
                    "app": SETUPS[s][1],
                    "command": " ".join(_command(SETUPS[s][0], 0)[1:]),
                }
                for s in setups
            },
        },
        "skipped": skipped,
        "results": results,
    }


def report(data: dict[str, Any]) -> str:
    rows = []
    for setup, variants in data["results"].items():
        for variant, r in variants.items():
            rows.append(
                (
                    LABELS.get(setup, setup),
                    peers.PEERS.get(variant, variant),
                    r["requests_per_s"],
                    r["ratio"],
                    r["p50_ms"],
                    r["p99_ms"],
                    f"{r['redis_commands_per_request']:.4f} sent, "
                    f"{r['redis_executed_per_request']:.3f} run"
                    if variant == "wrapped"
                    else "",
                )
            )
    headers = ("server", "variant", "requests/s", "ratio", "p50 ms", "p99 ms", "Redis cmd/req")
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", default=",".join(SETUPS), help=f"of {', '.join(SETUPS)}")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument(
        "--decompose",
        action="store_true",
        help="also run 'facts' (request facts only) and 'silent' (middleware, no recording)",
    )
    args = parser.parse_args(argv)
    data = run(
        setups=tuple(args.servers.split(",")),
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        decompose=args.decompose,
    )
    print(report(data))
    print(f"written: {write_json('http', data)}")


if __name__ == "__main__":
    main()
