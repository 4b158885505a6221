"""A probe inside a benchmarked server: how long the interpreter was held from other threads.

Enabled in `benchmarks.apps` by ``BENCH_PROBE=<directory>``; each server process then runs

- a **tick thread** that sleeps 1 ms at a time and records how late it wakes: a thread that
  wants the GIL waits for whoever holds it (the flusher's drain, a garbage collection, the
  request handler), so the lateness distribution is the interpreter's hold time as any thread
  (a request's) sees it, plus the OS's wake-up latency, which the bare app shows alone;
- on an asyncio server, an **event-loop tick** (``call_later`` every 1 ms) recording its lag;
- **garbage collections** (``gc.callbacks``): the pause of each, per generation;
- the **flusher's steps** (the recorder's ``Pending.drain`` and ``Writer.write``, and any
  method named in ``BENCH_PROBE_HOOKS``, wrapped at class level): the thread CPU time of each
  call;
- the **flusher's holds** (``holds``): the thread CPU time between two of its pauses
  (``recording.pipeline.pause``, where it sleeps to let requests in) and from the start of a
  flush to its first pause and from its last to the end. CPU time, so the machine's other load
  does not inflate it; and an upper bound of the GIL hold, since its socket I/O releases the
  GIL too.

Every 250 ms the tick thread writes the cumulative histograms to ``<directory>/<pid>.json``;
the benchmark reads them around each run and subtracts (`read`, `delta`, `summary`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["Histogram", "delta", "install", "read", "summary"]

TICK = 0.001
_DUMP_EVERY = 0.25


class Histogram:
    """Durations in µs: 50 µs buckets to 10 ms, 1 ms buckets to 200 ms, then one overflow."""

    FINE, COARSE = 200, 190  # 0-10 ms by 50 µs, 10-200 ms by 1 ms

    def __init__(self) -> None:
        self.counts = [0] * (self.FINE + self.COARSE + 1)
        self.total = 0
        self.worst = 0.0

    def add(self, us: float) -> None:
        if us < 10_000:
            index = int(us // 50) if us > 0 else 0
        elif us < 200_000:
            index = self.FINE + int((us - 10_000) // 1000)
        else:
            index = len(self.counts) - 1
        self.counts[index] += 1
        self.total += 1
        if us > self.worst:
            self.worst = us

    @classmethod
    def upper(cls, index: int) -> float:
        """A bucket's upper edge in µs."""
        if index < cls.FINE:
            return (index + 1) * 50.0
        if index < cls.FINE + cls.COARSE:
            return 10_000.0 + (index - cls.FINE + 1) * 1000.0
        return float("inf")

    def to_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "total": self.total, "worst_us": self.worst}


class _Probe:
    def __init__(self, directory: Path) -> None:
        self.path = directory / f"{os.getpid()}.json"
        self.thread_lag = Histogram()
        self.loop_lag = Histogram()
        self.gc = {generation: Histogram() for generation in (0, 1, 2)}
        self.steps: dict[str, Histogram] = {}
        self.holds = Histogram()
        self._gc_started = 0.0
        self._lock = threading.Lock()

    # -- the tick thread ----------------------------------------------------------------------

    def run(self) -> None:
        clock, sleep = time.perf_counter, time.sleep
        due = clock() + TICK
        dumped = clock()
        while True:
            pause = due - clock()
            if pause > 0:
                sleep(pause)
            now = clock()
            self.thread_lag.add((now - due) * 1e6)
            if now - dumped >= _DUMP_EVERY:
                self.dump()
                now = dumped = clock()
            # Late ticks are not made up for: the next one is due at most a tick from now.
            due += TICK
            if due < now:
                due = now + TICK

    def dump(self) -> None:
        with self._lock:
            data = {
                "pid": os.getpid(),
                "thread_lag": self.thread_lag.to_json(),
                "loop_lag": self.loop_lag.to_json(),
                "gc": {str(g): h.to_json() for g, h in self.gc.items()},
                "steps": {name: h.to_json() for name, h in self.steps.items()},
                "holds": self.holds.to_json(),
            }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.path)

    # -- the event loop tick ------------------------------------------------------------------

    def start_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        clock = time.perf_counter

        def tick(due: float) -> None:
            now = clock()
            self.loop_lag.add((now - due) * 1e6)
            loop.call_later(TICK, tick, clock() + TICK)

        loop.call_later(TICK, tick, clock() + TICK)

    # -- garbage collections ------------------------------------------------------------------

    def on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc[info["generation"]].add((time.perf_counter() - self._gc_started) * 1e6)

    # -- the flusher's steps ------------------------------------------------------------------

    def hook(self, owner: type, name: str) -> None:
        original = getattr(owner, name)
        histogram = self.steps.setdefault(f"{owner.__name__}.{name}", Histogram())
        cpu = time.thread_time

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = cpu()
            try:
                return original(*args, **kwargs)
            finally:
                histogram.add((cpu() - began) * 1e6)

        setattr(owner, name, timed)

    def hold_meter(self) -> None:
        meter_holds(self.holds)


_probe: _Probe | None = None
# The flusher's CPU-bound steps; BENCH_PROBE_HOOKS adds "module:Class.method" entries.
_HOOKS = (
    "wsgi_analytics.recording.pending:Pending.drain",
    "wsgi_analytics.recording.writer:Writer.write",
)


def meter_holds(holds: Histogram) -> Callable[[], None]:
    """Time the flusher's holds into ``holds``: CPU from a flush's start to its first pause,
    between pauses, and from the last pause to the flush's end. With ``offload=True`` the
    worker's background work is shipping the queue to the helper (`Recorder._ship`): timed
    the same way. Returns the undo."""
    from wsgi_analytics.recording import pipeline, recorder

    cpu = time.thread_time
    started: dict[int, float] = {}
    pause = pipeline.pause
    # the background flusher calls `_flush` (its every-few-seconds parts) or `_ship`
    # (offloaded); flush() calls one of them too
    names = [name for name in ("_flush", "_ship") if hasattr(recorder.Recorder, name)]
    originals = {name: getattr(recorder.Recorder, name) for name in names}

    def timed_pause() -> None:
        me = threading.get_ident()
        began = started.get(me)
        if began is not None:
            holds.add((cpu() - began) * 1e6)
        pause()
        if began is not None:
            started[me] = cpu()

    def timed(work: Callable[..., None]) -> Callable[..., None]:
        def timed_work(self: Any, *args: Any, **kwargs: Any) -> None:
            me = threading.get_ident()
            if me in started:  # flush() calling _flush(): timed once, by the outer call
                work(self, *args, **kwargs)
                return
            started[me] = cpu()
            try:
                work(self, *args, **kwargs)
            finally:
                holds.add((cpu() - started.pop(me)) * 1e6)

        return timed_work

    pipeline.pause = timed_pause
    for name, work in originals.items():
        setattr(recorder.Recorder, name, timed(work))

    def undo() -> None:
        pipeline.pause = pause
        for name, work in originals.items():
            setattr(recorder.Recorder, name, work)

    return undo


def install(directory: str) -> None:
    """Start the probe in this process (once; a forked child starts its own)."""
    global _probe
    if _probe is not None and _probe.path.name == f"{os.getpid()}.json":
        return
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    probe = _probe = _Probe(path)
    gc.callbacks.append(probe.on_gc)
    extra = filter(None, os.environ.get("BENCH_PROBE_HOOKS", "").split(","))
    for spec in (*_HOOKS, *extra):
        module, _, attribute = spec.partition(":")
        owner_name, _, method = attribute.partition(".")
        with contextlib.suppress(ImportError, AttributeError):
            owner = getattr(importlib.import_module(module), owner_name)
            if not hasattr(owner, method):
                continue
            probe.hook(owner, method)
    with contextlib.suppress(ImportError):
        probe.hold_meter()
    threading.Thread(target=probe.run, name="bench-probe", daemon=True).start()


def watch_loop() -> None:
    """Start the event-loop tick on the running loop (once per process)."""
    probe = _probe
    if probe is None or getattr(probe, "_loop_started", False):
        return
    probe._loop_started = True  # type: ignore[attr-defined]
    probe.start_loop(asyncio.get_running_loop())


# -- reading the results -----------------------------------------------------------------------


def read(directory: Path) -> dict[str, dict[str, Any]]:
    """Every process's cumulative probe data, by pid."""
    out: dict[str, dict[str, Any]] = {}
    for path in directory.glob("*.json"):
        with contextlib.suppress(OSError, ValueError):
            out[path.stem] = json.loads(path.read_text())
    return out


def _histograms(data: dict[str, dict[str, Any]], name: str) -> Iterable[tuple[str, list[int]]]:
    for pid, entry in data.items():
        node: Any = entry
        for part in name.split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if node:
            yield pid, node["counts"]


def delta(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], name: str
) -> list[int]:
    """The histogram ``name`` (``thread_lag``, ``gc/2``, ``steps/Pending.drain``) of what
    happened between the two reads, summed over the processes."""
    old = dict(_histograms(before, name))
    total = [0] * (Histogram.FINE + Histogram.COARSE + 1)
    for pid, counts in _histograms(after, name):
        previous = old.get(pid, [0] * len(counts))
        for index, (new, was) in enumerate(zip(counts, previous, strict=True)):
            total[index] += new - was
    return total


def summary(counts: list[int], *, seconds: float | None = None) -> dict[str, Any]:
    """p50/p99/p99.9/max (µs, bucket upper edges), how many over 1 ms and 5 ms."""
    n = sum(counts)

    def quantile(q: float) -> float:
        if not n:
            return float("nan")
        rank, seen = q * n, 0
        for index, count in enumerate(counts):
            seen += count
            if seen >= rank:
                return Histogram.upper(index)
        return float("inf")

    worst = max((i for i, c in enumerate(counts) if c), default=None)
    over_1 = sum(c for i, c in enumerate(counts) if Histogram.upper(i) > 1000)
    over_5 = sum(c for i, c in enumerate(counts) if Histogram.upper(i) > 5000)
    out = {
        "count": n,
        "p50_us": quantile(0.5),
        "p99_us": quantile(0.99),
        "p999_us": quantile(0.999),
        "max_us": Histogram.upper(worst) if worst is not None else float("nan"),
        "over_1ms": over_1,
        "over_5ms": over_5,
    }
    if seconds:
        out["over_1ms_per_s"] = over_1 / seconds
        out["over_5ms_per_s"] = over_5 / seconds
    return out


def probe_factory(make: Callable[[], Any]) -> Callable[[], Any]:
    """``make`` with the probe installed first when ``BENCH_PROBE`` is set."""

    def factory() -> Any:
        directory = os.environ.get("BENCH_PROBE")
        if directory:
            install(directory)
        return make()

    return factory
