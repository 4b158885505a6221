"""Memory: the recorder's buffers and the process RSS after a million requests over 100k paths.

Each scenario runs in a fresh child process (so RSS is its own): the WSGI hello app wrapped in
`WSGIAnalytics` serves ``--requests`` requests of the realistic stream spread over
``--paths`` distinct paths, with the background flusher running at its default 1 s interval:

- ``redis up, 20k/s``: paced at 20,000 requests a second (a busy uvicorn worker). With tens
  of thousands of paths (the drain remembers a day's first 4,096 pages) the in-process flusher
  did not keep up on the 2-core machine of the README's figures, sharing one interpreter with
  the loop that makes the requests: the queue reached its bound and what came beyond it was
  dropped, counted and logged (``counts dropped``);
- ``redis up, 20k/s, offload=True``: the same with the flusher in a helper process (the RSS is
  the worker's alone);
- ``redis up, flat out``: as fast as the loop goes (~100k requests a second, more than any
  server here feeds one process): the flusher falls behind and the queue of finished requests
  grows to its bound (200,000 requests or `recorder.MAX_QUEUE_BYTES`, 48 MB), then drops;
- ``redis down``: flat out with Redis unreachable the whole time; the pending counts grow to
  ``max_pending`` distinct members (default 100,000), beyond which new members are dropped.

    python -m benchmarks.bench_memory [--requests 1000000] [--paths 100000] [--rate 20000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis

from ._util import redis_server, table, write_json

__all__ = ["main", "run"]

ROOT = Path(__file__).resolve().parent.parent


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(
    redis_url: str, requests: int, paths: int, rate: float = 0.0, offload: bool = False
) -> dict[str, Any]:
    """Runs in the child process: serve the requests, report buffers and RSS."""
    from wsgi_analytics import WSGIAnalytics

    from . import traffic
    from .apps import hello_wsgi

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return None

    app = WSGIAnalytics(hello_wsgi, redis_url=redis_url, offload=offload)
    recorder = app.recorder
    rss_before = _rss_mb()
    start = time.perf_counter()
    peak_queue = 0
    for index, request in enumerate(traffic.stream(requests, distinct_paths=paths, zipf=0.6)):
        body = app(traffic.wsgi_environ(request), start_response)
        for _chunk in body:
            pass
        body.close()  # type: ignore[attr-defined]
        if index % 1000 == 0:
            peak_queue = max(peak_queue, recorder.queued)
            if rate:
                pause = start + index / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
    elapsed = time.perf_counter() - start
    time.sleep(recorder.flush_interval * 2)  # let the flusher catch up (or fail again)
    with contextlib.suppress(redis.RedisError, OSError):
        recorder.flush()  # takes in what is still queued, whether or not Redis answers
    pending = recorder.pending_entries
    visitors = recorder.pending_visitors
    result = {
        "requests": requests,
        "distinct_paths": paths,
        "rate_per_s": requests / elapsed,
        "seconds": elapsed,
        "rss_before_mb": rss_before,
        "rss_after_mb": _rss_mb(),
        "pending_members": pending,
        "pending_visitors": visitors,
        "peak_queue": peak_queue,
        "dropped": recorder.dropped,
    }
    # Leave without the final flush: a dead Redis would only make the exit wait.
    recorder._closed = True
    return result


def run(
    redis_url: str,
    *,
    requests: int = 1_000_000,
    paths: int = 100_000,
    rate: float = 20_000,
    parallel: bool = False,
) -> dict[str, Any]:
    down = "redis://127.0.0.1:1/0"
    scenarios = {
        f"redis up, {rate / 1000:g}k/s": (redis_url, rate, False),
        f"redis up, {rate / 1000:g}k/s, offload=True": (redis_url, rate, True),
        "redis up, flat out": (redis_url, 0.0, False),
        "redis down, flat out": (down, 0.0, False),
    }
    children: dict[str, subprocess.Popen[str]] = {}
    outputs: dict[str, str] = {}
    for name, (url, pace, offload) in scenarios.items():
        command = [
            sys.executable, "-m", "benchmarks.bench_memory", "--child", url,
            "--requests", str(requests), "--paths", str(paths), "--rate", str(pace),
            *(["--offload"] if offload else []),
        ]  # fmt: skip
        children[name] = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        if not parallel:  # one at a time, each with the machine to itself
            outputs[name] = children[name].communicate(timeout=1800)[0]
    results = {}
    for name, child_process in children.items():
        if name not in outputs:
            outputs[name] = child_process.communicate(timeout=1800)[0]
        if child_process.returncode:
            raise subprocess.CalledProcessError(child_process.returncode, child_process.args)
        results[name] = json.loads(outputs[name].strip().splitlines()[-1])
    return {"config": {"requests": requests, "paths": paths, "rate": rate}, "results": results}


def report(data: dict[str, Any]) -> str:
    rows = [
        (
            name,
            f"{r['requests']:,}",
            f"{r['distinct_paths']:,}",
            f"{r['rate_per_s']:,.0f}",
            f"{r['pending_members']:,}",
            f"{r['pending_visitors']:,}",
            f"{r['peak_queue']:,}",
            f"{r['dropped']:,}",
            r["rss_before_mb"],
            r["rss_after_mb"],
        )
        for name, r in data["results"].items()
    ]
    headers = (
        "scenario", "requests", "paths", "req/s", "pending members", "pending visitors",
        "peak queue", "counts dropped", "RSS before MB", "RSS after MB",
    )  # fmt: skip
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--paths", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=20_000, help="requests/s, 0: flat out")
    parser.add_argument("--redis-url")
    parser.add_argument("--parallel", action="store_true", help="the scenarios at once (smoke)")
    parser.add_argument("--child", metavar="REDIS_URL", help=argparse.SUPPRESS)
    parser.add_argument("--offload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.requests, args.paths, args.rate, args.offload)))
        return
    with redis_server(args.redis_url) as url:
        data = run(
            url, requests=args.requests, paths=args.paths, rate=args.rate, parallel=args.parallel
        )
    print(report(data))
    print(f"written: {write_json('memory', data)}")


if __name__ == "__main__":
    main()
