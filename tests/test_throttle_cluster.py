"""The throttle on a Redis Cluster: one slot per client, several rules in one script call."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.cluster

from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.throttle import Rule, Throttle

from .cluster import ClusterNodes, cluster_nodes
from .test_throttle import post

# the fixture, imported for pytest
__all__ = ["cluster_nodes"]


@pytest.fixture
def cluster_url(cluster_nodes: ClusterNodes) -> str:
    """A local three-primary cluster (`tests.cluster`), emptied for this test."""
    cluster_nodes.flush()
    return cluster_nodes.url


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
        gate = throttle.bind_sync(redis_url=url, client=recorder.client)
        agate = throttle.bind_async(redis_url=url, client=recorder.client)
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
