"""Garbage collections the flusher brings on in a server-sized heap, in process and offloaded.

A WSGI app wrapped as the benchmarks wrap it serves the realistic stream (`benchmarks.traffic`)
in a process that has imported FastAPI, Starlette, pydantic, prometheus_client and
OpenTelemetry's SDK (the heap of the in-process benchmark's FastAPI column: tens of thousands
of objects, which each full collection walks). Each environ is made just before its request and
is gone after it, as a server's are, so the collections counted are the ones the middleware's
own allocations bring on; ``recorder.flush()`` runs every ``--flush-every`` requests, as the
background flusher would. Reported: collections per generation per 100,000 requests, their
longest and their total time, all of them (requests and flushes).

    python -m benchmarks.bench_gc [--requests N] [--flush-every N]
"""

from __future__ import annotations

import argparse
import gc
import time
from typing import Any

from wsgi_analytics import Recorder

from . import peers, traffic
from ._util import drive_wsgi, redis_server, table, write_json

__all__ = ["main", "run"]

_ASLEEP = 3600.0  # the background flusher sleeps: flushes come every --flush-every requests


def _heap() -> None:
    """Import what a FastAPI app with the peers' instrumentation has in its heap."""
    import fastapi  # noqa: F401
    import opentelemetry.sdk.trace  # noqa: F401
    import prometheus_client  # noqa: F401
    import pydantic  # noqa: F401


def _serve(app: Any, count: int, seed: int) -> None:
    drive_wsgi(app, (traffic.wsgi_environ(request) for request in traffic.stream(count, seed=seed)))


def _measure(redis_url: str, options: dict[str, Any], requests: int, every: int) -> dict[str, Any]:
    recorder = Recorder(redis_url, prefix="bench-gc", flush_interval=_ASLEEP, **options)
    app = peers.build("wsgi", "wrapped", redis_url, recorder=recorder).app
    spent = [[0.0, 0.0] for _ in range(3)]  # per generation: total, longest
    began = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
            return
        took = time.perf_counter() - began[0]
        total = spent[info["generation"]]
        total[0] += took
        total[1] = max(total[1], took)

    try:
        _serve(app, every, seed=99)  # first uses: the data sets, the helper, the zone
        recorder.flush()
        gc.collect()
        before = [stats["collections"] for stats in gc.get_stats()]
        gc.callbacks.append(timed)
        try:
            for seed in range(max(1, requests // every)):
                _serve(app, every, seed=seed)
                recorder.flush()
        finally:
            gc.callbacks.remove(timed)
        after = [stats["collections"] for stats in gc.get_stats()]
    finally:
        recorder.close()
    scale = 100_000 / (max(1, requests // every) * every)
    return {
        "objects": len(gc.get_objects()),
        "generations": [
            {
                "collections_per_100k": (done - was) * scale,
                "ms_per_100k": total * 1e3 * scale,
                "longest_ms": longest * 1e3,
            }
            for was, done, (total, longest) in zip(before, after, spent, strict=True)
        ],
    }


def run(redis_url: str, *, requests: int = 200_000, every: int = 10_000) -> dict[str, Any]:
    _heap()
    out: dict[str, Any] = {"config": {"requests": requests, "flush_every": every}, "results": {}}
    for mode, options in (("in process", {}), ("offload", {"offload": True})):
        out["results"][mode] = _measure(redis_url, dict(options), requests, every)
    return out


def report(data: dict[str, Any]) -> str:
    rows = []
    for mode, result in data["results"].items():
        for generation, stats in enumerate(result["generations"]):
            rows.append(
                (
                    mode,
                    generation,
                    stats["collections_per_100k"],
                    stats["ms_per_100k"],
                    stats["longest_ms"],
                )
            )
    headers = ("flusher", "generation", "per 100k requests", "ms per 100k", "longest ms")
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--flush-every", type=int, default=10_000)
    parser.add_argument("--redis-url")
    args = parser.parse_args(argv)
    with redis_server(args.redis_url) as url:
        data = run(url, requests=args.requests, every=args.flush_every)
    print(report(data))
    print(f"written: {write_json('gc', data)}")


if __name__ == "__main__":
    main()
