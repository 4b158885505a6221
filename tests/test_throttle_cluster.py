"""The throttle on a Redis Cluster: one slot per client, several rules in one script call."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import Iterator

import pytest
import redis
import redis.cluster

from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.recorder import Recorder
from wsgi_analytics.throttle import Rule, Throttle

from .test_throttle import post


def _port_pair() -> int:
    """A free port that leaves room for the cluster bus port (port + 10000)."""
    for _ in range(100):
        port = random.randrange(20000, 50000)
        with socket.socket() as one, socket.socket() as bus:
            try:
                one.bind(("127.0.0.1", port))
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


@pytest.fixture(scope="module")
def cluster_url() -> Iterator[str]:
    """Three primaries on loopback, 16384 slots split between them."""
    nodes = [
        EmbeddedServer(_port_pair(), prefer="redis-server", extra_args=("--cluster-enabled", "yes"))
        for _ in range(3)
    ]
    try:
        for node in nodes:
            node.start()
        bounds = [(0, 5460), (5461, 10922), (10923, 16383)]
        for node, (low, high) in zip(nodes, bounds, strict=True):
            with redis.Redis(port=node.port) as conn:
                conn.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
                for other in nodes:
                    conn.execute_command("CLUSTER", "MEET", "127.0.0.1", other.port)
        with redis.Redis(port=nodes[0].port) as conn:
            deadline = time.monotonic() + 20
            while b"cluster_state:ok" not in conn.execute_command("CLUSTER", "INFO"):
                assert time.monotonic() < deadline, "cluster did not form"
                time.sleep(0.1)
        yield f"redis+cluster://127.0.0.1:{nodes[0].port}/0"
    finally:
        for node in nodes:
            node.close()


LOGIN = Rule(2, 600, path="/login", name="login")


@pytest.mark.slow
@pytest.mark.parametrize(
    "from_url", [pytest.param(True, id="url"), pytest.param(False, id="recorder's client")]
)
def test_cluster(cluster_url: str, from_url: bool) -> None:
    recorder = Recorder(cluster_url, flush_interval=60)
    assert isinstance(recorder.client, redis.cluster.RedisCluster)
    throttle = Throttle(limit=3, window=60, rules=[LOGIN])
    url = cluster_url if from_url else None
    peers = (
        [f"198.51.100.{i}" for i in range(20)] if from_url else [f"192.0.2.{i}" for i in range(20)]
    )
    try:
        gate = throttle.bind_sync(recorder, url)
        agate = throttle.bind_async(recorder, url)
        # Many clients: their keys land on every node, each client's rules in one slot.
        for peer in peers[:10]:
            outcomes = [gate.check(post("/login", peer=peer), 0) for _ in range(3)]
            assert [outcome is None for outcome in outcomes] == [True, True, False]

        async def run() -> list[bool]:
            return [
                await agate.check(post(path, peer=peer), 0) is None
                for peer in peers[10:]
                for path in ("/login", "/a", "/a", "/a")
            ]

        assert asyncio.run(run()) == [True, True, True, False] * 10
    finally:
        throttle.close()
        recorder.close()
