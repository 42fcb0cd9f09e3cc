"""Real servers for tests: uvicorn on 127.0.0.1 in the test's event loop, or ``agui-server`` in a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import uvicorn

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def running_server(app: Any, *, startup_timeout: float = 10.0) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in this event loop; yields the base URL."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # older uvicorn
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise TimeoutError("uvicorn did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        try:
            await asyncio.wait_for(task, 10)
        finally:
            sock.close()


@contextmanager
def served(
    command: list[str],
    port: int,
    what: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    *,
    startup_timeout: float = 20.0,
) -> Iterator[str]:
    """Run ``command`` (a server on ``port``), wait until it answers; yields the base URL; stops it by its pid."""
    process = subprocess.Popen(
        command, cwd=cwd or ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                output = process.stdout.read() if process.stdout else ""
                raise RuntimeError(f"{what} exited early ({process.returncode}):\n{output}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(base + "/", timeout=1)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} did not start")
            time.sleep(0.1)
        yield base
    finally:
        stop_process(process)
        if process.stdout:
            process.stdout.close()


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Stop a process this test started, by its pid: SIGTERM, then SIGKILL after 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextmanager
def cli_server(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[str]:
    """Run ``agui-server serve`` in a subprocess on a free port; yields the base URL; stops it by its pid."""
    port = free_port()
    command = [sys.executable, "-m", "agui_server", "serve", "--port", str(port), *args]
    with served(command, port, "agui-server", env, cwd) as base:
        yield base


@contextmanager
def uvicorn_app(app: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Serve ``module:attribute`` with uvicorn in a subprocess on a free port; yields the base URL; stops it
    by its pid."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "warning"]
    with served(command, port, app, env, None) as base:
        yield base
