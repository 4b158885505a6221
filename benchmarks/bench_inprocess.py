"""In-process cost per request: the bare app, ours, the naive seed middleware and the peers.

Four columns (`benchmarks.peers`): the raw WSGI and ASGI hello apps, FastAPI and Flask. Every
round drives the same realistic stream (`benchmarks.traffic`) through each variant in turn
(interleaved, so drift hits every variant alike) and reports medians over the rounds. The
requests are built 64 at a time just before they are timed, as a server hands over a request
it has just parsed (still in the CPU's caches). What
the process spends to get the numbers out is timed with the requests: each round of ours ends
with ``recorder.flush()`` *inside* the timed region (its CPU time; the background thread is
kept asleep), so "total" is request path + draining, agent lookup, aggregation and the
pipelined write; each
round of a Prometheus peer ends with one scrape of its registry, and OpenTelemetry's with its
span export and metric collection. The agents repeat (a warm-up round fills the memo), i.e.
this is the cached-agent cost.

``--configs '{"label": {options}}'`` adds variants of ours with other recorder options (for
example a feature turned off), as ``wrapped:label`` in the WSGI and ASGI columns: what each
feature costs.

    python -m benchmarks.bench_inprocess [--requests N] [--rounds R] [--kinds wsgi,asgi,...]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import time
from collections.abc import Callable
from typing import Any

from wsgi_analytics import Recorder

from . import peers, traffic
from ._util import drive_wsgi, median, redis_server, table, write_json

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


_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> dict[str, Any]:
    return _REQUEST


async def _send(message: Any) -> None:
    return None


async def _drive_asgi(app: Any, scopes: list[dict[str, Any]]) -> None:
    receive, send = _receive, _send
    for scope in scopes:
        await app(scope, receive, send)


# A full collection before each timed pass, so that none started by an earlier variant's
# garbage lands in this one's time (off in --quick: on the peers' heap each costs ~0.1 s).
_COLLECT = [True]


def _cpu(flush: Callable[[], None] | None) -> float:
    """The CPU the process spends in ``flush`` (a flush, a scrape): the flusher's pauses
    between its steps, which hand the interpreter to requests, are idle time, not cost."""
    if flush is None:
        return 0.0
    began = time.process_time()
    flush()
    return time.process_time() - began


# Requests are built this many at a time, just before they are timed: a server hands the app
# a request it has just parsed, still in the CPU's caches. Built all at once (10,000 environs
# or scopes, megabytes), the first to read them paid for the cache misses: ours, which reads
# the headers, where the bare hello app reads none. It also kept them alive through the round
# for every full collection to walk.
_BATCH = 64


def _time_wsgi(
    app: Any, requests: list[traffic.Request], flush: Callable[[], None] | None
) -> tuple[float, float]:
    if _COLLECT[0]:
        gc.collect()
    clock = time.perf_counter
    spent = 0.0
    for at in range(0, len(requests), _BATCH):
        environs = _environs(requests[at : at + _BATCH])
        start = clock()
        drive_wsgi(app, environs)
        spent += clock() - start
    return spent, _cpu(flush)


def _time_asgi(
    loop: asyncio.AbstractEventLoop,
    app: Any,
    requests: list[traffic.Request],
    flush: Callable[[], None] | None,
) -> tuple[float, float]:
    if _COLLECT[0]:
        gc.collect()

    async def timed() -> tuple[float, float]:
        clock = time.perf_counter
        spent = 0.0
        for at in range(0, len(requests), _BATCH):
            scopes = _scopes(requests[at : at + _BATCH])
            start = clock()
            await _drive_asgi(app, scopes)
            spent += clock() - start
        return spent, _cpu(flush)

    return loop.run_until_complete(timed())


def _drive(kind: str) -> Callable[..., tuple[float, float]]:
    return _time_asgi_kind if kind in ("asgi", "fastapi") else _time_wsgi_kind


def _time_wsgi_kind(
    loop: asyncio.AbstractEventLoop, built: peers.Built, requests: list[traffic.Request]
) -> tuple[float, float]:
    return _time_wsgi(built.app, requests, built.collect)


def _time_asgi_kind(
    loop: asyncio.AbstractEventLoop, built: peers.Built, requests: list[traffic.Request]
) -> tuple[float, float]:
    return _time_asgi(loop, built.app, requests, built.collect)


def run(
    redis_url: str,
    *,
    requests: int = 10_000,
    naive_requests: int = 1_000,
    rounds: int = 7,
    distinct_paths: int = 1000,
    kinds: tuple[str, ...] = ("wsgi", "asgi", "fastapi", "flask"),
    configs: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    stream = list(traffic.stream(requests, distinct_paths=distinct_paths))
    naive_stream = stream[:naive_requests]
    recorders: list[Recorder] = []
    apps: dict[str, dict[str, tuple[peers.Built, list[traffic.Request]]]] = {}
    skipped: dict[str, str] = {}
    for kind in kinds:
        apps[kind] = {}
        names: list[tuple[str, str, dict[str, Any]]] = [(v, v, {}) for v in peers.variants(kind)]
        if kind in ("wsgi", "asgi"):
            names += [(f"wrapped:{label}", "wrapped", o) for label, o in (configs or {}).items()]
        for name, variant, options in names:
            recorder = None
            if variant in peers.OURS:
                # a prefix each: a time zone is stored under its prefix at the first write
                prefix = f"bench-{kind}-{len(recorders)}"
                if variant == "offload":
                    options = {**options, "offload": True}
                recorder = Recorder(redis_url, prefix=prefix, flush_interval=_ASLEEP, **options)
                recorders.append(recorder)
            try:
                built = peers.build(kind, variant, redis_url, recorder=recorder)
            except peers.Unavailable as error:
                skipped[f"{kind}/{name}"] = str(error)
                print(f"skipped {kind}/{name}: {error}", flush=True)
                continue
            apps[kind][name] = (built, naive_stream if variant == "naive" else stream)
    if recorders:
        recorders[0].client.flushdb()
    loop = asyncio.new_event_loop()
    samples: dict[str, dict[str, list[tuple[float, float]]]] = {
        kind: {name: [] for name in variants} for kind, variants in apps.items()
    }
    try:
        for round_ in range(rounds + 1):  # round 0 warms up: imports, the agent memo, the pool
            for kind, variants in apps.items():
                drive = _drive(kind)
                for name, (built, reqs) in variants.items():
                    loop_s, flush_s = drive(loop, built, reqs)
                    if round_:
                        samples[kind][name].append((loop_s / len(reqs), flush_s / len(reqs)))
    finally:
        loop.close()
        for variants in apps.values():
            for built, _ in variants.values():
                if built.close is not None:
                    built.close()
        for recorder in recorders:
            recorder.close()
    return {
        "holds": flusher_holds(redis_url, rounds=1 if requests < 1000 else 3),
        "config": {
            "requests": requests,
            "rounds": rounds,
            "distinct_paths": distinct_paths,
            "configs": configs or {},
        },
        "skipped": skipped,
        "results": _summarise(samples),
    }


def flusher_holds(
    redis_url: str, sizes: tuple[int, ...] = (1000, 2500, 5000), rounds: int = 3
) -> dict[str, Any]:
    """How long one flush holds the interpreter at a time: ``sizes`` requests recorded (a
    second's worth at that rate), then flushed with the probe's hold meter (thread CPU time
    between the flusher's pauses). CPU time, so the machine's other load leaves it alone.
    Both modes: the flusher in process, and with ``offload=True`` the worker's shipping to
    its helper (the helper's own work is in another process: it holds nothing here)."""
    from . import probe

    out: dict[str, Any] = {}
    modes: tuple[tuple[str, dict[str, Any]], ...] = (
        ("in process", {}),
        ("offload", {"offload": True}),
    )
    for mode, options in modes:
        meter = probe.Histogram()
        recorder = Recorder(redis_url, prefix="bench-holds", flush_interval=_ASLEEP, **options)
        app = peers.build("wsgi", "wrapped", redis_url, recorder=recorder).app
        # First uses (the helper's start, the data sets' loading, the zone) are not holds
        # of a flush: one flush before the meter.
        drive_wsgi(app, _environs(list(traffic.stream(sizes[0], seed=10))))
        recorder.flush()
        found = probe.meter_holds(meter)
        out[mode] = {}
        try:
            for size in sizes:
                meter.counts = [0] * len(meter.counts)
                for round_ in range(rounds):
                    drive_wsgi(app, _environs(list(traffic.stream(size, seed=round_ + 11))))
                    recorder.flush()
                out[mode][str(size)] = probe.summary(meter.counts)
        finally:
            found()
            recorder.close()
    return out


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


_LABELS = {"wsgi": "WSGI", "asgi": "ASGI", "fastapi": "FastAPI", "flask": "Flask"}


def report(data: dict[str, Any]) -> str:
    rows = []
    for protocol, variants in data["results"].items():
        for name, r in variants.items():
            rows.append(
                (
                    _LABELS.get(protocol, protocol),
                    peers.PEERS.get(name, name),
                    r["us_per_request"],
                    r["request_path_us"],
                    r["flush_us"],
                    r["added_us"] if name != "bare" else float("nan"),
                    r["throughput_ratio"],
                )
            )
    headers = ("app", "variant", "µs/req", "request path", "flush/scrape", "added µs", "ratio")
    lines = [table(headers, rows)]
    holds = data.get("holds")
    if holds:
        lines += [
            "",
            table(
                ("flusher", "flush of N requests", "holds", "p99 ms CPU", "longest ms CPU"),
                [
                    (mode, f"{int(n):,}", h["count"], h["p99_us"] / 1000, h["max_us"] / 1000)
                    for mode, sized in holds.items()
                    for n, h in sized.items()
                ],
            ),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--redis-url")
    parser.add_argument("--kinds", default="wsgi,asgi,fastapi,flask")
    parser.add_argument("--configs", type=json.loads, help="JSON: label -> recorder options")
    parser.add_argument("--quick", action="store_true", help="100 requests, 1 round: a smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.rounds, _COLLECT[0] = 100, 1, False
    with redis_server(args.redis_url) as url:
        data = run(
            url,
            requests=args.requests,
            naive_requests=max(args.requests // 10, 10),
            rounds=args.rounds,
            kinds=tuple(args.kinds.split(",")),
            configs=args.configs,
        )
    print(report(data))
    print(f"written: {write_json('inprocess', data)}")


if __name__ == "__main__":
    main()
