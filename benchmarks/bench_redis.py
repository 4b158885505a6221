"""Redis load at steady state: commands per request, Redis CPU and bytes per flush.

What one flush writes depends only on what was recorded since the previous one, so the steady
state of a process serving ``rate`` requests per second with ``flush_interval`` seconds between
flushes is reproduced without a clock: the background flusher is kept asleep, and each cycle
records ``rate * interval`` fresh requests of the realistic stream and runs one flush. The
server's own counters are read around the measured cycles (``INFO commandstats`` for commands
executed, including those a script runs, ``INFO cpu`` for its CPU, ``INFO stats`` for bytes;
the commands *sent* are counted on the client's pipelines), after warm-up cycles that do the
once-per-process work (the day's salt, ``EXPIREAT`` of the day keys).

Commands grow with the distinct members a flush touches, not with requests: the ratio falls as
the rate per process or the interval grows.

    python -m benchmarks.bench_redis [--rates 1000,10000,50000] [--intervals 1,10] [--flushes 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import redis

from wsgi_analytics import Recorder
from wsgi_analytics.request.facts import from_environ

from . import traffic
from ._util import redis_server, table, write_json

__all__ = ["main", "run"]

_IGNORED = {"info", "config", "flushdb", "flushall", "ping", "client", "hello", "select"}


def _commands(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    out: dict[str, int] = {}
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_").split("|")[0]
        if command not in _IGNORED:
            out[command] = out.get(command, 0) + int(values["calls"])
    return out


def _cpu(client: redis.Redis) -> float:
    stats = client.info("cpu")
    return float(stats["used_cpu_user"]) + float(stats["used_cpu_sys"])


class _Sent:
    """Counts the commands the recorder's pipelines send (commandstats also counts what runs
    inside a script, so it cannot tell the two apart)."""

    def __init__(self) -> None:
        self.count = 0
        self._execute = redis.client.Pipeline.execute

    def __enter__(self) -> _Sent:
        sent, execute = self, self._execute

        def counting(pipe: redis.client.Pipeline, raise_on_error: bool = True) -> Any:
            sent.count += len(pipe.command_stack)
            return execute(pipe, raise_on_error)

        redis.client.Pipeline.execute = counting  # type: ignore[method-assign,assignment]
        return self

    def __exit__(self, *exc: object) -> None:
        redis.client.Pipeline.execute = self._execute  # type: ignore[method-assign]


def _net(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("stats")
    return int(stats["total_net_input_bytes"]), int(stats["total_net_output_bytes"])


def _facts(count: int, seed: int) -> Iterator[Any]:
    for request in traffic.stream(count, seed=seed, distinct_paths=1000):
        yield from_environ(traffic.wsgi_environ(request))


def run_rate(
    redis_url: str, rate: int, interval: float = 1.0, flushes: int = 5, warmup: int = 2
) -> dict[str, Any]:
    per_flush = max(int(rate * interval), 1)
    admin = redis.Redis.from_url(redis_url)
    admin.flushdb()
    recorder = Recorder(redis_url, prefix=f"bench-redis-{rate}", flush_interval=3600.0)
    facts = _facts(per_flush * (warmup + flushes), seed=rate)
    try:
        with _Sent() as sent:
            for cycle in range(warmup + flushes):
                if cycle == warmup:
                    before, net_before, cpu_before = _commands(admin), _net(admin), _cpu(admin)
                    sent_before = sent.count
                for _ in range(per_flush):
                    item = next(facts)
                    recorder.record(item, 404 if item.path == "/tags/item-4/" else 200)
                recorder.flush()
            after, net_after, cpu_after = _commands(admin), _net(admin), _cpu(admin)
            sent_count = sent.count - sent_before
    finally:
        recorder.close()
        admin.close()
    by_command = {
        name: after.get(name, 0) - before.get(name, 0)
        for name in after
        if after.get(name, 0) != before.get(name, 0)
    }
    requests = per_flush * flushes
    commands = sum(by_command.values())
    return {
        "rate_per_s": rate,
        "flush_interval_s": interval,
        "requests": requests,
        "flushes": flushes,
        "commands": commands,
        "by_command": by_command,
        "commands_sent": sent_count,
        "commands_per_request": sent_count / requests,
        "commands_per_flush": sent_count / flushes,
        "executed_per_request": commands / requests,
        "redis_cpu_us_per_request": (cpu_after - cpu_before) / requests * 1e6,
        "bytes_in_per_flush": (net_after[0] - net_before[0]) / flushes,
        "bytes_out_per_flush": (net_after[1] - net_before[1]) / flushes,
    }


def run(
    redis_url: str,
    *,
    rates: tuple[int, ...] = (1000, 10_000, 50_000),
    intervals: tuple[float, ...] = (1.0, 10.0),
    flushes: int = 5,
    max_per_flush: int = 100_000,
) -> dict[str, Any]:
    results = [
        run_rate(redis_url, rate, interval, flushes)
        for interval in intervals
        for rate in rates
        if rate * interval <= max_per_flush
    ]
    return {
        "config": {"rates": list(rates), "intervals": list(intervals), "flushes": flushes},
        "results": results,
    }


def report(data: dict[str, Any]) -> str:
    rows = [
        (
            f"{r['rate_per_s']:,}",
            f"{r['flush_interval_s']:g}",
            f"{r['commands_per_request']:.4f}",
            r["commands_per_flush"],
            f"{r['executed_per_request']:.3f}",
            r["redis_cpu_us_per_request"],
            r["bytes_in_per_flush"],
            ", ".join(f"{k} {v}" for k, v in sorted(r["by_command"].items())),
        )
        for r in data["results"]
    ]
    headers = (
        "requests/s", "flush s", "sent/req", "sent/flush", "executed/req", "Redis CPU µs/req",
        "bytes/flush", "executed (commandstats)",
    )  # fmt: skip
    return table(headers, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rates", default="1000,10000,50000")
    parser.add_argument("--intervals", default="1,10")
    parser.add_argument("--flushes", type=int, default=5)
    parser.add_argument("--redis-url")
    args = parser.parse_args(argv)
    rates = tuple(int(part) for part in args.rates.split(","))
    with redis_server(args.redis_url) as url:
        intervals = tuple(float(part) for part in args.intervals.split(","))
        data = run(url, rates=rates, intervals=intervals, flushes=args.flushes)
    print(report(data))
    print(f"written: {write_json('redis', data)}")


if __name__ == "__main__":
    main()
