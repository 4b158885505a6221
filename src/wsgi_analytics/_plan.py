"""What both throttle gates do around their one round trip: who the client is, which keys and
arguments the script gets, what its reply means, and the failure policy. No I/O here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import traceback
from typing import TYPE_CHECKING

import redis

from ._log import warn_limited
from ._window import Refusal, Rule, parse_reply, refusal, script_args, unavailable
from .identity import client_identity

if TYPE_CHECKING:
    from .facts import Facts
    from .recorder import Recorder
    from .throttle import Throttle

__all__ = ["Plan"]

# Failures of the transport: after one, Redis is left alone for _REST seconds, so a dead or
# black-holed server costs one timeout per second, not one per request.
_TRANSPORT = (redis.ConnectionError, redis.TimeoutError, OSError, asyncio.TimeoutError)
_REST = 1.0


class Plan:
    """What both gates do around the round trip (no I/O here)."""

    def __init__(self, throttle: Throttle, recorder: Recorder) -> None:
        self.rules = throttle.rules
        self.single = len(self.rules) == 1
        self.args = script_args(self.rules)
        self.fail_open = throttle.fail_open
        self.ipv6_prefix = throttle.ipv6_prefix
        self.secret = throttle.secret
        self.secret_key = f"{recorder.keys.tag('throttle')}:secret"
        self.prefix = recorder.prefix
        self.resting_until = 0.0

    def subject(self, facts: Facts, trusted_proxies: int) -> str | None:
        who = client_identity(facts.client, facts.forwarded_for, trusted_proxies, self.ipv6_prefix)
        if who is None:
            warn_limited(
                "throttle-anonymous",
                "wsgi_analytics: %s %s has no usable client address; not throttled "
                "(check trusted_proxies and the proxy's X-Forwarded-For)",
                facts.method,
                facts.path[:100],
            )
        return who

    def call(self, who: str, path: str, secret: bytes) -> tuple[list[str], list[int], list[Rule]]:
        """KEYS and ARGV for the script, and the rules they stand for."""
        digest = hashlib.blake2b(who.encode(), key=secret, digest_size=16).hexdigest()
        # The client's hash in the hash tag: all its rules share a slot (one script, many
        # keys, cluster-safe) while clients spread over the cluster.
        tag = f"{{{self.prefix}:throttle:{digest}}}"
        if self.single:
            return [f"{tag}:{self.rules[0].name}"], self.args, list(self.rules)
        rules = [rule for rule in self.rules if rule.covers(path)]
        return [f"{tag}:{rule.name}" for rule in rules], script_args(rules), rules

    def resting(self) -> bool:
        return time.monotonic() < self.resting_until

    def answer(self, reply: object, rules: list[Rule]) -> Refusal | None:
        decision = parse_reply(reply, rules)
        return None if decision.allowed else refusal(rules, decision)

    def failed(self, error: BaseException | None) -> Refusal | None:
        """The failure policy; ``error`` None means Redis is resting after a recent failure."""
        if error is not None:
            if isinstance(error, _TRANSPORT):
                self.resting_until = time.monotonic() + _REST
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
        return None if self.fail_open else unavailable(round(_REST))

    def secret_from(self, stored: object) -> bytes:
        raw = stored.encode() if isinstance(stored, str) else stored
        if not isinstance(raw, bytes):
            raise ValueError("throttle secret missing in Redis")
        return hashlib.blake2b(raw, digest_size=32).digest()
