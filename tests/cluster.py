"""A real local Redis Cluster (three primaries, no replicas) and a TLS server, for the tests.

`ClusterNodes` starts three ``redis-server --cluster-enabled yes`` processes on loopback, each
with its own cluster config file in its own directory, gives each a third of the 16384 slots
(``CLUSTER ADDSLOTSRANGE``), joins them (``CLUSTER MEET``) and waits for ``cluster_state:ok``
on every node. `tls_server` generates a throwaway CA and server certificate with ``openssl``
and starts a ``redis-server`` that only speaks TLS and wants a password.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import redis

from wsgi_analytics.embedded import EmbeddedServer, free_port

__all__ = [
    "ClusterNodes",
    "TLSCluster",
    "TLSServer",
    "cluster_nodes",
    "tls_cluster",
    "tls_directory",
    "tls_server",
]

SLOTS = 16384


def _bus_free(port: int) -> bool:
    """The cluster bus listens on port + 10000: that one must be free too."""
    if port + 10000 > 65535:
        return False
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port + 10000))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    for _ in range(100):
        port = free_port()
        if _bus_free(port):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class ClusterNodes:
    """Three primaries on 127.0.0.1; `url` is a ``redis+cluster://`` URL naming the first."""

    def __init__(self, count: int = 3) -> None:
        self.nodes = [
            EmbeddedServer(
                cluster_port(),
                prefer="redis-server",
                extra_args=(
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "5000",
                ),
            )
            for _ in range(count)
        ]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def start(self, timeout: float = 30.0) -> ClusterNodes:
        for node in self.nodes:
            node.start()
        share = SLOTS // len(self.nodes)
        for index, node in enumerate(self.nodes):
            low = index * share
            high = SLOTS - 1 if index == len(self.nodes) - 1 else low + share - 1
            with redis.Redis(host="127.0.0.1", port=node.port) as conn:
                conn.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
        with redis.Redis(host="127.0.0.1", port=self.ports[0]) as conn:
            for port in self.ports[1:]:
                conn.execute_command("CLUSTER", "MEET", "127.0.0.1", port)
        deadline = time.monotonic() + timeout
        for port in self.ports:
            with redis.Redis(host="127.0.0.1", port=port) as conn:
                while True:
                    info = conn.execute_command("CLUSTER", "INFO").decode()
                    if (
                        "cluster_state:ok" in info
                        and f"cluster_known_nodes:{len(self.ports)}" in info
                    ):
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"cluster did not form on port {port}:\n{info}")
                    time.sleep(0.05)
        return self

    def keys_per_node(self) -> dict[int, int]:
        counts = {}
        for port in self.ports:
            with redis.Redis(host="127.0.0.1", port=port) as conn:
                counts[port] = int(conn.dbsize())
        return counts

    def flush(self) -> None:
        for port in self.ports:
            with redis.Redis(host="127.0.0.1", port=port) as conn:
                conn.flushall()

    def close(self) -> None:
        for node in self.nodes:
            node.close()


@pytest.fixture(scope="module")
def cluster_nodes() -> Iterator[ClusterNodes]:
    nodes = ClusterNodes()
    try:
        yield nodes.start()
    finally:
        nodes.close()


class TLSServer(NamedTuple):
    port: int
    password: str
    ca_file: Path

    def url(self, password: str | None = None) -> str:
        secret = self.password if password is None else password
        return (
            f"rediss://:{secret}@127.0.0.1:{self.port}/0"
            f"?ssl_cert_reqs=required&ssl_ca_certs={self.ca_file}"
        )


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _make_certificates(directory: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it, valid for a day."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=wsgi-analytics test CA",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1",
        cwd=directory,
    )  # fmt: skip
    (directory / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "1", "-out", "server.crt", "-extfile", "san.cnf",
        cwd=directory,
    )  # fmt: skip


def tls_supported() -> str | None:
    """Why TLS cannot be tested here, or ``None`` when it may be (the server may still have
    been built without TLS: the fixture then skips with the server's own words)."""
    for tool in ("openssl", "redis-server"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    return None


def _start_tls_node(
    directory: Path, port: int, password: str, *extra: str
) -> subprocess.Popen[bytes]:
    """A ``redis-server`` speaking only TLS on ``port`` and wanting ``password``; skips the
    test when this server cannot do TLS."""
    log_path = directory / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                "redis-server",
                "--port", "0",
                "--tls-port", str(port),
                "--bind", "127.0.0.1",
                "--tls-cert-file", str(directory / "server.crt"),
                "--tls-key-file", str(directory / "server.key"),
                "--tls-ca-cert-file", str(directory / "ca.crt"),
                "--tls-auth-clients", "no",
                "--requirepass", password,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(directory),
                *extra,
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            pytest.skip(f"redis-server would not start with TLS: {tail}")
        try:
            with _tls_connection(directory, port, password) as conn:
                conn.ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise
            time.sleep(0.05)


def _tls_connection(directory: Path, port: int, password: str) -> redis.Redis:
    return redis.Redis(
        host="127.0.0.1",
        port=port,
        password=password,
        ssl=True,
        ssl_cert_reqs="required",
        ssl_ca_certs=str(directory / "ca.crt"),
    )


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        _wait_or_kill(process)


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def tls_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = tls_supported()
    if reason:
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("tls")
    _make_certificates(directory)
    return directory


@pytest.fixture(scope="module")
def tls_server(tls_directory: Path) -> Iterator[TLSServer]:
    server = TLSServer(free_port(), "s3cret-Pa55", tls_directory / "ca.crt")
    process = _start_tls_node(tls_directory, server.port, server.password)
    try:
        yield server
    finally:
        _stop([process])


class TLSCluster(NamedTuple):
    ports: list[int]
    password: str
    ca_file: Path

    def url(self) -> str:
        return (
            f"rediss+cluster://:{self.password}@127.0.0.1:{self.ports[0]}"
            f"?ssl_cert_reqs=required&ssl_ca_certs={self.ca_file}"
        )


@pytest.fixture(scope="module")
def tls_cluster(tls_directory: Path) -> Iterator[TLSCluster]:
    """Three TLS-only primaries with a password, their cluster bus on TLS too."""
    ports = [cluster_port() for _ in range(3)]
    cluster = TLSCluster(ports, "clu5ter-Pa55", tls_directory / "ca.crt")
    processes: list[subprocess.Popen[bytes]] = []
    cluster_args = ("--cluster-enabled", "yes", "--tls-cluster", "yes")
    try:
        for port in ports:
            config = ("--cluster-config-file", f"nodes-{port}.conf")
            node = _start_tls_node(tls_directory, port, cluster.password, *cluster_args, *config)
            processes.append(node)
        share = SLOTS // len(cluster.ports)
        for index, port in enumerate(cluster.ports):
            high = SLOTS - 1 if index == len(cluster.ports) - 1 else (index + 1) * share - 1
            with _tls_connection(tls_directory, port, cluster.password) as conn:
                conn.execute_command("CLUSTER", "ADDSLOTSRANGE", index * share, high)
        with _tls_connection(tls_directory, cluster.ports[0], cluster.password) as conn:
            for port in cluster.ports[1:]:
                conn.execute_command("CLUSTER", "MEET", "127.0.0.1", port)
        deadline = time.monotonic() + 30
        for port in cluster.ports:
            with _tls_connection(tls_directory, port, cluster.password) as conn:
                while True:
                    info = conn.execute_command("CLUSTER", "INFO").decode()
                    if "cluster_state:ok" in info and "cluster_known_nodes:3" in info:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"TLS cluster did not form on port {port}:\n{info}")
                    time.sleep(0.05)
        yield cluster
    finally:
        _stop(processes)
