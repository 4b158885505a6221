"""A Redis host name whose DNS lookup stalls must not hold a throttled request past the
throttle's timeout (0.25 s by default).

Name resolution (``getaddrinfo``) is not bounded by socket timeouts: a resolver that does not
answer holds the caller for its own timeout (5 s, twice, by glibc's default). The test runs a
child in a private mount namespace (``unshare -m``) whose /etc/resolv.conf names a DNS server
on loopback that never answers; the machine's own resolver configuration is never touched.
It needs root (for the namespace and for port 53) and Linux, else it is skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SILENT_DNS = "127.0.0.9"
TIMEOUT = 0.25  # Throttle's default
SLACK = 0.35  # a loaded test machine


@pytest.fixture
def silent_dns() -> socket.socket:
    if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs Linux, root and unshare for a private /etc/resolv.conf")
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        server.bind((SILENT_DNS, 53))  # receives the queries, answers none
    except OSError as error:
        server.close()
        pytest.skip(f"cannot listen on {SILENT_DNS}:53: {error}")
    return server


@pytest.mark.slow
def test_a_stalled_dns_lookup_is_bounded_by_the_throttle_timeout(
    silent_dns: socket.socket, tmp_path: Path
) -> None:
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {SILENT_DNS}\noptions timeout:3 attempts:1\n")
    command = (
        f"mount --bind {resolv} /etc/resolv.conf && "
        f"exec {sys.executable} -m tests.dns_child redis.stalled.test"
    )
    try:
        child = subprocess.run(
            ["unshare", "--mount", "sh", "-c", command],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        silent_dns.close()
    if child.returncode != 0 and "mount" in child.stderr and not child.stdout:
        pytest.skip(f"no private mount namespace here: {child.stderr.strip()}")
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    for adapter in ("wsgi", "asgi"):
        for elapsed, status in result[adapter]:
            assert str(status).startswith("200"), result  # fail open
            assert elapsed < TIMEOUT + SLACK, (adapter, result)
