"""An open-loop HTTP/1.1 load generator: requests at a fixed rate, latency from their schedule.

Closed-loop tools (``wrk``) send the next request only when a connection is free, so a server
that stalls for 30 ms is simply asked less during those 30 ms and the stall barely shows
("coordinated omission"). Here request ``i`` is *due* at ``start + i / rate`` whatever happened
before; it goes out on the first free connection, and its latency is measured from when it was
due, so every request that arrived during a stall carries the stall (as ``wrk2`` does).

asyncio with uvloop and bare protocols (no HTTP library: a request is pre-built bytes, a reply is
parsed only for its status and ``Content-Length``) keeps the generator's own cost to a few tens
of µs a request. Its timers tick in milliseconds, so a request leaves up to ~1 ms after it is
due: ``send_lag`` reports that delay, which is the same for every app measured; ``service``
latency (from the moment it was written) is reported beside the corrected one.

Connections are kept alive and reused (``--connections`` of them); a server that answers
``Connection: close`` (gunicorn's sync worker) gets a new connection for each request, whose
connect time counts in the latency, as it does for a real client.

Run as its own process (``python -m benchmarks.loadgen --port P --rate R --duration D``); it
prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import resource
import sys
import time
from typing import Any, cast

from . import traffic

__all__ = ["main", "percentiles", "run"]


def requests_bytes(count: int, host: str) -> list[bytes]:
    """The shared realistic stream as raw HTTP/1.1 requests (keep-alive)."""
    out = []
    for request in traffic.stream(count):
        target = request.path + ("?" + request.query if request.query else "")
        lines = [
            f"GET {target} HTTP/1.1",
            f"Host: {host}",
            f"User-Agent: {request.agent}",
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Language: en-US,en;q=0.5",
        ]
        if request.referrer:
            lines.append(f"Referer: {request.referrer}")
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    return out


class _Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(self, generator: _Generator) -> None:
        self.generator = generator
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.request: list[float] | None = None  # [due, sent]
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def send(self, due: float, payload: bytes) -> None:
        assert self.transport is not None
        self.request = [due, time.perf_counter()]
        self.transport.write(payload)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        length = 0
        at = head.find(b"\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r", at + 16)
            length = int(head[at + 16 : stop if stop >= 0 else len(head)])
        if len(buffer) < end + 4 + length:
            return
        done = time.perf_counter()
        status = int(head[9:12])
        del buffer[: end + 4 + length]
        request, self.request = self.request, None
        self.closing = b"\nconnection: close" in head
        if request is not None:
            self.generator.completed(request[0], request[1], done, status)
        if self.closing:
            assert self.transport is not None
            self.transport.close()
        else:
            self.generator.free(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.generator.lost(self)


class _Generator:
    def __init__(
        self, host: str, port: int, payloads: list[bytes], *, rate: float, connections: int
    ) -> None:
        self.host, self.port = host, port
        self.payloads = payloads
        self.rate = rate
        self.slots = connections  # connections that may exist at once
        self.idle: list[_Connection] = []
        self.open = 0
        self.waiting: collections.deque[float] = collections.deque()
        self.latencies: list[float] = []
        self.service: list[float] = []
        self.send_lag: list[float] = []
        self.errors = 0
        self.non_2xx = 0
        self.outstanding = 0
        self.next_payload = 0
        self.finished = asyncio.Event()
        self.sending = True
        self.tasks: set[asyncio.Future[None]] = set()

    # -- sending ------------------------------------------------------------------------------

    def _payload(self) -> bytes:
        payload = self.payloads[self.next_payload % len(self.payloads)]
        self.next_payload += 1
        return payload

    def dispatch(self) -> None:
        while self.waiting:
            if self.idle:
                self.idle.pop().send(self.waiting.popleft(), self._payload())
            elif self.open < self.slots:
                self.open += 1
                due = self.waiting.popleft()
                task = asyncio.ensure_future(self._connect_and_send(due))
                self.tasks.add(task)  # held until done: the loop keeps only weak references
                task.add_done_callback(self.tasks.discard)
            else:
                return

    async def _connect_and_send(self, due: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, connection = await loop.create_connection(
                lambda: _Connection(self), self.host, self.port
            )
        except OSError:
            self.open -= 1
            self.errors += 1
            self._settled()
            self.dispatch()
            return
        connection.send(due, self._payload())

    # -- replies ------------------------------------------------------------------------------

    def completed(self, due: float, sent: float, done: float, status: int) -> None:
        self.latencies.append(done - due)
        self.service.append(done - sent)
        self.send_lag.append(sent - due)
        if not 200 <= status < 300:
            self.non_2xx += 1
        self._settled()

    def free(self, connection: _Connection) -> None:
        self.idle.append(connection)
        self.dispatch()

    def lost(self, connection: _Connection) -> None:
        self.open -= 1
        with contextlib.suppress(ValueError):
            self.idle.remove(connection)
        if connection.request is not None:  # closed before it answered
            self.errors += 1
            self._settled()
        self.dispatch()

    def _settled(self) -> None:
        self.outstanding -= 1
        if not self.sending and self.outstanding <= 0:
            self.finished.set()

    async def run(self, duration: float, grace: float) -> float:
        clock = time.perf_counter
        total = max(1, int(self.rate * duration))
        interval = 1.0 / self.rate
        start = clock() + 0.05
        index = 0
        while index < total:
            now = clock()
            while index < total and start + index * interval <= now:
                self.waiting.append(start + index * interval)
                self.outstanding += 1
                index += 1
            self.dispatch()
            if index < total:
                await asyncio.sleep(max(0.0, start + index * interval - clock()))
        self.sending = False
        if self.outstanding > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.finished.wait(), grace)
        self.errors += max(0, self.outstanding)  # never answered
        for connection in self.idle:
            if connection.transport is not None:
                connection.transport.close()
        return clock() - start


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p90, p99, p99.9 and max in milliseconds (nearest rank)."""
    if not values:
        nan = float("nan")
        return {"p50_ms": nan, "p90_ms": nan, "p99_ms": nan, "p999_ms": nan, "max_ms": nan}
    ordered = sorted(values)
    n = len(ordered)

    def at(q: float) -> float:
        return ordered[min(n - 1, max(0, int(q * n + 0.5) - 1))] * 1e3

    return {
        "p50_ms": at(0.5),
        "p90_ms": at(0.9),
        "p99_ms": at(0.99),
        "p999_ms": at(0.999),
        "max_ms": ordered[-1] * 1e3,
    }


def run(
    port: int,
    *,
    rate: float,
    duration: float,
    connections: int = 32,
    host: str = "127.0.0.1",
    grace: float = 10.0,
) -> dict[str, Any]:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    payloads = requests_bytes(2000, traffic.HOST)
    generator = _Generator(host, port, payloads, rate=rate, connections=connections)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = asyncio.run(generator.run(duration, grace))
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return {
        "target_rate": rate,
        "duration_s": duration,
        "completed": len(generator.latencies),
        "achieved_rate": len(generator.latencies) / elapsed if elapsed > 0 else 0.0,
        "errors": generator.errors,
        "non_2xx": generator.non_2xx,
        "latency": percentiles(generator.latencies),
        "service": percentiles(generator.service),
        "send_lag": percentiles(generator.send_lag),
        "generator_cpu_share": cpu / elapsed if elapsed > 0 else 0.0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--rate", type=float, required=True, help="requests per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of sending")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args(argv)
    result = run(
        args.port,
        rate=args.rate,
        duration=args.duration,
        connections=args.connections,
        host=args.host,
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
