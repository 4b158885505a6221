"""Host names as requests carry them: ``Host`` headers, bind addresses, loopback. Pure."""

from __future__ import annotations

__all__ = ["LOOPBACK_ADDRESSES", "LOOPBACK_NAMES", "strip_port"]

# TCP peers that are this machine (a dual-stack socket reports IPv4 peers as mapped IPv6).
LOOPBACK_ADDRESSES = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
# Names for this machine in a Host header or a bind address (an IPv6 literal with or without
# its brackets).
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def strip_port(host: str) -> str:
    """``host[:port]`` without the port; an IPv6 literal keeps its brackets (``[::1]:8000`` ->
    ``[::1]``) and a bare one, which has more than one colon, is left whole."""
    if host.startswith("["):
        return host.partition("]")[0] + "]"
    return host.partition(":")[0] if host.count(":") == 1 else host
