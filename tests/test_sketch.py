"""The DDSketch-style response-time buckets: the paper's relative-error guarantee, merged days."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable

import pytest

from wsgi_analytics.sketch import (
    ALPHA,
    GAMMA,
    MAX_INDEX,
    MAX_SECONDS,
    MIN_SECONDS,
    bucket,
    quantiles,
    value_ms,
)

QS = (0.5, 0.95, 0.99)
GRID = tuple(i / 100 for i in range(101))
# Float rounding at a bucket boundary may add an ulp or two to the paper's bound.
SLACK = 1e-9


def lower_quantile(values: list[float], q: float) -> float:
    """The paper's quantile: the element of rank floor(1 + q(n-1)), 1-based, in sorted order."""
    ordered = sorted(values)
    return ordered[math.floor(q * (len(ordered) - 1))]


def sketch(values: list[float]) -> Counter[int]:
    return Counter(bucket(value) for value in values)


def lognormal(rng: random.Random, n: int, median_s: float, sigma: float) -> list[float]:
    return [rng.lognormvariate(math.log(median_s), sigma) for _ in range(n)]


def bimodal(rng: random.Random, n: int) -> list[float]:
    # 85 % fast cache hits around 4 ms, 15 % slow database calls around 600 ms.
    return [
        rng.lognormvariate(math.log(0.004), 0.3)
        if rng.random() < 0.85
        else rng.lognormvariate(math.log(0.6), 0.5)
        for _ in range(n)
    ]


def check(values: list[float], estimates: tuple[float, ...], qs: tuple[float, ...]) -> None:
    for q, estimate in zip(qs, estimates, strict=True):
        exact = lower_quantile(values, q)
        if exact <= MIN_SECONDS:  # the floor: "instant", one bucket, no relative guarantee
            assert estimate == value_ms(0)
            continue
        exact_ms = exact * 1000
        # The paper's guarantee, and the contract's 5 % with it.
        assert abs(estimate - exact_ms) <= (ALPHA + SLACK) * exact_ms, (q, estimate, exact_ms)
        assert abs(estimate - exact_ms) <= 0.05 * exact_ms


SAMPLES = [
    pytest.param(lambda rng: lognormal(rng, 20_000, 0.05, 1.0), id="lognormal"),
    pytest.param(lambda rng: lognormal(rng, 5_000, 0.002, 2.5), id="lognormal, wide"),
    pytest.param(lambda rng: bimodal(rng, 20_000), id="bimodal"),
    pytest.param(lambda rng: [0.123] * 1000, id="constant"),
    pytest.param(lambda rng: [rng.uniform(0.010, 0.011) for _ in range(3000)], id="narrow"),
    pytest.param(lambda rng: [0.25], id="one value"),
    pytest.param(lambda rng: [0.001, 2.0], id="two values"),
    pytest.param(lambda rng: [rng.choice([0.002, 0.2, 20.0]) for _ in range(999)], id="three"),
]


@pytest.mark.parametrize("make", SAMPLES)
def test_quantiles_within_alpha_of_the_lower_quantile(
    make: Callable[[random.Random], list[float]],
) -> None:
    values = make(random.Random(20190826))
    counts = sketch(values)
    check(values, quantiles(counts, GRID), GRID)
    check(values, quantiles(counts), QS)


def test_merged_days_equal_one_sketch_of_all() -> None:
    rng = random.Random(3)
    days = [
        lognormal(rng, 3000, 0.03, 0.8),
        bimodal(rng, 4000),
        lognormal(rng, 500, 1.5, 0.4),  # a slow day
        [0.2] * 700,
    ]
    merged: Counter[int] = Counter()
    for day in days:
        merged.update(sketch(day))  # what summing per-day ZSETs gives
    everything = [value for day in days for value in day]
    assert merged == sketch(everything)
    check(everything, quantiles(merged, GRID), GRID)
    # Pairs as Redis replies give them, days not merged first: the same answer.
    pairs = [(str(index), float(count)) for day in days for index, count in sketch(day).items()]
    assert quantiles(pairs, GRID) == quantiles(merged, GRID)


def test_bucket_bounds() -> None:
    assert bucket(0.0) == 0
    assert bucket(-1.0) == 0
    assert bucket(math.nan) == 0
    assert bucket(MIN_SECONDS / 10) == 0
    assert bucket(MIN_SECONDS) == 0
    assert bucket(MAX_SECONDS) == MAX_INDEX
    assert bucket(math.inf) == MAX_INDEX
    assert bucket(86_400.0) == MAX_INDEX
    assert 300 <= MAX_INDEX < 500  # "a few hundred" counters per route and day at most


def test_buckets_are_monotonic_and_within_alpha() -> None:
    x = MIN_SECONDS * 1.001
    previous = bucket(x)
    while x < MAX_SECONDS * 0.999:
        index = bucket(x)
        assert previous <= index <= previous + 1
        assert abs(value_ms(index) - x * 1000) <= (ALPHA + SLACK) * x * 1000
        previous = index
        x *= 1 + ALPHA / 3


def test_gamma() -> None:
    assert math.isclose(GAMMA, 1.02 / 0.98)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        pytest.param({}, (0.0, 0.0, 0.0), id="empty"),
        pytest.param({5: 0, 6: -3}, (0.0, 0.0, 0.0), id="no positive counts"),
        pytest.param([("x", 3), (None, 1)], (0.0, 0.0, 0.0), id="junk indices"),
    ],
)
def test_empty(counts: object, expected: tuple[float, ...]) -> None:
    assert quantiles(counts) == expected  # type: ignore[arg-type]


def test_out_of_range_quantile() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        quantiles({1: 1}, (1.5,))


def test_rank_rule_picks_the_lower_median() -> None:
    # Two values: the lower median is the first (rank floor(1 + 0.5 * 1) = 1).
    low, high = bucket(0.010), bucket(1.0)
    (p50,) = quantiles({low: 1, high: 1}, (0.5,))
    assert p50 == value_ms(low)
    (p100,) = quantiles({low: 1, high: 1}, (1.0,))
    assert p100 == value_ms(high)
