"""The flusher's per-page-view lookups: source and channel, country, local day and hour.

Each is timed cached (the same input again: a memo hit, the usual case) and cold (an input
never seen: what the first page view of a new referrer, campaign link or visitor costs).

    python -m benchmarks.bench_lookups [--calls 200000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from wsgi_analytics.request.clock import SiteClock
from wsgi_analytics.request.geo import open_countries
from wsgi_analytics.request.sources import acquisition

from ._util import median, table, write_json

__all__ = ["main", "run"]

OWN = "example.com"


def _per_call(call: Callable[[Any], object], inputs: Sequence[Any]) -> float:
    """Microseconds per call over ``inputs``, loop overhead included (it is tiny)."""
    start = time.perf_counter()
    for item in inputs:
        call(item)
    return (time.perf_counter() - start) / len(inputs) * 1e6


def _cases(calls: int) -> list[tuple[str, Callable[[Any], object], list[Any], list[Any]]]:
    rng = random.Random(12)
    countries = open_countries()
    assert countries is not None
    clock = SiteClock("America/Los_Angeles")
    now = 1_790_000_000.0
    cold_calls = max(calls // 10, 100)
    return [
        (
            "acquisition: no referrer",
            lambda args: acquisition(*args),
            [("", "", OWN)] * calls,
            [("", "", f"site{i}.example") for i in range(cold_calls)],
        ),
        (
            "acquisition: referrer",
            lambda args: acquisition(*args),
            [("", "https://www.google.fr/", OWN)] * calls,
            [("", f"https://blog{i}.example.org/post", OWN) for i in range(cold_calls)],
        ),
        (
            "acquisition: utm tags",
            lambda args: acquisition(*args),
            [("utm_source=newsletter&utm_medium=email&utm_campaign=may", "", OWN)] * calls,
            [
                (f"utm_source=news{i}&utm_medium=email&utm_campaign=c{i}", "", OWN)
                for i in range(cold_calls)
            ],
        ),
        (
            "acquisition: other query",
            lambda args: acquisition(*args),
            [("page=2&sort=asc", "https://example.com/list", OWN)] * calls,
            [(f"page={i}&sort=asc", "https://example.com/list", OWN) for i in range(cold_calls)],
        ),
        (
            "country (iptocc)",
            countries.lookup,
            ["81.2.69.142"] * calls,
            [str(ipaddress.IPv4Address(rng.getrandbits(32))) for _ in range(cold_calls)],
        ),
        (
            "day (Los Angeles)",
            clock.day,
            [now] * calls,
            [now + i * 3600 for i in range(cold_calls)],
        ),
        (
            "hour label (Los Angeles)",
            clock.hour_label,
            [now] * calls,
            [now - i * 3600 for i in range(1, cold_calls)],
        ),
    ]


def run(calls: int = 200_000, rounds: int = 5) -> dict[str, Any]:
    rows = []
    for name, call, cached_inputs, cold_inputs in _cases(calls):
        call(cached_inputs[0])
        cached = median([_per_call(call, cached_inputs) for _ in range(rounds)])
        cold = _per_call(call, cold_inputs)  # once: a second pass would be cached
        rows.append({"lookup": name, "cached_us": cached, "cold_us": cold})
    return {"calls": calls, "rounds": rounds, "rows": rows}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(args.calls, args.rounds)
    print(
        table(
            ["lookup", "cached µs/call", "cold µs/call"],
            [(r["lookup"], f"{r['cached_us']:.2f}", f"{r['cold_us']:.2f}") for r in result["rows"]],
        )
    )
    print(f"written to {write_json('lookups', result)}")


if __name__ == "__main__":
    main()
