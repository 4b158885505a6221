"""User-agent labels: cost per agent uncached (first sight) and cached (a memo hit).

A corpus of distinct, real-looking agents (the shared mix with versions varied) goes through a
fresh `wsgi_analytics.request.agents.Classifier` once (uncached: ua-parser resolves every agent) and
then again (cached: the memo answers). Two resolvers: ua-parser-rs (``ua_parser.regex``, what
``ua-parser[regex]`` installs and the default picks) and the pure-Python fallback
(``ua_parser.basic.Resolver``), which is ~30x slower and gets a smaller corpus.

    python -m benchmarks.bench_agents [--agents 2000] [--basic-agents 100] [--rounds 5]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import ua_parser
import ua_parser.basic

from wsgi_analytics.request.agents import Classifier

from . import traffic
from ._util import median, table, write_json

__all__ = ["main", "run"]


def _resolvers() -> dict[str, Callable[[], ua_parser.Resolver]]:
    out: dict[str, Callable[[], ua_parser.Resolver]] = {}
    if ua_parser.RegexResolver is not None:
        regex = ua_parser.RegexResolver
        out["ua-parser-rs"] = lambda: regex(ua_parser.load_lazy_builtins())
    out["pure Python (basic)"] = lambda: ua_parser.basic.Resolver(ua_parser.load_builtins())
    return out


def _per_agent(classify: Classifier, agents: list[str]) -> float:
    start = time.perf_counter()
    for agent in agents:
        classify(agent)
    return (time.perf_counter() - start) / len(agents)


def run(*, agents: int = 2000, basic_agents: int = 100, rounds: int = 5) -> dict[str, Any]:
    corpus = traffic.distinct_agents(agents)
    results: dict[str, Any] = {}
    for name, build in _resolvers().items():
        sample = corpus if name == "ua-parser-rs" else corpus[:basic_agents]
        resolver = build()
        resolver(sample[0], ua_parser.Domain.ALL)  # compile the rules outside the timing
        uncached, cached = [], []
        for _ in range(rounds):
            classify = Classifier(resolver)  # a fresh memo: every agent is new to it
            uncached.append(_per_agent(classify, sample))
            cached.append(_per_agent(classify, sample))
        results[name] = {
            "agents": len(sample),
            "uncached_us": median(uncached) * 1e6,
            "cached_us": median(cached) * 1e6,
        }
    return {"config": {"agents": agents, "rounds": rounds}, "results": results}


def report(data: dict[str, Any]) -> str:
    rows = [
        (name, r["agents"], r["uncached_us"], r["cached_us"]) for name, r in data["results"].items()
    ]
    return table(("resolver", "distinct agents", "uncached µs/agent", "cached µs/agent"), rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--basic-agents", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    data = run(agents=args.agents, basic_agents=args.basic_agents, rounds=args.rounds)
    print(report(data))
    print(f"written: {write_json('agents', data)}")


if __name__ == "__main__":
    main()
