"""A real Redis (one server, a 3-primary Redis Cluster, or Valkey: redis_nodes.py) and several agui-server
processes on 127.0.0.1, for the multi-process tests.

Every process is started here and stopped here, by its pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import httpx

from agui_server.runs.redis.client import sync_redis_client
from agui_server.runs.redis.keys import Keys
from tests.support.redis_nodes import Kind, RedisNodes
from tests.support.server import ROOT, free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

AGENTS = [
    "--agent", "slow=tests.support.agents:slow",
    "--agent", "counting=tests.support.agents:counting",
    "--agent", "repeatable=tests.support.agents:repeatable",
]  # fmt: skip


def _wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited early with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(url, timeout=1)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer")


@dataclass
class Cluster:
    """Redis, web processes and worker processes."""

    directory: Path
    kind: Kind = "redis"
    redis: RedisNodes | None = None
    redis_port: int | None = None
    """Set: the port of a Redis that is not started here (nobody listens there)."""
    webs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    keys = Keys()
    """The key names of the default prefix the processes use."""

    def __post_init__(self) -> None:
        self.redis = RedisNodes(self.kind, self.directory)

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return f"redis://127.0.0.1:{self.redis_port}/0" if self.redis_port is not None else self.redis.url

    def client(self) -> Any:
        """A blocking redis-py client on the processes' Redis (a cluster client on a cluster); the caller closes it."""
        return sync_redis_client(self.redis_url)

    def _log(self, name: str) -> IO[bytes]:
        handle = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop())
        self._logs.append(handle)
        return handle

    def start_redis(self) -> None:
        assert self.redis is not None
        self.redis.start()

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.stop()

    def start_web(self, *extra: str) -> str:
        port = free_port()
        command = [
            sys.executable, "-m", "agui_server", "serve", "--port", str(port), "--redis", self.redis_url,
            "--workers", "0", "--log-level", "warning", *AGENTS, *extra,
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, stdout=self._log(f"web-{port}"), stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        _wait_http(base + "/", process)
        self.webs.append((base, process))
        return base

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "agui_server", "worker", "--redis", self.redis_url, "--lease", "2",
            "--requeue-lost", "--log-level", "warning", *AGENTS, *extra,
        ]  # fmt: skip
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=self._log(f"worker-{len(self.workers)}"), stderr=subprocess.STDOUT
        )
        self.workers.append(process)
        return process

    def stop(self) -> None:
        for process in [p for _, p in self.webs] + self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [p for _, p in self.webs] + self.workers:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(5)
        self.stop_redis()
        for handle in self._logs:
            handle.close()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.directory.glob("*.log"))


@contextlib.contextmanager
def redis_alone(directory: Path) -> Iterator[str]:
    """A redis-server of its own, no web or worker process; yields its URL; stopped by its pid on exit."""
    with cluster(directory, webs=0, workers=0) as c:
        assert isinstance(c, Cluster)
        yield c.redis_url


@contextlib.contextmanager
def cluster(
    directory: Path,
    webs: int = 2,
    workers: int = 2,
    web_args: tuple[str, ...] = (),
    kind: Kind = "redis",
    agents: tuple[str, ...] = (),
) -> object:
    """A started cluster of processes over a Redis of that ``kind`` (``agents``: more ``--agent`` options for
    every process); stopped (every process by its pid) on exit."""
    c = Cluster(directory, kind)
    try:
        c.start_redis()
        for _ in range(workers):
            c.start_worker(*agents)
        for _ in range(webs):
            c.start_web(*agents, *web_args)
        yield c
    finally:
        c.stop()
