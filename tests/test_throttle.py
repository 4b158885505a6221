"""The throttle's gates against a real server: exact counts, headers, keys, rules, policies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis

from wsgi_analytics.embedded import EmbeddedServer
from wsgi_analytics.recording.recorder import Recorder
from wsgi_analytics.request.facts import Facts, from_environ
from wsgi_analytics.throttle import Rule, Throttle
from wsgi_analytics.throttle.gates import SyncGate
from wsgi_analytics.throttle.policy import Refusal, refusal
from wsgi_analytics.throttle.window import Decision, parse_reply

CLIENT = "203.0.113.7"
OTHER = "203.0.113.8"


def post(path: str = "/comment", peer: str | None = CLIENT, forwarded: str = "") -> Facts:
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": path}
    if peer is not None:
        environ["REMOTE_ADDR"] = peer
    if forwarded:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    return from_environ(environ)


def header(refused: Refusal, name: str) -> str:
    found = [value for key, value in refused.headers if key.lower() == name.lower()]
    assert len(found) == 1, (name, refused.headers)
    return found[0]


def throttle_keys(client: redis.Redis, rule: str = "default") -> list[str]:
    return sorted(cast("list[str]", client.keys(f"{{analytics:throttle:*}}:{rule}")))


def check_429(refused: Refusal | None, limit: int, window: int, rule: str = "default") -> int:
    """Assert a well-formed 429 and return its Retry-After."""
    assert refused is not None
    assert refused.status == 429
    assert refused.status_line == "429 Too Many Requests"
    assert header(refused, "Content-Type") == "text/plain; charset=utf-8"
    assert header(refused, "Content-Length") == str(len(refused.body))
    assert 0 < len(refused.body) < 100
    retry = int(header(refused, "Retry-After"))
    assert 1 <= retry <= window
    assert f'"{rule}";q={limit};w={window}' in header(refused, "RateLimit-Policy")
    match = re.fullmatch(rf'"{rule}";r=0;t=(\d+)', header(refused, "RateLimit"))
    assert match is not None
    assert int(match.group(1)) == retry
    return retry


@pytest.fixture
def throttles() -> Iterator[list[Throttle]]:
    made: list[Throttle] = []
    yield made
    for throttle in made:
        throttle.close()


@pytest.fixture
def bind(recorder: Recorder, throttles: list[Throttle]) -> Any:
    def bind(*args: Any, **kwargs: Any) -> SyncGate:
        throttle = Throttle(*args, **kwargs)
        throttles.append(throttle)
        return throttle.bind_sync(client=recorder.client)

    return bind


def test_five_pass_the_sixth_is_refused(bind: Any, client: redis.Redis) -> None:
    gate = bind()
    outcomes = [gate.check(post(), 0) for _ in range(6)]
    assert outcomes[:5] == [None] * 5
    check_429(outcomes[5], limit=5, window=3600)


def test_refused_attempts_are_not_recorded(bind: Any, client: redis.Redis) -> None:
    gate = bind(limit=3, window=60)
    outcomes = [gate.check(post(), 0) for _ in range(20)]
    assert outcomes.count(None) == 3
    (key,) = throttle_keys(client)
    assert client.zcard(key) == 3  # at most `limit` timestamps per client, whatever it sends
    assert 0 < client.pttl(key) <= 60_000


def test_another_client_is_not_affected(bind: Any) -> None:
    gate = bind(limit=2, window=60)
    assert [gate.check(post(peer=CLIENT), 0) for _ in range(3)][:2] == [None, None]
    assert gate.check(post(peer=CLIENT), 0) is not None
    assert [gate.check(post(peer=OTHER), 0) for _ in range(2)] == [None, None]


def test_methods() -> None:
    assert Throttle().methods == frozenset({"POST"})
    assert Throttle(methods=["post", "Put"]).methods == frozenset({"POST", "PUT"})
    assert Throttle(methods="delete").methods == frozenset({"DELETE"})


@pytest.mark.parametrize(
    ("peers", "forwarded", "hops", "accepted"),
    [
        pytest.param([CLIENT], [f"198.51.100.{i}" for i in range(6)], 0, 3, id="spoofs share"),
        pytest.param(["10.0.0.1"], [f"198.51.100.{i}" for i in range(6)], 1, 6, id="proxied"),
        pytest.param(
            ["10.0.0.1"],
            ["6.6.6.1, 198.51.100.1", "6.6.6.2, 198.51.100.1"],
            1,
            3,
            id="spoofed left of the proxy's entry",
        ),
        pytest.param(["2001:db8::1", "2001:db8::2", "2001:db8::3:4"], [""], 0, 3, id="one /64"),
        pytest.param(["192.0.2.1", "::ffff:192.0.2.1"], [""], 0, 3, id="mapped is the same"),
    ],
)
def test_who_shares_a_quota(
    bind: Any, peers: list[str], forwarded: list[str], hops: int, accepted: int
) -> None:
    gate = bind(limit=3, window=60)
    outcomes = [
        gate.check(post(peer=peers[i % len(peers)], forwarded=forwarded[i % len(forwarded)]), hops)
        for i in range(6)
    ]
    assert outcomes.count(None) == accepted


def test_no_client_address_is_let_through_with_a_warning(
    bind: Any, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    gate = bind(limit=1, window=60)
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        outcomes = [gate.check(post(peer=None), 0) for _ in range(3)]
        outcomes += [gate.check(post(peer="10.0.0.1", forwarded="unknown"), 1)]
    assert outcomes == [None] * 4
    assert "no usable client address" in caplog.text
    assert len(caplog.records) == 1  # rate-limited
    assert throttle_keys(client) == []  # no shared "unknown" bucket


def test_keys_hold_no_raw_address(bind: Any, client: redis.Redis) -> None:
    gate = bind()
    gate.check(post(peer=CLIENT), 0)
    gate.check(post(peer="2001:db8::1"), 0)
    names = cast("list[str]", client.keys("*"))
    assert len(throttle_keys(client)) == 2, names
    # "2001:db8", not "2001": four hex digits of a key's hash may read "2001" by chance.
    assert not [name for name in names if CLIENT in name or "2001:db8" in name], names
    assert client.exists("{analytics:throttle}:secret")


def test_workers_share_a_quota(bind: Any) -> None:
    # Two gates are two workers: they must hash the client alike and share its quota.
    first, second = bind(limit=4, window=60), bind(limit=4, window=60)
    outcomes = [(first if i % 2 else second).check(post(), 0) for i in range(6)]
    assert outcomes.count(None) == 4


def test_own_secret_stays_out_of_redis(bind: Any, client: redis.Redis) -> None:
    first, second = bind(limit=2, secret="s3cret"), bind(limit=2, secret=b"s3cret")
    assert [first.check(post(), 0), second.check(post(), 0)] == [None, None]
    assert second.check(post(), 0) is not None
    other = bind(limit=2, secret="another")
    assert other.check(post(), 0) is None  # another secret, another key
    assert not client.exists("{analytics:throttle}:secret")
    assert len(throttle_keys(client)) == 2


LOGIN = Rule(2, 600, path="/login", name="login")
BOTH = '"default";q=5;w=3600, "login";q=2;w=600'
DEFAULT = '"default";q=5;w=3600'


@pytest.mark.parametrize(
    ("paths", "accepted", "refused_by", "policy"),
    [
        pytest.param(["/login"] * 3, 2, "login", BOTH, id="tighter rule on its prefix"),
        pytest.param(["/login/otp"] * 3, 2, "login", BOTH, id="covers sub-paths"),
        pytest.param(["/logins"] * 6, 5, "default", DEFAULT, id="not another path"),
        pytest.param(["/comment"] * 6, 5, "default", DEFAULT, id="others use the default"),
        pytest.param(
            ["/login"] * 2 + ["/a"] * 4,
            5,
            "default",
            DEFAULT,
            id="accepted login requests count in the default too",
        ),
        pytest.param(
            ["/login"] * 4 + ["/a"] * 4,
            5,
            "default",
            DEFAULT,
            id="refused login requests count nowhere",
        ),
        pytest.param(
            ["/a"] * 5 + ["/login"], 5, "default", BOTH, id="login refused by the default rule"
        ),
    ],
)
def test_rules(bind: Any, paths: list[str], accepted: int, refused_by: str, policy: str) -> None:
    gate = bind(rules=[LOGIN])
    outcomes = [gate.check(post(path=path), 0) for path in paths]
    assert outcomes.count(None) == accepted
    last = outcomes[-1]
    limit, window = (2, 600) if refused_by == "login" else (5, 3600)
    check_429(last, limit=limit, window=window, rule=refused_by)
    assert last is not None
    assert header(last, "RateLimit-Policy") == policy


def test_lowered_limit_trims_the_set(bind: Any, client: redis.Redis) -> None:
    generous = bind(limit=5, window=60)
    for _ in range(5):
        assert generous.check(post(), 0) is None
    strict = bind(limit=3, window=60)
    check_429(strict.check(post(), 0), limit=3, window=60)
    (key,) = throttle_keys(client)
    assert client.zcard(key) == 3


def test_script_reloaded_after_flush(bind: Any, client: redis.Redis) -> None:
    gate = bind(limit=3, window=60)
    assert gate.check(post(), 0) is None
    client.script_flush()  # NOSCRIPT on the next EVALSHA: loaded again, not an error
    assert [gate.check(post(), 0) for _ in range(3)][:2] == [None, None]
    (key,) = throttle_keys(client)
    assert client.zcard(key) == 3


def redis_now(client: redis.Redis) -> int:
    seconds, micros = client.time()
    return seconds * 1_000_000 + micros


def test_same_microsecond_gets_its_own_member(bind: Any, client: redis.Redis) -> None:
    gate = bind(limit=1_000_000, window=60)
    assert gate.check(post(), 0) is None
    (key,) = throttle_keys(client)
    # Every microsecond of a stretch of Redis time is taken already; a request made inside it
    # collides with an existing member and must still be stored as a member of its own.
    start = redis_now(client) + 500_000
    taken = {str(start + offset): start + offset for offset in range(100_000)}
    client.zadd(key, taken)
    while redis_now(client) < start:
        pass
    assert gate.check(post(), 0) is None
    if redis_now(client) < start + 100_000:  # the check ran inside the stretch
        suffixed = [m for m in cast("list[str]", client.zrange(key, 0, -1)) if "-" in m]
        assert len(suffixed) == 1
    assert client.zcard(key) == 100_002


def test_wrong_type_key_follows_the_failure_policy(
    bind: Any, client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    open_gate = bind(limit=2, window=60)
    assert open_gate.check(post(), 0) is None
    (key,) = throttle_keys(client)
    client.delete(key)
    client.set(key, "not a sorted set")
    closed_gate = bind(limit=2, window=60, fail_open=False)
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        assert open_gate.check(post(), 0) is None
        refused = closed_gate.check(post(), 0)
    assert refused is not None
    assert refused.status == 503
    assert "WRONGTYPE" in caplog.text


def test_async_gate(recorder: Recorder, throttles: list[Throttle]) -> None:
    throttle = Throttle(limit=5, window=3600)
    throttles.append(throttle)
    gate = throttle.bind_async(client=recorder.client)

    async def six() -> list[Refusal | None]:
        return [await gate.check(post(), 0) for _ in range(6)]

    outcomes = asyncio.run(six())
    assert outcomes[:5] == [None] * 5
    check_429(outcomes[5], limit=5, window=3600)
    # Another loop (test clients make one per request): the gate makes a client there too,
    # and the first loop's client closed with its loop (no unclosed-resource warning).
    assert asyncio.run(six()) == outcomes[5:] * 6


def test_async_gate_aclose(recorder: Recorder, throttles: list[Throttle]) -> None:
    throttle = Throttle(limit=1, window=60)
    throttles.append(throttle)
    gate = throttle.bind_async(client=recorder.client)

    async def run() -> list[Refusal | None]:
        first = await gate.check(post(), 0)
        await gate.aclose()
        second = await gate.check(post(), 0)  # a fresh client for this loop
        await gate.aclose()
        return [first, second]

    first, second = asyncio.run(run())
    assert first is None
    check_429(second, limit=1, window=60)


def test_gate_follows_a_recorder_given_a_client(
    redis_url: str, client: redis.Redis, throttles: list[Throttle]
) -> None:
    given = redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=30)
    recorder = Recorder(client=given)
    throttle = Throttle(limit=1, window=60)
    throttles.append(throttle)
    try:
        gate = throttle.bind_sync(client=recorder.client)
        assert gate.check(post(), 0) is None
        agate = throttle.bind_async(client=recorder.client)
        check_429(asyncio.run(agate.check(post(), 0)), limit=1, window=60)
        assert len(throttle_keys(client)) == 1
    finally:
        recorder.close()
        throttle.close()
        assert given.ping()  # not ours: left open
        given.close()


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"limit": 0}, id="limit 0"),
        pytest.param({"limit": 2.5}, id="fractional limit"),
        pytest.param({"window": 0}, id="window 0"),
        pytest.param({"name": "has space"}, id="bad name"),
        pytest.param({"rules": [Rule(1, 1, name="default")]}, id="duplicate name"),
        pytest.param({"rules": [Rule(1, 1, path="login", name="x")]}, id="relative path"),
        pytest.param({"methods": ()}, id="no methods"),
        pytest.param({"timeout": 0}, id="timeout 0"),
    ],
)
def test_invalid_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Throttle(**options)


RULES = [Rule(5, 3600), Rule(2, 90.5, path="/login", name="login")]


@pytest.mark.parametrize(
    ("reply", "retry", "state"),
    [
        pytest.param([0, 0, 1_000_001, 1, 7], 2, '"default";r=0;t=2', id="default spent"),
        pytest.param([0, 3, 9_000_000, 0, 80_000_000], 80, '"login";r=0;t=80', id="login spent"),
        pytest.param(
            [0, 0, 500, 0, 30_000_000],
            30,
            '"default";r=0;t=1, "login";r=0;t=30',
            id="both: the later wins",
        ),
    ],
)
def test_refusal_headers(reply: list[int], retry: int, state: str) -> None:
    refused = refusal(RULES, parse_reply(reply, RULES))
    assert header(refused, "Retry-After") == str(retry)
    assert header(refused, "RateLimit") == state
    assert header(refused, "RateLimit-Policy") == '"default";q=5;w=3600, "login";q=2;w=91'


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(None, id="nil"),
        pytest.param([1, 2], id="short"),
        pytest.param([1, 2, 3, 4, 5, 6], id="long"),
        pytest.param([1, b"x", 3, 4, 5], id="not a number"),
    ],
)
def test_malformed_reply(reply: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_reply(reply, RULES)


def test_decision_round_trip() -> None:
    assert parse_reply([1, 4, 10, 1, 20], RULES) == Decision(True, (4, 1), (10, 20))


class OddConnection(redis.connection.Connection):
    """A connection class the throttle does not know how to copy."""


def test_unknown_connection_class(
    redis_url: str, client: redis.Redis, throttles: list[Throttle]
) -> None:
    pool = redis.ConnectionPool.from_url(redis_url, connection_class=OddConnection)
    given = redis.Redis(connection_pool=pool)
    recorder = Recorder(client=given)
    throttle = Throttle(limit=1, window=60)
    throttles.append(throttle)
    try:
        gate = throttle.bind_sync(client=recorder.client)  # shares the recorder's client
        assert gate.check(post(), 0) is None
        check_429(gate.check(post(), 0), limit=1, window=60)
        with pytest.raises(ValueError, match="redis_url"):
            throttle.bind_async(client=recorder.client)  # at startup, not on the first request
        throttle.close()
        assert given.ping()  # shared, so not closed by the throttle
    finally:
        recorder.close()
        pool.disconnect()


def test_a_bug_is_logged_not_raised(
    bind: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    open_gate, closed_gate = bind(), bind(fail_open=False)

    def broken(*args: object) -> None:
        raise KeyError("oops")

    for gate in (open_gate, closed_gate):
        monkeypatch.setattr(gate.policy, "call", broken)
    with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
        assert [open_gate.check(post(), 0) for _ in range(3)] == [None] * 3
        refused = closed_gate.check(post(), 0)
    assert refused is not None
    assert refused.status == 503
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # once, with the traceback
    assert "KeyError" in errors[0].getMessage()
    assert "Traceback" in errors[0].getMessage()


# -- the sync gate's raw socket path: the server settings it must follow -------------------------


def _require_password(server: EmbeddedServer, password: str) -> None:
    # set once the server answers: the embedded server's readiness check sends no password
    with redis.Redis(port=server.port) as admin:
        admin.config_set("requirepass", password)


@pytest.mark.parametrize(
    ("server_args", "password", "url_auth", "db"),
    [
        pytest.param((), "", "", 0, id="plain"),
        pytest.param((), "", "", 3, id="database 3"),
        pytest.param((), "pw", ":pw@", 2, id="password"),
        pytest.param(
            ("--user", "bob", "on", ">pw2", "~*", "&*", "+@all"), "", "bob:pw2@", 0, id="acl"
        ),
    ],
)
def test_raw_path_follows_the_server_settings(
    server_args: tuple[str, ...],
    password: str,
    url_auth: str,
    db: int,
    throttles: list[Throttle],
) -> None:
    with EmbeddedServer(prefer="redis-server", extra_args=server_args) as server:
        if password:
            _require_password(server, password)
        url = f"redis://{url_auth}127.0.0.1:{server.port}/{db}"
        throttle = Throttle(limit=2, window=60)
        throttles.append(throttle)
        gate = throttle.bind_sync(redis_url=url)
        outcomes = [gate.check(post(), 0) for _ in range(3)]
        assert [getattr(outcome, "status", None) for outcome in outcomes] == [None, None, 429]
        agate = throttle.bind_async(redis_url=url)

        async def three() -> list[Refusal | None]:
            return [await agate.check(post(peer=OTHER), 0) for _ in range(3)]

        outcomes = asyncio.run(three())
        assert [getattr(outcome, "status", None) for outcome in outcomes] == [None, None, 429]
        with redis.Redis.from_url(url, decode_responses=True) as reader:
            keys = throttle_keys(reader)
            assert [reader.zcard(key) for key in keys] == [2, 2]
        throttle.close()


def test_async_raw_path_reloads_the_script_and_survives_a_cancel(
    recorder: Recorder, client: redis.Redis, throttles: list[Throttle]
) -> None:
    throttle = Throttle(limit=3, window=60)
    throttles.append(throttle)
    gate = throttle.bind_async(client=recorder.client)

    async def run() -> list[Refusal | None]:
        first = await gate.check(post(), 0)
        client.script_flush()  # NOSCRIPT on the next EVALSHA: loaded again, not an error
        second = await gate.check(post(), 0)
        # A request cancelled while its script call is in flight (the client went away):
        # its connection may still get that reply, so it is never used again.
        task = asyncio.ensure_future(gate.check(post(), 0))
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return [first, second, await gate.check(post(), 0), await gate.check(post(), 0)]

    outcomes = asyncio.run(run())
    assert outcomes[:2] == [None, None]
    # the cancelled call may or may not have reached Redis before it was dropped
    assert [getattr(outcome, "status", None) for outcome in outcomes[2:]] in (
        [None, 429],
        [429, 429],
    )
    (key,) = throttle_keys(client)
    assert client.zcard(key) == 3


def test_raw_path_with_a_wrong_password_fails_open(
    throttles: list[Throttle], caplog: pytest.LogCaptureFixture
) -> None:
    with EmbeddedServer(prefer="redis-server") as server:
        _require_password(server, "pw")
        throttle = Throttle(limit=1, window=60, secret="s" * 32)  # no secret to read first
        throttles.append(throttle)
        gate = throttle.bind_sync(redis_url=f"redis://:wrong@127.0.0.1:{server.port}/0")
        with caplog.at_level(logging.WARNING, logger="wsgi_analytics"):
            assert gate.check(post(), 0) is None
        assert "AuthenticationError" in caplog.text
        throttle.close()


def test_raw_path_in_a_forked_child(bind: Any, client: redis.Redis) -> None:
    gate = bind(limit=3, window=60)
    assert gate.check(post(), 0) is None  # the parent holds a connection now
    pid = os.fork()
    if pid == 0:  # the child: its own connection, never the parent's
        code = 0 if gate.check(post(), 0) is None else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert gate.check(post(), 0) is None  # the parent's connection still in step
    check_429(gate.check(post(), 0), limit=3, window=60)
