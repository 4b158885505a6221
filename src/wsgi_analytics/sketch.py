"""Response-time quantiles with a relative-error guarantee, in a few hundred counters.

DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
relative-error guarantees", VLDB 2019) maps a duration ``x`` to the bucket
``i = ceil(log_gamma(x))`` with ``gamma = (1 + alpha) / (1 - alpha)``: bucket ``i`` holds
``(gamma^(i-1), gamma^i]`` and its representative ``2 gamma^i / (gamma + 1)`` is within a
relative ``alpha`` of every value in it. A sketch is just counts per bucket, so sketches merge by
adding counts: one Redis sorted set per route and day, ``ZINCRBY`` of the bucket index, and any
range of days is the sum of its days.

The guarantee (the paper's Definition 2 and Theorem 3): for the *lower* q-quantile ``x_q`` of the
``n`` recorded values, the element of rank ``floor(1 + q (n - 1))`` in sorted order (``sorted(xs)
[floor(q * (n - 1))]`` counting from 0), the estimate is within ``alpha * x_q`` of ``x_q``. It is
found with the paper's rank rule: the first bucket, in increasing order, whose cumulative count
exceeds ``q (n - 1)``.

Choices here:

- ``alpha = 0.02``: every quantile within 2 %, well inside the contract's 5 %, leaving room for
  a reader comparing against another quantile definition on a dense sample. ``gamma`` is
  about 1.0408.
- A floor of 10 µs and a ceiling of 10 minutes: everything at or below the floor shares bucket 0
  (a response that fast is "instant"; its relative error is unbounded and harmless), everything
  at or above the ceiling shares the last bucket. So there are at most ``MAX_INDEX + 1`` = 448
  buckets, and indices are small non-negative integers (readable members in ``redis-cli``).
- The index is offset so bucket 0 is the floor's bucket. **Stored indices depend on ALPHA,
  MIN_SECONDS and the offset: changing any of them needs a new key name (see ``SKETCH_VERSION``).**
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from math import ceil, log

__all__ = [
    "ALPHA",
    "GAMMA",
    "MAX_INDEX",
    "MAX_SECONDS",
    "MIN_SECONDS",
    "SKETCH_VERSION",
    "bucket",
    "quantiles",
    "value_ms",
]

SKETCH_VERSION = 1
ALPHA = 0.02
GAMMA = (1 + ALPHA) / (1 - ALPHA)
MIN_SECONDS = 1e-5
MAX_SECONDS = 600.0

_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
_OFFSET = math.ceil(math.log(MIN_SECONDS) * _INV_LOG_GAMMA)
MAX_INDEX = math.ceil(math.log(MAX_SECONDS) * _INV_LOG_GAMMA) - _OFFSET
# Representative of bucket i, in milliseconds: 2 gamma^(i + offset) / (gamma + 1) seconds.
_REPRESENTATIVE_MS = [
    2.0 * GAMMA ** (index + _OFFSET) / (GAMMA + 1.0) * 1000.0 for index in range(MAX_INDEX + 1)
]


def bucket(seconds: float) -> int:
    """The bucket index (0 to MAX_INDEX) of a duration in seconds; one ``math.log``.

    Zero, negative and NaN durations (a clock step) go to bucket 0; infinity to the last.
    """
    if seconds > MIN_SECONDS:  # False for NaN as well
        if seconds < MAX_SECONDS:
            return ceil(log(seconds) * _INV_LOG_GAMMA) - _OFFSET
        return MAX_INDEX
    return 0


def value_ms(index: int) -> float:
    """The representative value of a bucket, in milliseconds (clamped to the valid indices)."""
    return _REPRESENTATIVE_MS[min(max(index, 0), MAX_INDEX)]


def quantiles(
    buckets: Mapping[int, int] | Mapping[str, int] | Iterable[tuple[int | str, int | float]],
    qs: Iterable[float] = (0.5, 0.95, 0.99),
) -> tuple[float, ...]:
    """The q-quantiles, in milliseconds, of the durations counted in ``buckets``.

    ``buckets`` maps bucket index to count: a dict, or ``(index, count)`` pairs as a Redis
    ``ZRANGE ... WITHSCORES`` reply gives them (indices as text, counts as floats). Pairs with
    the same index are added up, so several days can be passed at once without merging first.
    Counts of zero or less and indices that are not integers are ignored. An empty sketch gives
    0.0 for every quantile (JSON has no NaN).
    """
    items = buckets.items() if isinstance(buckets, Mapping) else buckets
    counts: dict[int, int] = {}
    for raw_index, raw_count in items:
        try:
            index = int(raw_index)
            count = int(raw_count)
        except (TypeError, ValueError):
            continue
        if count > 0:
            counts[index] = counts.get(index, 0) + count
    wanted = list(qs)
    total = sum(counts.values())
    if total == 0:
        return tuple(0.0 for _ in wanted)
    ordered = sorted(counts.items())
    results: list[float] = []
    for q in wanted:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile {q!r} is not between 0 and 1")
        rank = q * (total - 1)
        cumulative = 0
        chosen = ordered[-1][0]
        for index, count in ordered:
            cumulative += count
            if cumulative > rank:
                chosen = index
                break
        results.append(value_ms(chosen))
    return tuple(results)
