"""Who the client is: peer or trusted X-Forwarded-For entry, validated, grouped, never spoofable."""

from __future__ import annotations

import random
import socket
from typing import Any

import pytest

from wsgi_analytics import Recorder
from wsgi_analytics.recording.pending import unpack
from wsgi_analytics.request import identity
from wsgi_analytics.request.facts import MAX_FORWARDED, from_environ, from_scope
from wsgi_analytics.request.identity import client_identity, normalise_address

PEER = "10.0.0.1"  # the proxy in front of the app, when there is one

IDENTITIES = [
    pytest.param("203.0.113.7", "", 0, "203.0.113.7", id="peer"),
    pytest.param("203.0.113.7", "198.51.100.1", 0, "203.0.113.7", id="spoofed header ignored"),
    pytest.param(PEER, "198.51.100.1", 1, "198.51.100.1", id="one trusted hop"),
    pytest.param(PEER, "6.6.6.6, 198.51.100.1", 1, "198.51.100.1", id="one hop, spoof on left"),
    pytest.param(PEER, "6.6.6.6,198.51.100.1,10.0.0.2", 2, "198.51.100.1", id="two hops"),
    pytest.param(PEER, "198.51.100.1, 10.0.0.2", 2, "198.51.100.1", id="two hops, no spoof"),
    pytest.param(PEER, "198.51.100.1", 2, PEER, id="fewer hops than configured"),
    pytest.param(PEER, "", 1, PEER, id="header missing: reached us past the proxy"),
    pytest.param(PEER, "unknown", 1, None, id="garbage in trusted place: no client"),
    pytest.param(PEER, "_hidden, 10.0.0.2", 2, None, id="obfuscated node: no client"),
    pytest.param(PEER, "garbage!, 198.51.100.1", 1, "198.51.100.1", id="garbage on the left"),
    pytest.param(PEER, " 198.51.100.1 ,", 2, "198.51.100.1", id="blank entry counts"),
    pytest.param(PEER, "198.51.100.1:4711", 1, "198.51.100.1", id="ipv4 with port"),
    pytest.param(PEER, "[2001:db8::1]:443", 1, "2001:db8::/64", id="bracketed ipv6 with port"),
    pytest.param("2001:db8:1:2:aaaa::1", "", 0, "2001:db8:1:2::/64", id="ipv6 grouped by /64"),
    pytest.param("2001:db8:1:2:bbbb::9", "", 0, "2001:db8:1:2::/64", id="same /64, same client"),
    pytest.param("2001:db8:1:3::1", "", 0, "2001:db8:1:3::/64", id="next /64, other client"),
    pytest.param("fe80::1%eth0", "", 0, "fe80::/64", id="zone index dropped"),
    pytest.param("::ffff:192.0.2.1", "", 0, "192.0.2.1", id="ipv4-mapped peer unwrapped"),
    pytest.param(PEER, "::ffff:192.0.2.1", 1, "192.0.2.1", id="ipv4-mapped entry unwrapped"),
    pytest.param("unix:/run/app.sock", "", 0, None, id="unix socket peer"),
    pytest.param("", "", 0, None, id="empty peer"),
    pytest.param(None, "", 0, None, id="no client at all"),
    pytest.param(None, "198.51.100.1", 0, None, id="no peer, header untrusted"),
    pytest.param(None, "198.51.100.1", 1, "198.51.100.1", id="no peer, trusted header"),
]


@pytest.mark.parametrize(("peer", "forwarded", "hops", "expected"), IDENTITIES)
def test_client_identity(peer: str | None, forwarded: str, hops: int, expected: str | None) -> None:
    assert client_identity(peer, forwarded, hops) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2001:db8::1", "2001:db8::/64", id="an IPv6 client is its /64"),
        pytest.param("2001:db8:0:0:ffff::1", "2001:db8::/64", id="same /64, other host"),
        pytest.param("2001:db8:0:1::1", "2001:db8:0:1::/64", id="next /64"),
        pytest.param("::ffff:192.0.2.1", "192.0.2.1", id="mapped is the IPv4 client"),
        pytest.param("192.0.2.300", None, id="octet out of range"),
        pytest.param("example.com", None, id="host name"),
        pytest.param("", None, id="empty"),
    ],
)
def test_normalise_address(text: str, expected: str | None) -> None:
    assert normalise_address(text) == expected


def _environ(peer: str | None, forwarded: str | None) -> dict[str, Any]:
    environ: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/"}
    if peer is not None:
        environ["REMOTE_ADDR"] = peer
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    return environ


@pytest.mark.parametrize(("peer", "forwarded", "hops", "expected"), IDENTITIES)
def test_identity_from_both_protocols(
    peer: str | None, forwarded: str, hops: int, expected: str | None
) -> None:
    wsgi = from_environ(_environ(peer, forwarded))
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    asgi = from_scope(
        {
            "type": "http",
            "method": "POST",
            "path": "/",
            "headers": headers,
            "client": (peer, 1234) if peer else None,
        }
    )
    for facts in (wsgi, asgi):
        assert client_identity(facts.client, facts.forwarded_for, hops) == expected


def test_repeated_header_lines_form_one_list() -> None:
    # The client's own line comes first; each proxy appends to the last one (RFC 9110 5.3).
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"x-forwarded-for", b"6.6.6.6"), (b"x-forwarded-for", b"198.51.100.1")],
        "client": (PEER, 1234),
    }
    facts = from_scope(scope)
    assert client_identity(facts.client, facts.forwarded_for, 1) == "198.51.100.1"


def test_long_spoofed_header_cannot_hide_the_trusted_entry() -> None:
    spoof = "6.6.6.6, " * (MAX_FORWARDED // 9 + 10)
    facts = from_environ(_environ(PEER, spoof + "198.51.100.1"))
    assert client_identity(facts.client, facts.forwarded_for, 1) == "198.51.100.1"


_PEERS = [
    "203.0.113.7", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5",
    "256.1.1.1", "0x1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "1.2.3.4\x00", "\u0661.2.3.4",
    "203.0.113.7:8080", "2001:db8::1", "::ffff:192.0.2.1", "[2001:db8::1]:443", "unknown", "",
    "1..2.3", "\ud800", "fe80::1%eth0",
]  # fmt: skip


def test_inet_pton_used_only_where_it_is_the_canonical_test() -> None:
    # Where `PTON_IS_CANONICAL`, `normalise_address` tests with inet_pton first: it must take
    # exactly what its regex takes.
    if not identity.PTON_IS_CANONICAL:
        pytest.skip("inet_pton is not strict here: normalise_address keeps to its regex")
    pick = random.Random(5)
    chars = "0123456789. x:"
    texts = _PEERS + [
        "".join(pick.choice(chars) for _ in range(pick.randrange(1, 17))) for _ in range(20_000)
    ]
    for text in texts:
        try:
            socket.inet_pton(socket.AF_INET, text)
            taken = True
        except (OSError, ValueError):
            taken = False
        assert taken == bool(identity._CANONICAL_IPV4.fullmatch(text)), repr(text)


@pytest.mark.parametrize("peer", _PEERS)
def test_the_recorder_keys_a_peer_as_normalise_address_does(peer: str, recorder: Recorder) -> None:
    facts = from_environ({"REQUEST_METHOD": "GET", "REMOTE_ADDR": peer})
    recorder.record(facts, 200)
    queued = unpack(recorder._queue[-1])
    assert queued.client_id == (normalise_address(facts.client) if facts.client else None)
