"""Read latency: one dashboard page over ranges up to 90 days with 10,000 distinct paths.

Each of the ``--days`` days holds every one of ``--paths`` distinct paths (the worst case for
the ``ZUNIONSTORE`` a range read does: nothing dedupes across days), plus a realistic spread of
referrers, agents, 404s and statuses, written straight into the recorder's key layout. Then,
for each range, the median of ``--runs`` reads of:

- ``cold snapshot``: `Stats.snapshot` — everything the page shows, in one pipeline — with the
  past-days cache emptied first (the first read of a range in a minute);
- ``snapshot``: the same read again, past days from the cache (every other read);
- ``top``: `Stats.top("paths", 10, days)` alone;
- ``page``: a full ``GET /?days=N`` of the dashboard app in-process (snapshot + HTML).

    python -m benchmarks.bench_read [--days 90] [--paths 10000] [--runs 7] [--quick]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable
from typing import Any

import redis
from starlette.testclient import TestClient

from wsgi_analytics.dashboard import app
from wsgi_analytics.keys import Keys, day_label, hour_label, today
from wsgi_analytics.reading.stats import Stats

from ._util import median, redis_server, table, write_json

__all__ = ["fill", "main", "measure"]

PREFIX = "bench_read"
_SMALL = {"referrers": 300, "browsers": 25, "platforms": 12, "devices": 4, "bots": 60}
_SMALL |= {"statuses": 8, "not_found": 2000, "throttled": 50}


def fill(client: redis.Redis, days: int, paths: int, seed: int = 7) -> None:
    """Write ``days`` days of counts ending today, ``paths`` distinct paths every day."""
    keys, rnd, last = Keys(PREFIX), random.Random(seed), today()
    names = [f"/blog/{n:05d}-some-post-title/" for n in range(paths)]
    for offset in range(days):
        day = last - offset
        pipe = client.pipeline(transaction=False)
        # Zipf-like counts: a few popular pages, a long tail of ones and twos.
        counts = {name: 1 + int(5000 / (rank + 1) ** 1.1) for rank, name in enumerate(names)}
        pipe.zadd(keys.day("paths", day), counts)
        for dimension, size in _SMALL.items():
            members = {f"{dimension}-{n}": rnd.randint(1, 500) for n in range(size)}
            pipe.zadd(keys.day(dimension, day), members)
        views = sum(counts.values())
        pipe.zadd(keys.all("days"), {day_label(day): views})
        hours = {hour_label(day * 24 + hour): views // 24 for hour in range(24)}
        pipe.zadd(keys.day("timeline", day), hours)
        pipe.pfadd(keys.uniques(day), *(f"v{offset}-{n}" for n in range(2000)))
        pipe.execute()
    # The all-time keys, as the recorder would have summed them.
    for dimension in ("paths", *_SMALL):
        client.zunionstore(keys.all(dimension), keys.range(dimension, days))
    client.pfmerge(keys.uniques(None), *(keys.uniques(last - o) for o in range(days)))


def _median_ms(
    call: Callable[[], object], runs: int, before: Callable[[], object] = lambda: None
) -> float:
    call()  # warm: script load, connection, label caches
    times = []
    for _ in range(runs):
        before()
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return median(times) * 1000


def measure(url: str, days: int, paths: int, runs: int) -> list[dict[str, Any]]:
    """Fill, then time each range; returns one row per range."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{{{PREFIX}:*", count=1000):
            client.delete(key)
        fill(client, days, paths)
        ranges: list[int | None] = [*sorted({1, min(7, days), min(30, days), days}), None]
        rows = []
        with (
            Stats(client=client, prefix=PREFIX) as stats,
            TestClient(
                app(client=client, prefix=PREFIX),
                base_url="http://127.0.0.1",
                client=("127.0.0.1", 1),
            ) as browser,
        ):
            for span in ranges:
                query = "all" if span is None else str(span)

                def snapshot(span: int | None = span) -> object:
                    return stats.snapshot(span)

                def top(span: int | None = span) -> object:
                    return stats.top("paths", 10, span)

                def page(query: str = query) -> object:
                    return browser.get(f"/?days={query}")

                def forget() -> None:
                    for key in client.scan_iter(match=f"{{{PREFIX}:*}}:range*", count=1000):
                        client.delete(key)

                distinct = stats.snapshot(span, 1).tables["paths"].distinct
                rows.append(
                    {
                        "days": span,
                        "distinct_paths": distinct,
                        "cold_snapshot_ms": _median_ms(snapshot, runs, before=forget),
                        "snapshot_ms": _median_ms(snapshot, runs),
                        "top_ms": _median_ms(top, runs),
                        "page_ms": _median_ms(page, runs),
                    }
                )
        return rows
    finally:
        for key in client.scan_iter(match=f"{{{PREFIX}:*", count=1000):
            client.delete(key)
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", help="a server of your own (default: a private one)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 days x 200 paths, 3 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.days, args.paths, args.runs = 3, 200, 3
    with redis_server(args.redis_url) as url:
        rows = measure(url, args.days, args.paths, args.runs)
    headers = ["days", "distinct paths", "cold snapshot ms", "snapshot ms", "top ms", "page ms"]
    columns = ["distinct_paths", "cold_snapshot_ms", "snapshot_ms", "top_ms", "page_ms"]
    cells = [[r["days"] or "all", *(r[c] for c in columns)] for r in rows]
    print(f"median of {args.runs} runs, {args.paths:,} paths on each of {args.days} days\n")
    print(table(headers, cells))
    result = {"days": args.days, "paths": args.paths, "runs": args.runs, "ranges": rows}
    if not args.quick:
        print(f"\nwritten to {write_json('read', result)}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
