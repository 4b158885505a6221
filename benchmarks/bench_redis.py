"""Redis load at steady state: commands per request and bytes per flush.

One recorder with its real background flusher is fed the realistic stream at a steady rate, and
the server's own counters are read before and after (``INFO commandstats`` for commands,
``INFO stats`` for bytes). A warm-up period first lets the once-per-process work happen (salt,
``EXPIREAT`` of the day keys). Time is compressed: ``flush_interval`` 0.1 s fed ``rate / 10``
requests per slot stands for ``flush_interval`` 1 s at ``rate`` requests per second, since what
a flush writes depends only on what was recorded since the last one.

Commands grow with the distinct members a flush touches, not with requests, so the ratio is
reported per rate.

    python -m benchmarks.bench_redis [--rates 1000,10000,50000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import redis

from wsgi_analytics import Recorder
from wsgi_analytics.facts import from_environ

from . import traffic
from ._util import redis_server, table, write_json

__all__ = ["main", "run"]

COMPRESSION = 10  # flush_interval 0.1 s stands for 1 s
_IGNORED = {"info", "config", "flushdb", "flushall", "ping", "client", "hello", "select"}


def _commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    out: dict[str, int] = {}
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_").split("|")[0]
        if command not in _IGNORED:
            out[command] = out.get(command, 0) + int(values["calls"])
    return out


def _net(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])


def _facts(count: int, seed: int) -> Iterator[Any]:
    # Facts are built before the timed slots: only recording is paced.
    for request in traffic.stream(count, seed=seed, distinct_paths=1000):
        yield from_environ(traffic.wsgi_environ(request))


def _feed(recorder: Recorder, facts: list[Any], per_slot: int, slots: int, slot_s: float) -> None:
    index = 0
    deadline = time.perf_counter()
    for _ in range(slots):
        deadline += slot_s
        for item in facts[index : index + per_slot]:
            recorder.record(item, 200 if item.path != "/tags/item-4/" else 404)
        index += per_slot
        pause = deadline - time.perf_counter()
        if pause > 0:
            time.sleep(pause)


def run_rate(redis_url: str, rate: int, seconds: float) -> dict[str, Any]:
    interval = 1.0 / COMPRESSION
    per_slot = max(rate // COMPRESSION, 1)
    warm_slots = 2 * COMPRESSION
    slots = max(int(seconds * COMPRESSION), 1)
    facts = list(_facts(per_slot * (warm_slots + slots), seed=rate))
    admin = redis.Redis.from_url(redis_url)
    admin.flushdb()
    recorder = Recorder(redis_url, prefix=f"bench-redis-{rate}", flush_interval=interval)
    flushes = 0
    original = recorder.flush

    def counted_flush() -> None:
        nonlocal flushes
        flushes += 1
        original()

    recorder.flush = counted_flush  # type: ignore[method-assign]
    try:
        _feed(recorder, facts[: per_slot * warm_slots], per_slot, warm_slots, interval)
        time.sleep(2 * interval)
        before, net_before, flushes = _commands(admin), _net(admin), 0
        _feed(recorder, facts[per_slot * warm_slots :], per_slot, slots, interval)
        time.sleep(2 * interval)  # the last slot's flush
        after, net_after, measured_flushes = _commands(admin), _net(admin), flushes
    finally:
        recorder.close()
        admin.close()
    by_command = {
        name: after.get(name, 0) - before.get(name, 0)
        for name in after
        if after.get(name, 0) != before.get(name, 0)
    }
    requests = per_slot * slots
    commands = sum(by_command.values())
    return {
        "rate_per_s": rate,
        "requests": requests,
        "flushes": measured_flushes,
        "commands": commands,
        "by_command": by_command,
        "commands_per_request": commands / requests,
        "commands_per_flush": commands / max(measured_flushes, 1),
        "bytes_in_per_flush": (net_after[0] - net_before[0]) / max(measured_flushes, 1),
        "bytes_out_per_flush": (net_after[1] - net_before[1]) / max(measured_flushes, 1),
    }


def run(
    redis_url: str, *, rates: tuple[int, ...] = (1000, 10_000, 50_000), seconds: float = 3.0
) -> dict[str, Any]:
    results = [run_rate(redis_url, rate, seconds) for rate in rates]
    return {
        "config": {"rates": list(rates), "seconds": seconds, "flush_interval_s": 1.0},
        "results": results,
    }


def report(data: dict[str, Any]) -> str:
    rows = [
        (
            f"{r['rate_per_s']:,}",
            r["commands_per_request"],
            r["commands_per_flush"],
            r["bytes_in_per_flush"],
            ", ".join(f"{k} {v}" for k, v in sorted(r["by_command"].items())),
        )
        for r in data["results"]
    ]
    headers = ("requests/s", "commands/req", "commands/flush", "bytes/flush", "commands")
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="1000,10000,50000")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--redis-url")
    args = parser.parse_args(argv)
    rates = tuple(int(part) for part in args.rates.split(","))
    with redis_server(args.redis_url) as url:
        data = run(url, rates=rates, seconds=args.seconds)
    print(report(data))
    print(f"written: {write_json('redis', data)}")


if __name__ == "__main__":
    main()
