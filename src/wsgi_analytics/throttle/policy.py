"""What both throttle gates do around their one round trip, and the responses they send: who the
client is, which keys and arguments the script gets, what its reply means, the failure policy,
and the `Refusal` (429, or 503 while Redis cannot be asked). No I/O here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import secrets
import time
import traceback
from collections.abc import Sequence
from typing import NamedTuple

import redis

from .._log import warn_limited
from ..keys import Keys
from ..request.facts import Facts
from ..request.identity import client_identity
from .window import Decision, Rule, parse_reply, script_args

__all__ = ["Call", "Policy", "Refusal", "SharedSecret", "refusal", "unavailable"]

# Failures of the transport: after one, Redis is left alone for REST seconds, so a dead or
# black-holed server costs one timeout per second, not one per request.
_TRANSPORT = (redis.ConnectionError, redis.TimeoutError, OSError, asyncio.TimeoutError)
REST = 1.0
# How long the secret read from Redis is used before it is read again (in the same round trip
# as a decision: `SharedSecret`). A Redis restarted empty, flushed, or a failover to a replica
# that lacks it: the workers agree again within this.
SECRET_TTL = 1.0


class Refusal(NamedTuple):
    """The response for a request the throttle stops; the wrapped app is not called."""

    status: int
    status_line: str
    headers: list[tuple[str, str]]
    body: bytes


def _seconds(microseconds: int) -> int:
    return max(1, -(-microseconds // 1_000_000))


def refusal(rules: Sequence[Rule], decision: Decision) -> Refusal:
    """The 429 for a refused decision, headers per draft-ietf-httpapi-ratelimit-headers.

    ``RateLimit-Policy`` lists every rule that applied; ``RateLimit`` the exhausted ones, whose
    ``t`` is when a slot frees. ``Retry-After`` is the latest of those, so it never points
    before a ``t`` it sits next to.
    """
    policy = ", ".join(
        f'"{rule.name}";q={rule.limit};w={max(1, math.ceil(rule.window))}' for rule in rules
    )
    spent = [
        (rule, _seconds(wait))
        for rule, left, wait in zip(rules, decision.remaining, decision.waits, strict=True)
        if left <= 0
    ]
    retry = max((wait for _, wait in spent), default=1)
    state = ", ".join(f'"{rule.name}";r=0;t={wait}' for rule, wait in spent)
    body = f"Too many requests. Try again in {retry} s.\n".encode()
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
        ("Retry-After", str(retry)),
        ("RateLimit-Policy", policy),
    ]
    if state:
        headers.append(("RateLimit", state))
    return Refusal(429, "429 Too Many Requests", headers, body)


_UNAVAILABLE_BODY = b"Service temporarily unavailable. Try again shortly.\n"


def unavailable(retry: int = 1) -> Refusal:
    """The 503 of ``fail_open=False`` while Redis cannot be asked."""
    headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(_UNAVAILABLE_BODY))),
        ("Retry-After", str(max(1, retry))),
    ]
    return Refusal(503, "503 Service Unavailable", headers, _UNAVAILABLE_BODY)


class Call(NamedTuple):
    """One script call: its KEYS and ARGV, and the rules they stand for."""

    keys: list[str]
    args: list[int]
    rules: list[Rule]


class SharedSecret:
    """The hashing secret all workers share through Redis, and when to read it again.

    Every worker must hash a client alike, or each holds its own buckets and the limit counts
    once per worker. The first to ask stores a random secret (``SET NX``); the others read it.
    A Redis that restarts empty (or is flushed) loses it: a worker that kept its old secret
    while a newer one created another would split every client's buckets. So the gates read it
    again every `SECRET_TTL` seconds and after any transport failure, with ``SET key known NX``
    + ``GET key`` pipelined with the decision itself (still one round trip), deciding again
    only if it changed; the worker that asks first after a restart puts back the secret it
    knows, and all the others adopt it.
    """

    def __init__(self, key: str) -> None:
        self.key = key
        self._stored: bytes | None = None
        self.known: bytes | None = None  # the secret last read, fresh or not
        self._read_at = 0.0

    def take(self) -> tuple[bytes | None, bool]:
        """The secret to decide with (``None``: none yet, read it first), and whether this
        caller is to read it again alongside (one caller a `SECRET_TTL`; the others go on
        deciding with the known one meanwhile, so a busy worker does not read it N times)."""
        known = self.known
        now = time.monotonic()
        if known is not None and now - self._read_at <= SECRET_TTL:
            return known, False
        self._read_at = now  # this caller reads it; `suspect` hands the turn on if it fails
        return known, True

    def proposal(self) -> bytes:
        """What to ``SET NX``: the secret this worker knows, else a new random one."""
        return self._stored or secrets.token_hex(32).encode()

    def learn(self, stored: object) -> bytes:
        """The secret from the ``GET`` reply (raised when it is an error): now current."""
        if isinstance(stored, Exception):
            raise stored
        raw = stored.encode() if isinstance(stored, str) else stored
        if not isinstance(raw, bytes):
            raise ValueError("throttle secret missing in Redis")
        secret = self.known
        if secret is None or raw != self._stored:
            secret = self.known = hashlib.blake2b(raw, digest_size=32).digest()
            self._stored = raw
        self._read_at = time.monotonic()
        return secret

    def suspect(self) -> None:
        """Redis failed us: it may come back empty, so read it with the next decision."""
        self._read_at = 0.0


class Policy:
    """What both gates do around the round trip (no I/O here). ``rest`` is how long Redis is
    left alone after a transport failure."""

    def __init__(
        self,
        rules: Sequence[Rule],
        *,
        fail_open: bool,
        secret: bytes | None,
        keys: Keys,
        rest: float | None = None,
    ) -> None:
        self.rules = tuple(rules)
        self.single = len(self.rules) == 1
        self.args = script_args(self.rules)
        self.fail_open = fail_open
        self.secret = secret  # the application's own, never stored in Redis
        self.keys = keys
        self.secret_key = keys.throttle_secret()
        self.shared = SharedSecret(self.secret_key)
        self.rest = REST if rest is None else rest
        self.resting_until = 0.0

    def start(self, facts: Facts, trusted_proxies: int) -> tuple[str | None, Refusal | None]:
        """``(client, None)`` to ask Redis about ``client``; ``(None, answer)`` to answer now
        without asking (no usable address: let through; Redis resting: the failure policy)."""
        who = client_identity(facts.client, facts.forwarded_for, trusted_proxies)
        if who is None:
            warn_limited(
                "throttle-anonymous",
                "wsgi_analytics: %s %s has no usable client address; not throttled "
                "(check trusted_proxies and the proxy's X-Forwarded-For)",
                facts.method,
                facts.path[:100],
            )
            return None, None
        if time.monotonic() < self.resting_until:
            return None, self.failed(None)
        return who, None

    def call(self, who: str, path: str, secret: bytes) -> Call:
        """KEYS and ARGV for the script, and the rules they stand for."""
        digest = hashlib.blake2b(who.encode(), key=secret, digest_size=16).hexdigest()
        if self.single:
            rule = self.rules[0]
            return Call([self.keys.throttle_bucket(digest, rule.name)], self.args, [rule])
        rules = [rule for rule in self.rules if rule.covers(path)]
        keys = [self.keys.throttle_bucket(digest, rule.name) for rule in rules]
        return Call(keys, script_args(rules), rules)

    def answer(self, reply: object, rules: list[Rule]) -> Refusal | None:
        decision = parse_reply(reply, rules)
        return None if decision.allowed else refusal(rules, decision)

    def failed(self, error: BaseException | None) -> Refusal | None:
        """The failure policy; ``error`` None means Redis is resting after a recent failure."""
        if error is not None:
            if isinstance(error, _TRANSPORT):
                self.resting_until = time.monotonic() + self.rest
                self.shared.suspect()
            if isinstance(error, (*_TRANSPORT, redis.RedisError)):
                warn_limited(
                    "throttle",
                    "wsgi_analytics: throttle could not ask Redis (%s: %s); %s",
                    type(error).__name__,
                    error,
                    "letting requests through" if self.fail_open else "answering 503",
                )
            else:
                # A bug of ours: the traceback matters, but not once per request.
                warn_limited(
                    "throttle-bug",
                    "wsgi_analytics: throttle failed; %s:\n%s",
                    "letting requests through" if self.fail_open else "answering 503",
                    "".join(traceback.format_exception(type(error), error, error.__traceback__)),
                    level=logging.ERROR,
                )
        return None if self.fail_open else unavailable(max(1, round(self.rest)))
