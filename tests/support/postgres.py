"""A PostgreSQL server of the tests' own: ``initdb`` in a temporary folder, ``postgres`` on a free loopback port
(its socket in that folder too), started with a bounded wait and stopped by its pid.

Debian's ``postgresql`` package puts the binaries in ``/usr/lib/postgresql/<version>/bin`` (not on PATH);
``.ci/run`` installs it. PostgreSQL refuses to run as root, so under root the server runs as ``nobody``
(its folder handed to that user); trust authentication, loopback only, no fsync (the tests stop it cleanly).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final

import psycopg

from tests.support.server import free_port

INSTALL_HINT: Final = "no PostgreSQL server binaries: apt-get install postgresql"
USER: Final = "agui"
"""The database superuser initdb makes (trust authentication on loopback)."""
_START_TIMEOUT: Final = 30.0
_STOP_TIMEOUT: Final = 15.0
_INITDB_TIMEOUT: Final = 120.0


def postgres_bin() -> Path | None:
    """The folder of ``initdb`` and ``postgres``: on PATH, else Debian's newest ``/usr/lib/postgresql/*/bin``."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


def _run_as() -> dict[str, Any]:
    """Popen's ``user``/``group`` under root: PostgreSQL refuses to run as root."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


@dataclass
class PostgresServer:
    """One PostgreSQL server with its data in ``directory`` (made by :meth:`create`)."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @classmethod
    def create(cls) -> PostgresServer:
        """``initdb`` a cluster in a new temporary folder (readable by the server's user)."""
        binaries = postgres_bin()
        assert binaries is not None, INSTALL_HINT
        directory = Path(tempfile.mkdtemp(prefix="agui-pg-"))
        user = _run_as()
        if user:
            os.chown(directory, user["user"], user["group"])
        subprocess.run(
            [str(binaries / "initdb"), "-D", str(directory / "data"), "-U", USER, "--auth=trust", "-E", "UTF8",
             "--no-sync", "--no-instructions"],
            check=True, capture_output=True, timeout=_INITDB_TIMEOUT, cwd=directory, **user,
        )  # fmt: skip
        return cls(directory)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server and wait (bounded) until it takes connections."""
        binaries = postgres_bin()
        assert binaries is not None, INSTALL_HINT
        self._log = open(self.directory / "postgres.log", "ab")  # noqa: SIM115  (closed in stop())
        self.process = subprocess.Popen(
            [str(binaries / "postgres"), "-D", str(self.directory / "data"), "-p", str(self.port),
             "-h", "127.0.0.1", "-k", str(self.directory), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=self._log, stderr=subprocess.STDOUT, cwd=self.directory, **_run_as(),
        )  # fmt: skip
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            assert self.process.poll() is None, f"postgres exited: {self.log_text()[-2000:]}"
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(
                        f"postgres did not start in {_START_TIMEOUT}s: {self.log_text()[-2000:]}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """A fast shutdown (SIGINT) of the server this started, by its pid; bounded, then SIGKILL."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=_STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def log_text(self) -> str:
        with contextlib.suppress(OSError):
            return (self.directory / "postgres.log").read_text(errors="replace")
        return ""

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
