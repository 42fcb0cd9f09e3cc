"""One server under test: its own uvicorn process (uvloop, httptools, no access log), pinned to a core."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import psutil

from benchmarks.apps import APPS
from benchmarks.client import connect
from benchmarks.cpu import process_seconds
from benchmarks.workload import expected_events, request_body

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

__all__ = ("HOST", "Server", "running_server")

HOST: Final = "127.0.0.1"
ROOT: Final = Path(__file__).resolve().parents[1]
_STARTUP_TIMEOUT: Final = 30.0
_STOP_TIMEOUT: Final = 10.0


@dataclass(slots=True)
class Server:
    """A running server process."""

    name: str
    port: int
    process: psutil.Process

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def rss(self) -> int:
        """Resident set size in bytes."""
        return int(self.process.memory_info().rss)

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far."""
        return process_seconds(self.process)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _command(name: str, port: int, core: int | None) -> list[str]:
    command = [
        sys.executable, "-m", "uvicorn", APPS[name],
        "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    if core is not None:
        taskset = shutil.which("taskset")
        if taskset is None:
            raise RuntimeError("taskset (util-linux) is needed to pin the server to a core")
        command = [taskset, "-c", str(core), *command]
    return command


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace")


def _spawn(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


async def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until a one-token run answers with all its events."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode}):\n{_log_text(log)}")
        with contextlib.suppress(OSError, TimeoutError):
            connection = await connect(HOST, port)
            try:
                response = await asyncio.wait_for(connection.run(request_body("ready", tokens=1)), 5)
            finally:
                connection.close()
            if response.status == 200 and response.frames == expected_events(1):
                return
            raise RuntimeError(f"server is up but answered {response.status} with {response.frames} frames")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server did not start in {_STARTUP_TIMEOUT:.0f} s:\n{_log_text(log)}")
        await asyncio.sleep(0.1)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(_STOP_TIMEOUT)


@asynccontextmanager
async def running_server(name: str, *, core: int | None, log_dir: Path) -> AsyncIterator[Server]:
    """Start server ``name`` on a free loopback port, wait until it serves a run, stop it by its pid."""
    port = _free_port()
    log = log_dir / f"{name}.log"
    process = _spawn(_command(name, port, core), log)
    try:
        await _wait_ready(process, port, log)
        yield Server(name=name, port=port, process=psutil.Process(process.pid))
    finally:
        _stop(process)
