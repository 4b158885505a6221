"""In-process overhead: the bare app vs wrapped in the middleware vs the naive seed middleware.

Every round drives the same realistic stream (`benchmarks.traffic`) through each variant in turn
(interleaved, so drift hits every variant alike) and reports medians over the rounds. For the
wrapped app the flusher's work is timed too: the background thread is kept asleep and each round
ends with ``recorder.flush()`` *inside* the timed region, so "total" is request path + draining,
agent lookup, aggregation and the pipelined write, everything the process spends on counting.
The agents repeat (a warm-up round fills the memo), i.e. this is the cached-agent cost.

    python -m benchmarks.bench_inprocess [--requests N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from collections.abc import Callable, Iterable
from typing import Any

from wsgi_analytics import ASGIAnalytics, Recorder, WSGIAnalytics

from . import traffic
from ._util import median, redis_server, table, write_json
from .apps import hello_asgi, hello_wsgi
from .naive import NaiveASGI, NaiveWSGI

__all__ = ["main", "run"]

# The flusher thread sleeps through a round (record() wakes it only past 20,000 queued requests):
# its work is timed by the explicit flush at the end of each round instead.
_ASLEEP = 3600.0


def _copy(value: Any) -> Any:
    # Fresh string objects per round, as a server builds per request: hashes are not cached.
    if isinstance(value, str) and value:
        return value.encode("latin-1", "replace").decode("latin-1")
    if isinstance(value, bytes):
        return bytes(bytearray(value))
    return value


def _environs(requests: list[traffic.Request]) -> list[dict[str, Any]]:
    return [{key: _copy(value) for key, value in traffic.wsgi_environ(r).items()} for r in requests]


def _scopes(requests: list[traffic.Request]) -> list[dict[str, Any]]:
    scopes = []
    for request in requests:
        scope = traffic.asgi_scope(request)
        scope["headers"] = [(_copy(k), _copy(v)) for k, v in scope["headers"]]
        scopes.append(scope)
    return scopes


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def _drive_wsgi(app: Any, environs: list[dict[str, Any]]) -> None:
    start_response = _start_response
    for environ in environs:
        body: Iterable[bytes] = app(environ, start_response)
        for _chunk in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()


_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> dict[str, Any]:
    return _REQUEST


async def _send(message: Any) -> None:
    return None


async def _drive_asgi(app: Any, scopes: list[dict[str, Any]]) -> None:
    receive, send = _receive, _send
    for scope in scopes:
        await app(scope, receive, send)


def _time_wsgi(
    app: Any, requests: list[traffic.Request], flush: Callable[[], None] | None
) -> tuple[float, float]:
    environs = _environs(requests)
    gc.collect()
    start = time.perf_counter()
    _drive_wsgi(app, environs)
    middle = time.perf_counter()
    if flush is not None:
        flush()
    end = time.perf_counter()
    return middle - start, end - middle


def _time_asgi(
    loop: asyncio.AbstractEventLoop,
    app: Any,
    requests: list[traffic.Request],
    flush: Callable[[], None] | None,
) -> tuple[float, float]:
    scopes = _scopes(requests)
    gc.collect()

    async def timed() -> tuple[float, float]:
        start = time.perf_counter()
        await _drive_asgi(app, scopes)
        middle = time.perf_counter()
        if flush is not None:
            flush()
        return middle - start, time.perf_counter() - middle

    return loop.run_until_complete(timed())


def run(
    redis_url: str,
    *,
    requests: int = 10_000,
    naive_requests: int = 1_000,
    rounds: int = 7,
    distinct_paths: int = 1000,
) -> dict[str, Any]:
    stream = list(traffic.stream(requests, distinct_paths=distinct_paths))
    naive_stream = stream[:naive_requests]
    recorder = Recorder(redis_url, prefix="bench-inprocess", flush_interval=_ASLEEP)
    recorder.client.flushdb()
    wsgi_apps: dict[str, tuple[Any, list[traffic.Request], Callable[[], None] | None]] = {
        "bare": (hello_wsgi, stream, None),
        "wrapped": (WSGIAnalytics(hello_wsgi, recorder=recorder), stream, recorder.flush),
        "naive": (NaiveWSGI(hello_wsgi, redis_url), naive_stream, None),
    }
    asgi_apps: dict[str, tuple[Any, list[traffic.Request], Callable[[], None] | None]] = {
        "bare": (hello_asgi, stream, None),
        "wrapped": (ASGIAnalytics(hello_asgi, recorder=recorder), stream, recorder.flush),
        "naive": (NaiveASGI(hello_asgi, redis_url), naive_stream, None),
    }
    loop = asyncio.new_event_loop()
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        "wsgi": {name: [] for name in wsgi_apps},
        "asgi": {name: [] for name in asgi_apps},
    }
    try:
        for round_ in range(rounds + 1):  # round 0 warms up: imports, the agent memo, the pool
            for name, (app, reqs, flush) in wsgi_apps.items():
                loop_s, flush_s = _time_wsgi(app, reqs, flush)
                if round_:
                    samples["wsgi"][name].append((loop_s / len(reqs), flush_s / len(reqs)))
            for name, (app, reqs, flush) in asgi_apps.items():
                loop_s, flush_s = _time_asgi(loop, app, reqs, flush)
                if round_:
                    samples["asgi"][name].append((loop_s / len(reqs), flush_s / len(reqs)))
    finally:
        loop.close()
        recorder.close()
    return {
        "config": {"requests": requests, "rounds": rounds, "distinct_paths": distinct_paths},
        "results": _summarise(samples),
    }


def _summarise(samples: dict[str, dict[str, list[tuple[float, float]]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for protocol, variants in samples.items():
        bare = variants["bare"]
        bare_total = [a + b for a, b in bare]
        entry: dict[str, Any] = {}
        for name, rows in variants.items():
            totals = [a + b for a, b in rows]
            # Added cost per round (the rounds are interleaved), then the median of those.
            added = [t - b for t, b in zip(totals, bare_total, strict=True)]
            entry[name] = {
                "us_per_request": median(totals) * 1e6,
                "request_path_us": median([a for a, _ in rows]) * 1e6,
                "flush_us": median([b for _, b in rows]) * 1e6,
                "added_us": median(added) * 1e6,
                "throughput_ratio": median(bare_total) / median(totals),
            }
        out[protocol] = entry
    return out


def report(data: dict[str, Any]) -> str:
    rows = []
    for protocol, variants in data["results"].items():
        for name, r in variants.items():
            rows.append(
                (
                    protocol.upper(),
                    name,
                    r["us_per_request"],
                    r["request_path_us"],
                    r["flush_us"],
                    r["added_us"] if name != "bare" else float("nan"),
                    r["throughput_ratio"],
                )
            )
    headers = ("app", "variant", "µs/req", "request path", "flusher", "added µs", "ratio")
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--redis-url")
    args = parser.parse_args(argv)
    with redis_server(args.redis_url) as url:
        data = run(
            url,
            requests=args.requests,
            naive_requests=max(args.requests // 10, 10),
            rounds=args.rounds,
        )
    print(report(data))
    print(f"written: {write_json('inprocess', data)}")


if __name__ == "__main__":
    main()
