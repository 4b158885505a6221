"""The throttle's cost: added latency per POST, throughput, and Redis commands per POST.

The bare hello app is wrapped in `WSGIAnalytics` (and `ASGIAnalytics`) with a `Throttle`, and
driven in-process. A GET takes the same middleware path minus the throttle (its method is not
throttled), so "added" is POST minus GET: the identity, the key hash and the one round trip.
Accepted POSTs come from a fresh client address each (one timestamp per sorted set, as on a
real site); refused POSTs from one client over its limit. ``INFO commandstats`` is read around
the measured POSTs (the recorder's flusher is kept asleep), after a warm-up that loads the
script and the hashing secret: the steady state is one ``EVALSHA`` per POST.

    python -m benchmarks.bench_throttle [--requests N] [--quick] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import time
from collections.abc import Callable
from typing import Any

import redis

from wsgi_analytics import ASGIAnalytics, WSGIAnalytics
from wsgi_analytics.request.facts import from_environ
from wsgi_analytics.throttle import Throttle

from . import peers
from ._util import median, redis_server, table, write_json
from .peers import hello_asgi, hello_wsgi

__all__ = ["main", "run"]

_ASLEEP = 3600.0  # the recorder's flusher stays out of the measurement
_IGNORED = {"info", "config", "flushdb", "flushall", "ping", "client", "hello", "select"}
# commandstats counts the commands a script runs too; these are the script's, not round trips
_IN_SCRIPT = {"time", "zremrangebyscore", "zremrangebyrank", "zcard", "zadd", "pexpire", "zrange"}


def _commands(client: redis.Redis) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, values in client.info("commandstats").items():
        command = name.removeprefix("cmdstat_").split("|")[0]
        if command not in _IGNORED:
            out[command] = out.get(command, 0) + int(values["calls"])
    return out


def _addresses(count: int, start: int) -> list[str]:
    first = int(ipaddress.IPv4Address("10.0.0.0")) + start
    return [str(ipaddress.IPv4Address(first + i)) for i in range(count)]


def _environ(method: str, peer: str) -> dict[str, Any]:
    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": "/comment",
        "SERVER_NAME": "example.com",
        "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "REMOTE_ADDR": peer,
        "wsgi.url_scheme": "http",
    }


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return None


def _time_wsgi(app: Callable[..., Any], environs: list[dict[str, Any]]) -> list[float]:
    """Microseconds per request, body iterated and closed as a server does."""
    timings: list[float] = []
    clock = time.perf_counter_ns
    for environ in environs:
        began = clock()
        body = app(environ, _start_response)
        for _ in body:
            pass
        close = getattr(body, "close", None)
        if close is not None:
            close()
        timings.append((clock() - began) / 1000)
    return timings


def _phase(
    app: WSGIAnalytics, admin: redis.Redis, environs: list[dict[str, Any]]
) -> tuple[list[float], float, dict[str, int]]:
    """Timings, seconds and the commands Redis ran for one batch of requests.

    The recorder is flushed first, outside the measurement, and a batch of at most 20,000
    requests never wakes its flusher early: every command counted is the throttle's.
    """
    app.recorder.flush()
    before = _commands(admin)
    began = time.perf_counter()
    timings = _time_wsgi(app, environs)
    seconds = time.perf_counter() - began
    after = _commands(admin)
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    return timings, seconds, delta


def run_wsgi(url: str, requests: int) -> dict[str, Any]:
    admin = redis.Redis.from_url(url)
    admin.flushdb()
    throttle = Throttle(limit=5, window=3600)
    app = WSGIAnalytics(hello_wsgi, redis_url=url, throttle=throttle, flush_interval=_ASLEEP)
    try:
        warm = [_environ("POST", peer) for peer in _addresses(200, 1_000_000)]
        _time_wsgi(app, warm + [_environ("GET", "10.0.0.1")] * 200)
        gets = [_environ("GET", peer) for peer in _addresses(requests, 0)]
        accepted = [_environ("POST", peer) for peer in _addresses(requests, 0)]
        spammer = [_environ("POST", "192.0.2.66")] * (requests + 5)
        _time_wsgi(app, spammer[:5])  # its quota spent: every later POST is refused
        gc.collect()
        ping_us = []
        for _ in range(requests):
            began_ns = time.perf_counter_ns()
            admin.ping()
            ping_us.append((time.perf_counter_ns() - began_ns) / 1000)
        get_us, _, _ = _phase(app, admin, gets)
        accepted_us, accepted_s, accepted_commands = _phase(app, admin, accepted)
        refused_us, refused_s, refused_commands = _phase(app, admin, spammer[5:])
    finally:
        throttle.close()
        app.recorder.close()
        admin.close()
    by_command = {
        name: accepted_commands.get(name, 0) + refused_commands.get(name, 0)
        for name in {*accepted_commands, *refused_commands}
    }
    posts = 2 * requests
    sent = {k: v for k, v in by_command.items() if k not in _IN_SCRIPT}
    return {
        "requests": requests,
        "ping_median_us": median(ping_us),
        "get_median_us": median(get_us),
        "post_accepted_median_us": median(accepted_us),
        "post_refused_median_us": median(refused_us),
        "added_accepted_us": median(accepted_us) - median(get_us),
        "added_refused_us": median(refused_us) - median(get_us),
        "accepted_per_s": requests / accepted_s,
        "refused_per_s": requests / refused_s,
        "by_command": by_command,
        "commands_per_post": sum(sent.values()) / posts,
        "evalsha_per_post": sent.get("evalsha", 0) / posts,
        "script_commands_per_post": (sum(by_command.values()) - sum(sent.values())) / posts,
    }


async def _asgi_storm(app: Any, peers: list[str], concurrency: int) -> float:
    """Seconds for POSTs from ``peers`` with ``concurrency`` in flight at once."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    queue = list(reversed(peers))

    async def worker() -> None:
        while queue:
            peer = queue.pop()
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/comment",
                "headers": [(b"host", b"example.com")],
                "client": (peer, 1234),
            }
            await app(scope, receive, send)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


def run_asgi(url: str, requests: int, concurrency: int = 50) -> dict[str, Any]:
    """Throughput of throttled POSTs, ``concurrency`` in flight, ours then `limits`' on
    asyncio (``limits.aio`` on redis-py's asyncio client), each accepted then refused."""
    admin = redis.Redis.from_url(url)
    admin.flushdb()
    throttle = Throttle(limit=5, window=3600)
    app = ASGIAnalytics(hello_asgi, redis_url=url, throttle=throttle, flush_interval=_ASLEEP)
    theirs = peers.LimitsASGI(hello_asgi, url)

    async def measure(target: Any, base: int, spammer: str) -> tuple[float, float]:
        await _asgi_storm(target, _addresses(200, base + 1_000_000), concurrency)  # warm-up
        accepted = await _asgi_storm(target, _addresses(requests, base), concurrency)
        refused = await _asgi_storm(target, [spammer] * requests, concurrency)
        return accepted, refused

    async def both() -> dict[str, tuple[float, float]]:
        return {
            "ours": await measure(app, 0, "192.0.2.66"),
            "limits": await measure(theirs, 5_000_000, "192.0.2.67"),
        }

    try:
        seconds = asyncio.run(both())
    finally:
        throttle.close()
        app.recorder.close()
        admin.close()
    out: dict[str, Any] = {"concurrency": concurrency}
    for who, (accepted_s, refused_s) in seconds.items():
        prefix = "" if who == "ours" else "limits_"
        out[f"{prefix}accepted_per_s"] = requests / accepted_s
        out[f"{prefix}refused_per_s"] = requests / refused_s
    return out


def _check_ours(gate: Any, peers_: list[str]) -> list[float]:
    timings: list[float] = []
    clock = time.perf_counter_ns
    for peer in peers_:
        facts = from_environ(_environ("POST", peer))
        began = clock()
        gate.check(facts, 0)
        timings.append((clock() - began) / 1000)
    return timings


def _check_limits(limiter: peers.LimitsWSGI, peers_: list[str]) -> list[float]:
    timings: list[float] = []
    clock = time.perf_counter_ns
    for peer in peers_:
        began = clock()
        limiter.check(peer)
        timings.append((clock() - began) / 1000)
    return timings


def run_versus(url: str, requests: int, rounds: int = 5) -> dict[str, Any]:
    """Ours against `limits`' moving window, interleaved in rounds on the same Redis: the
    added cost of an accepted and of a refused POST (POST minus GET through the same
    middleware), and the check alone (our gate's ``check``, ``limits``' ``hit``)."""
    throttle = Throttle(limit=5, window=3600)
    ours = WSGIAnalytics(hello_wsgi, redis_url=url, throttle=throttle, flush_interval=_ASLEEP)
    gate = throttle.bind_sync(redis_url=url)
    theirs = peers.LimitsWSGI(hello_wsgi, url)
    per_round = max(requests // rounds, 10)
    names = ("get", "accepted", "refused", "check_accepted", "check_refused")
    timings: dict[str, dict[str, list[float]]] = {
        "ours": {n: [] for n in names},
        "limits": {n: [] for n in names},
    }
    try:
        warm = _addresses(200, 3_000_000)
        _time_wsgi(ours, [_environ("POST", p) for p in warm])
        _time_wsgi(theirs, [_environ("POST", p) for p in warm])
        _check_ours(gate, warm)
        _check_limits(theirs, warm)
        spam_ours, spam_limits = "192.0.2.10", "192.0.2.11"
        for spammer in (spam_ours, spam_limits):  # their quota spent: every later POST refused
            _time_wsgi(ours if spammer == spam_ours else theirs, [_environ("POST", spammer)] * 5)
        _check_ours(gate, ["192.0.2.12"] * 5)
        _check_limits(theirs, ["192.0.2.13"] * 5)
        ours.recorder.flush()
        gc.collect()
        for round_ in range(rounds):
            base = 4_000_000 + round_ * 4 * per_round
            for who, app in (("ours", ours), ("limits", theirs)):
                offset = 0 if who == "ours" else 2 * per_round
                fresh = _addresses(per_round, base + offset)
                checked = _addresses(per_round, base + offset + per_round)
                t = timings[who]
                t["get"] += _time_wsgi(app, [_environ("GET", p) for p in fresh])
                t["accepted"] += _time_wsgi(app, [_environ("POST", p) for p in fresh])
                spammer = spam_ours if who == "ours" else spam_limits
                t["refused"] += _time_wsgi(app, [_environ("POST", spammer)] * per_round)
                if who == "ours":
                    t["check_accepted"] += _check_ours(gate, checked)
                    t["check_refused"] += _check_ours(gate, ["192.0.2.12"] * per_round)
                else:
                    t["check_accepted"] += _check_limits(theirs, checked)
                    t["check_refused"] += _check_limits(theirs, ["192.0.2.13"] * per_round)
            ours.recorder.flush()  # outside the timings: the throttle alone is compared
    finally:
        throttle.close()
        ours.recorder.close()
        theirs.storage.storage.close()
    out: dict[str, Any] = {"requests_per_round": per_round, "rounds": rounds}
    for who, t in timings.items():
        get = median(t["get"])
        out[who] = {
            "get_median_us": get,
            "added_accepted_us": median(t["accepted"]) - get,
            "added_refused_us": median(t["refused"]) - get,
            "check_accepted_us": median(t["check_accepted"]),
            "check_refused_us": median(t["check_refused"]),
        }
    return out


async def _time_asgi(app: Any, method: str, peers_: list[str]) -> list[float]:
    """Microseconds per request, one at a time, as a server's single connection would."""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    timings: list[float] = []
    clock = time.perf_counter_ns
    for peer in peers_:
        scope = {
            "type": "http",
            "method": method,
            "path": "/comment",
            "headers": [(b"host", b"example.com")],
            "client": (peer, 1234),
        }
        began = clock()
        await app(scope, receive, send)
        timings.append((clock() - began) / 1000)
    return timings


def run_versus_asgi(url: str, requests: int, rounds: int = 5) -> dict[str, Any]:
    """`run_versus` on asyncio: ours (`ASGIAnalytics` with a `Throttle`) against `limits.aio`
    (`LimitsASGI`), POST minus GET through the same middleware, one request at a time."""
    throttle = Throttle(limit=5, window=3600)
    ours = ASGIAnalytics(hello_asgi, redis_url=url, throttle=throttle, flush_interval=_ASLEEP)
    theirs = peers.LimitsASGI(hello_asgi, url)
    per_round = max(requests // rounds, 10)
    names = ("get", "accepted", "refused")
    timings: dict[str, dict[str, list[float]]] = {
        w: {n: [] for n in names} for w in ("ours", "limits")
    }

    async def measure() -> None:
        warm = _addresses(200, 7_000_000)
        await _time_asgi(ours, "POST", warm)
        await _time_asgi(theirs, "POST", warm)
        spam = {"ours": "192.0.2.20", "limits": "192.0.2.21"}
        await _time_asgi(ours, "POST", [spam["ours"]] * 5)
        await _time_asgi(theirs, "POST", [spam["limits"]] * 5)
        for round_ in range(rounds):
            base = 8_000_000 + round_ * 2 * per_round
            for who, app in (("ours", ours), ("limits", theirs)):
                fresh = _addresses(per_round, base + (0 if who == "ours" else per_round))
                t = timings[who]
                t["get"] += await _time_asgi(app, "GET", fresh)
                t["accepted"] += await _time_asgi(app, "POST", fresh)
                t["refused"] += await _time_asgi(app, "POST", [spam[who]] * per_round)
            ours.recorder.flush()

    try:
        asyncio.run(measure())
    finally:
        throttle.close()
        ours.recorder.close()
    out: dict[str, Any] = {"requests_per_round": per_round, "rounds": rounds}
    for who, t in timings.items():
        get = median(t["get"])
        out[who] = {
            "get_median_us": get,
            "added_accepted_us": median(t["accepted"]) - get,
            "added_refused_us": median(t["refused"]) - get,
        }
    return out


def run(url: str, requests: int) -> dict[str, Any]:
    return {
        "config": {"requests": requests},
        "wsgi": run_wsgi(url, requests),
        "asgi": run_asgi(url, requests),
        "versus": run_versus(url, requests),
        "versus_asgi": run_versus_asgi(url, requests),
    }


def report(data: dict[str, Any]) -> str:
    w, a = data["wsgi"], data["asgi"]
    rows = [
        ("Redis PING round trip, for scale", w["ping_median_us"], "-", "-"),
        ("GET through the middleware (no throttle)", w["get_median_us"], "-", "-"),
        ("POST, accepted", w["post_accepted_median_us"], w["added_accepted_us"],
         w["accepted_per_s"]),
        ("POST, refused (429)", w["post_refused_median_us"], w["added_refused_us"],
         w["refused_per_s"]),
        (f"ASGI POST, accepted, {a['concurrency']} in flight", "-", "-", a["accepted_per_s"]),
        (f"ASGI POST, refused, {a['concurrency']} in flight", "-", "-", a["refused_per_s"]),
        (f"limits (asyncio): POST, accepted, {a['concurrency']} in flight", "-", "-",
         a.get("limits_accepted_per_s", float("nan"))),
        (f"limits (asyncio): POST, refused, {a['concurrency']} in flight", "-", "-",
         a.get("limits_refused_per_s", float("nan"))),
    ]  # fmt: skip
    lines = [
        table(("WSGI, in-process", "median µs", "added µs", "requests/s"), rows),
        "",
        f"Commands sent per POST: {w['commands_per_post']:.3f} "
        f"(EVALSHA {w['evalsha_per_post']:.3f}); run inside the script per POST: "
        f"{w['script_commands_per_post']:.2f}",
        f"INFO commandstats delta over {2 * w['requests']:,} POSTs: {w['by_command']}",
    ]
    v = data.get("versus")
    if v:
        o, t = v["ours"], v["limits"]
        pairs = [
            ("added per accepted POST", o["added_accepted_us"], t["added_accepted_us"]),
            ("added per refused POST", o["added_refused_us"], t["added_refused_us"]),
            ("check alone, accepted", o["check_accepted_us"], t["check_accepted_us"]),
            ("check alone, refused", o["check_refused_us"], t["check_refused_us"]),
        ]
        versus = [(name, a, b, a / b if b else float("nan")) for name, a, b in pairs]
        lines += [
            "",
            f"Against limits' MovingWindowRateLimiter (same Redis, {v['rounds']} interleaved "
            f"rounds of {v['requests_per_round']:,}, medians):",
            "",
            table(("WSGI, in-process, µs", "ours", "limits", "ours / limits"), versus),
        ]
    va = data.get("versus_asgi")
    if va:
        o, t = va["ours"], va["limits"]
        pairs = [
            ("added per accepted POST", o["added_accepted_us"], t["added_accepted_us"]),
            ("added per refused POST", o["added_refused_us"], t["added_refused_us"]),
        ]
        versus = [(name, a, b, a / b if b else float("nan")) for name, a, b in pairs]
        lines += [
            "",
            table(
                ("ASGI, in-process, one at a time, µs", "ours", "limits", "ours / limits"), versus
            ),
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000, help="per phase, at most 20,000")
    parser.add_argument("--quick", action="store_true", help="500 requests, for a smoke run")
    parser.add_argument("--redis-url")
    args = parser.parse_args(argv)
    requests = 500 if args.quick else min(args.requests, 20_000)
    with redis_server(args.redis_url) as url:
        data = run(url, requests)
    print(report(data))
    print(f"written: {write_json('throttle', data)}")


if __name__ == "__main__":
    main()
