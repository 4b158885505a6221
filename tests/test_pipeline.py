"""The writer's stepped pipeline answers as redis-py's pipeline does, on a real server."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.recording import pipeline
from wsgi_analytics.recording.pipeline import Pipeline

SCRIPT = "for i = 1, #ARGV, 2 do redis.call('ZINCRBY', KEYS[1], ARGV[i + 1], ARGV[i]) end"


def _fill(pipe: Any, members: int) -> None:
    args: list[Any] = []
    for index in range(members):
        args += (f"/p{index}/é", index + 1)
    pipe.execute_command("EVAL", SCRIPT, 1, "z", *args)
    pipe.execute_command("SET", "s", "text")
    pipe.execute_command("ZINCRBY", "s", 1, "x")  # WRONGTYPE: an error reply in its place
    pipe.zremrangebyrank("z", 0, -4)
    pipe.expireat("z", 4_000_000_000)
    pipe.pfadd("h", b"\x00\x01", b"\x02")
    pipe.delete("nothing", "s")


@pytest.mark.parametrize(
    "members",
    [pytest.param(3, id="small"), pytest.param(5000, id="many steps in one command")],
)
def test_replies_as_redis_py_does(
    members: int, client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "STEP_ARGUMENTS", 64)  # many pauses even for a small input
    expected = client.pipeline(transaction=False)
    _fill(expected, members)
    wanted = expected.execute(raise_on_error=False)
    state = {key: client.dump(key) for key in ("z", "h")}
    client.flushdb()
    ours = Pipeline(client)
    _fill(ours, members)
    assert len(ours) == 7
    got = ours.execute(raise_on_error=False)
    assert len(got) == len(wanted)
    for mine, theirs in zip(got, wanted, strict=True):
        if isinstance(theirs, redis.ResponseError):
            assert isinstance(mine, redis.ResponseError)
            assert str(mine).startswith("WRONGTYPE")
        else:
            # raw replies: redis-py's callbacks (1 -> True, "OK" -> True) are not applied
            assert mine == theirs or (mine, theirs) in ((1, True), (0, False), ("OK", True))
    assert {key: client.dump(key) for key in ("z", "h")} == state
    assert client.zcard("z") == min(members, 3)
    assert ours.execute() == []  # emptied by execute


def test_raise_on_error_raises_the_first(client: redis.Redis) -> None:
    ours = Pipeline(client)
    ours.execute_command("SET", "s", "text")
    ours.execute_command("ZINCRBY", "s", 1, "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        ours.execute()


def test_a_lost_server_raises_and_the_next_connection_works() -> None:
    server = EmbeddedServer(prefer="redis-server").start()
    client = redis.Redis(port=server.port, socket_timeout=2)
    try:
        ours = Pipeline(client)
        ours.execute_command("PING")
        assert ours.execute() == [b"PONG"]  # the raw reply: no redis-py callbacks
        server.stop()
        ours.execute_command("PING")
        with pytest.raises(redis.ConnectionError):
            ours.execute()
        server.start()
        ours.execute_command("SET", "k", "v")
        assert ours.execute() == [b"OK"]
    finally:
        client.close()
        server.close()
