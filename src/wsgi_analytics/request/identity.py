"""Who the client is: the TCP peer, or an address a counted number of trusted proxies vouch for.

The same function names the client for the throttle and for the unique-visitor hash, so both
agree on who a visitor is.

Security: ``X-Forwarded-For`` is set by whoever sends the request. Only the entries appended by
proxies you run can be believed, so the client is read from the right: with ``trusted_proxies=N``
it is the N-th address from the right (werkzeug ``ProxyFix(x_for=N)``). With ``trusted_proxies=0``
(the default) the header is ignored: setting it higher than the number of proxies really in front
of the app lets any client choose its own address and escape the throttle.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache

from .hosts import strip_port

__all__ = ["IPV6_PREFIX", "PTON_IS_CANONICAL", "client_identity", "normalise_address"]

IPV6_PREFIX = 64  # IPv6 clients are grouped by network: one subscriber usually holds a /64

# A plain dotted quad in canonical form is its own key: matching it costs ~0.3 µs where parsing
# with ipaddress costs ~5 µs, and busy sites see more distinct clients than the cache holds.
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")


def _pton_is_canonical() -> bool:
    """Whether ``socket.inet_pton(AF_INET, text)`` accepts exactly the texts `_CANONICAL_IPV4`
    matches, as glibc's, musl's and the BSDs' do: a C call where the regex costs several times
    more. Checked here on what looser implementations accept (leading zeros, fewer parts,
    hexadecimal, spaces); anywhere it is not so, the regex alone decides."""
    try:
        socket.inet_pton(socket.AF_INET, "203.0.113.9")
    except (AttributeError, OSError, ValueError):  # no inet_pton at all
        return False
    loose = ("01.2.3.4", "1.2.3.04", "1.2.3", "1.2.3.4.5", "0x1.2.3.4", " 1.2.3.4", "1.2.3.4\n")
    for text in loose:
        try:
            socket.inet_pton(socket.AF_INET, text)
        except (OSError, ValueError):
            continue
        return False
    return True


# `normalise_address` tests a text with inet_pton first where this is true: a canonical dotted
# quad is its own key, and busy sites see more distinct clients than the memo holds.
PTON_IS_CANONICAL = _pton_is_canonical()
_AF_INET, _inet_pton = socket.AF_INET, socket.inet_pton


def normalise_address(text: str) -> str | None:
    """A canonical client key for an address, or ``None`` when it is not an IP address.

    IPv4-mapped IPv6 addresses (``::ffff:1.2.3.4``, as dual-stack sockets report IPv4 peers) are
    unwrapped so they share the IPv4 client's bucket; other IPv6 addresses are grouped by their
    /64 network because one subscriber usually holds a whole /64 (one address each would let
    them walk past the throttle and count as many visitors).

    A canonical dotted quad, the usual peer, is its own key: one C call (where
    `PTON_IS_CANONICAL`), since the memo misses on almost every request once a site sees more
    clients than it holds; everything else goes through the memo.
    """
    if PTON_IS_CANONICAL and ":" not in text:
        try:
            _inet_pton(_AF_INET, text)
        except (OSError, ValueError):
            pass
        else:
            return text
    return _normalise(text)


@lru_cache(maxsize=4096)
def _normalise(text: str) -> str | None:
    """`normalise_address` past its first test."""
    if _CANONICAL_IPV4.fullmatch(text):
        return text
    # "203.0.113.9:51234" and "[2001:db8::1]:443", as some proxies write them
    candidate = strip_port(text.strip()).removeprefix("[").removesuffix("]")
    candidate = candidate.partition("%")[0]  # zone index of a link-local address
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        network = ipaddress.IPv6Network((address, IPV6_PREFIX), strict=False)
        return str(network)
    return str(address)


def client_identity(
    peer: str | None,
    forwarded_for: str,
    trusted_proxies: int = 0,
) -> str | None:
    """The client's key, or ``None`` when no usable address is known.

    ``forwarded_for`` is the (joined) ``X-Forwarded-For`` value. With ``trusted_proxies=N`` the
    N-th entry from the right is the client; with fewer than N entries the header is ignored and
    the peer is used, as werkzeug does: a short header was not written by all our proxies (the
    request reached the app past them, so the peer is the client).

    An entry in the trusted position that is not an IP address (``unknown``, an RFC 7239
    obfuscated name, a Unix socket) gives ``None``, not the peer: the peer is then our own proxy,
    and every such request sharing the proxy's address would put all clients in one bucket.

    Security: only ``trusted_proxies`` entries, counted from the right, were written by proxies
    you run; everything to their left is whatever the client sent. Set it to exactly the number
    of proxies in front of the app: one more lets every client choose its own address.
    """
    if trusted_proxies > 0 and forwarded_for:
        entries = forwarded_for.split(",")
        if len(entries) >= trusted_proxies:
            entry = entries[-trusted_proxies]
            # No address is written longer ("[v6%zone]:port"); junk stays out of the memo.
            return normalise_address(entry) if len(entry) <= 80 else None
    if peer:
        return normalise_address(peer)
    return None
