"""Range reads on day keys at their cap: how long a page takes, and how long Redis is held.

The data set is the one issue 15 item 4 measured: a scanner keeps the day keys of ``paths`` and
``not_found`` at their cap, ``--junk`` distinct junk members counted once each, every day
different, beside ``--paths`` real pages with Zipf-like counts; the other dimensions hold a
realistic spread, and the drill-down pair keys hold each page's sources (so a page filtered by
``sources=Google`` reads its bucket key each day). Written straight into the key layout.

For each range (1, 7, 30, ``--days`` and all time):

- ``cold ms``: `Stats.snapshot` of the whole page with the range caches emptied first (the first
  read of a range in a minute), ``warm ms`` the same read again (every other read);
- ``filtered cold/warm ms``: the same page filtered to ``sources=Google`` (a new `Stats`, so
  nothing remembered in the process, then the same one again);
- ``worst command ms``: the slowest single command Redis ran for the cold read (``SLOWLOG`` with a
  threshold of 0 µs); ``worst trip ms``: the slowest round trip as the client saw it (the time
  Redis gave this client without serving anyone else, plus the network);
- ``stall ms``: the longest another client waited for Redis during the cold read: a separate
  process sends ``PING`` after ``PING`` and keeps the slowest answer (what "blocks Redis for
  50 ms" means to everyone else); in brackets the same probe while nothing is read, for as long
  (what the machine itself adds: scheduling on a busy machine);
- ``cache KB``: what the read left behind: ``MEMORY USAGE`` of the range caches (and scratch keys,
  which should be gone) after a cold read of the whole page;
- ``union ms``: for contrast, one ``ZUNIONSTORE`` of the range's day keys, what the old read ran
  inside one script (skipped above 30 days: it takes seconds and hundreds of MB).

    python -m benchmarks.bench_read [--days 90] [--junk 10000] [--paths 1000] [--runs 5] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import json
import multiprocessing
import random
import time
from collections.abc import Callable
from typing import Any

import redis

from wsgi_analytics.keys import Keys, day_label, pair_member
from wsgi_analytics.reading import bounded
from wsgi_analytics.reading.stats import Stats
from wsgi_analytics.request.clock import SiteClock

from ._util import median, redis_server, table, write_json

__all__ = ["fill", "main", "measure"]

PREFIX = "bench_read"
_SMALL = {"referrers": 300, "browsers": 25, "platforms": 12, "devices": 4, "bots": 60}
_SMALL |= {"statuses": 8, "throttled": 50, "channels": 8, "countries": 120, "utm_campaign": 40}
_SOURCES = ["Google", "(direct)", "Hacker News", "Reddit", "Bing", "DuckDuckGo", "newsletter"]


def fill(client: redis.Redis, days: int, paths: int, junk: int, seed: int = 7) -> None:
    """Write ``days`` days ending today: ``paths`` real pages and ``junk`` scanner paths a day in
    ``paths`` and ``not_found``, the small dimensions, and the pages' sources as pairs."""
    keys, rnd, last = Keys(PREFIX), random.Random(seed), SiteClock().today()
    names = [f"/blog/{n:05d}-some-post-title/" for n in range(paths)]
    for offset in range(days):
        day = last - offset
        pipe = client.pipeline(transaction=False)
        # Zipf-like counts: a few popular pages, a long tail of ones and twos.
        counts = {name: 1 + int(5000 / (rank + 1) ** 1.1) for rank, name in enumerate(names)}
        scanner = {f"/wp-admin/{offset}-{n}-{rnd.random():.6f}.php": 1 for n in range(junk)}
        pipe.zadd(keys.day("paths", day), {**counts, **scanner})
        pipe.zadd(keys.day("not_found", day), scanner)
        for dimension, size in _SMALL.items():
            members = {f"{dimension}-{n}": rnd.randint(1, 500) for n in range(size)}
            pipe.zadd(keys.day(dimension, day), members)
        views = sum(counts.values()) + junk
        pipe.zadd(keys.all("days"), {day_label(day): views})
        hours = {f"{day_label(day)}T{hour:02d}": views // 24 for hour in range(24)}
        pipe.zadd(keys.day("timeline", day), hours)
        pipe.pfadd(keys.uniques(day), *(f"v{offset}-{n}" for n in range(2000)))
        # Each page's sources, as the recorder's pairs: Google brings a share of every page.
        sources: dict[str, int] = {}
        pairs: dict[str, dict[str, int]] = {}
        for name, count in list(counts.items())[:625]:
            for source in _SOURCES:
                share = max(1, count // (len(_SOURCES) + _SOURCES.index(source)))
                sources[source] = sources.get(source, 0) + share
                key = keys.pairs("sources", day, source)
                pairs.setdefault(key, {})[pair_member(source, "paths", name)] = share
        pipe.zadd(keys.day("sources", day), sources)
        for key, members in pairs.items():
            pipe.zadd(key, members)
        pipe.execute()
    # The all-time keys, as the recorder would have summed them (and trimmed: top 10,000).
    for dimension in ("paths", "not_found", *_SMALL, "sources"):
        source_keys = [keys.day(dimension, last - o) for o in range(days)]
        for start in range(0, len(source_keys), 8):
            client.zunionstore(
                keys.all(dimension), [keys.all(dimension), *source_keys[start : start + 8]]
            )
            client.zremrangebyrank(keys.all(dimension), 0, -10_001)
    client.pfmerge(keys.uniques(None), *(keys.uniques(last - o) for o in range(days)))


def _forget(client: redis.Redis) -> None:
    for pattern in ("*}:range*", "*}:scratch:*"):
        for key in client.scan_iter(match=f"{{{PREFIX}:{pattern}", count=1000):
            client.delete(key)


def _timed(call: Callable[[], object], runs: int, before: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return median(times) * 1000


def _worst_trip(call: Callable[[], object]) -> tuple[float, int]:
    """The slowest round trip of ``call`` (ms) and how many there were."""
    trips: list[float] = []
    real = bounded._execute

    def timed(client: Any, calls: list[bounded.Call]) -> list[Any]:
        start = time.perf_counter()
        try:
            return real(client, calls)
        finally:
            trips.append(time.perf_counter() - start)

    bounded._execute = timed
    try:
        call()
    finally:
        bounded._execute = real
    return max(trips, default=0.0) * 1000, len(trips)


def _probe(url: str, stop: Any, result: Any) -> None:
    """PING Redis until told to stop; the slowest answer (ms) goes to ``result``."""
    client = redis.Redis.from_url(url)
    client.ping()
    result.put("ready")
    worst = 0.0
    while not stop.is_set():
        start = time.perf_counter()
        client.ping()
        worst = max(worst, time.perf_counter() - start)
        time.sleep(0.0005)
    result.put(worst * 1000)
    client.close()


def _stall(url: str, call: Callable[[], object]) -> float:
    """The longest a separate client waited for a PING answer while ``call`` ran (ms)."""
    context = multiprocessing.get_context("spawn")
    stop, result = context.Event(), context.Queue()
    probe = context.Process(target=_probe, args=(url, stop, result))
    probe.start()
    result.get(timeout=60)  # the probe's interpreter has started and connected
    try:
        call()
    finally:
        stop.set()
    worst = float(result.get(timeout=30))
    probe.join(30)
    return worst


def _left_behind(client: redis.Redis) -> float:
    """KB of range caches and scratch keys of the benchmark's prefix."""
    total = 0
    for pattern in ("*}:range*", "*}:scratch:*"):
        for key in client.scan_iter(match=f"{{{PREFIX}:{pattern}", count=1000):
            total += int(client.memory_usage(key, samples=0) or 0)
    return total / 1024


def _worst_command(client: redis.Redis, call: Callable[[], object]) -> tuple[float, str]:
    """The slowest command Redis ran during ``call`` (ms) and its name."""
    client.slowlog_reset()
    call()
    entries = [
        entry
        for entry in client.slowlog_get(100_000)
        if not _name(entry["command"]).upper().startswith(("SLOWLOG", "INFO", "CONFIG"))
    ]
    worst = max(entries, key=lambda entry: entry["duration"], default=None)
    if worst is None:
        return 0.0, ""
    return worst["duration"] / 1000, _name(worst["command"])


def _name(command: Any) -> str:
    text = command if isinstance(command, str) else bytes(command).decode("utf-8", "replace")
    return text.split()[0] if text.split() else ""


def measure(url: str, days: int, paths: int, junk: int, runs: int) -> list[dict[str, Any]]:
    """Fill, then time each range; returns one row per range."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{{{PREFIX}:*", count=1000):
            client.delete(key)
        fill(client, days, paths, junk)
        client.config_set("slowlog-log-slower-than", 0)
        client.config_set("slowlog-max-len", 100_000)
        ranges: list[int | None] = [*sorted({1, min(7, days), min(30, days), days}), None]
        rows = []
        with Stats(client=client, prefix=PREFIX, retention_days=max(days, 1)) as stats:
            names = stats.dimensions()
            for span in ranges:

                def page(span: int | None = span) -> object:
                    return stats.snapshot(span, 10, names, live=5)

                def filtered(span: int | None = span) -> object:
                    with Stats(client=client, prefix=PREFIX, retention_days=days) as fresh:
                        return fresh.snapshot(span, 10, names, where=("sources", "Google"))

                def forget() -> None:
                    _forget(client)

                _forget(client)
                worst_command, command = _worst_command(client, page)
                cache_kb = _left_behind(client)
                _forget(client)
                started = time.perf_counter()
                stall = _stall(url, page)
                took = time.perf_counter() - started
                idle = _stall(url, functools.partial(time.sleep, took))
                _forget(client)
                worst_trip, trips = _worst_trip(page)
                warm_trip, warm_trips = _worst_trip(page)
                snapshot = stats.snapshot(span, 10, names)
                union_ms = None
                if span is not None and span <= 30 and span > 1:
                    keys = Keys(PREFIX)
                    last = stats.today()
                    start = time.perf_counter()
                    client.zunionstore(
                        "{bench_read:paths}:union",
                        [keys.day("paths", last - o) for o in range(span)],
                    )
                    union_ms = (time.perf_counter() - start) * 1000
                    client.delete("{bench_read:paths}:union")
                warm_stats = Stats(client=client, prefix=PREFIX, retention_days=days)

                def filtered_again(span: int | None = span, warm: Stats = warm_stats) -> object:
                    return warm.snapshot(span, 10, names, where=("sources", "Google"))

                filtered_again()
                rows.append(
                    {
                        "days": span,
                        "distinct_paths": snapshot.tables["paths"].distinct,
                        "error_bound": snapshot.tables["paths"].error_bound,
                        "cold_ms": _timed(page, runs, forget),
                        "warm_ms": _timed(page, runs, lambda: None),
                        "filtered_cold_ms": _timed(filtered, runs, lambda: None),
                        "filtered_warm_ms": _timed(filtered_again, runs, lambda: None),
                        "worst_command_ms": worst_command,
                        "worst_command": command,
                        "worst_trip_ms": worst_trip,
                        "stall_ms": stall,
                        "idle_stall_ms": idle,
                        "trips_cold": trips,
                        "trips_warm": warm_trips,
                        "warm_worst_trip_ms": warm_trip,
                        "cache_kb": cache_kb,
                        "union_ms": union_ms,
                    }
                )
        return rows
    finally:
        client.config_set("slowlog-log-slower-than", 10_000)
        for key in client.scan_iter(match=f"{{{PREFIX}:*", count=1000):
            client.delete(key)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="a server of your own (default: a private one)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--paths", type=int, default=1000, help="real pages a day")
    parser.add_argument("--junk", type=int, default=10_000, help="scanner paths a day")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 days x 200 + 300 paths, 3 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.paths, args.junk, args.runs = 3, 200, 300, 3
    with redis_server(args.redis_url) as url:
        rows = measure(url, args.days, args.paths, args.junk, args.runs)
    headers = [
        "days",
        "cold ms",
        "warm ms",
        "filtered cold ms",
        "filtered warm ms",
        "worst command ms",
        "worst trip ms",
        "stall ms (idle)",
        "trips cold/warm",
        "cache KB",
        "error bound",
        "old union ms",
    ]
    cells = [
        [
            r["days"] or "all",
            r["cold_ms"],
            r["warm_ms"],
            r["filtered_cold_ms"],
            r["filtered_warm_ms"],
            f"{r['worst_command_ms']:.1f} ({r['worst_command']})",
            r["worst_trip_ms"],
            f"{r['stall_ms']:.1f} ({r['idle_stall_ms']:.1f})",
            f"{r['trips_cold']}/{r['trips_warm']}",
            round(r["cache_kb"]),
            r["error_bound"],
            "-" if r["union_ms"] is None else r["union_ms"],
        ]
        for r in rows
    ]
    print(
        f"median of {args.runs} runs; {args.paths:,} pages and {args.junk:,} junk paths on each "
        f"of {args.days} days (paths and not_found at their cap)\n"
    )
    print(table(headers, cells))
    result = {
        "days": args.days,
        "paths": args.paths,
        "junk": args.junk,
        "runs": args.runs,
        "ranges": rows,
    }
    if not args.quick:
        print(f"\nwritten to {write_json('read', result)}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
