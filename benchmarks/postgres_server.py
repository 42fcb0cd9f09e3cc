"""The benchmark's own PostgreSQL server, for ``ours+postgres``: the tests' server (``tests/support/postgres.py``:
``initdb`` in a temporary folder, a free loopback port, trust authentication, no fsync), pinned to the
servers' core like redis-server, a fresh database for each server start, stopped by its pid at the end."""

from __future__ import annotations

import os
import subprocess
import uuid
from typing import TYPE_CHECKING, Final

import psutil

from tests.support.postgres import PostgresServer, postgres_bin

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("INSTALL_HINT", "BenchPostgres", "postgres_bin", "postgres_version")

INSTALL_HINT: Final = (
    "ours+postgres needs the PostgreSQL server binaries (initdb and postgres, on PATH or in "
    "/usr/lib/postgresql/<version>/bin): apt-get install postgresql"
)


def postgres_version() -> str:
    """``PostgreSQL 15.14``, from ``postgres --version``."""
    binaries = postgres_bin()
    if binaries is None:
        return "PostgreSQL (not found)"
    try:
        out = subprocess.run([str(binaries / "postgres"), "--version"], capture_output=True, text=True, timeout=10)
    except OSError:
        return "PostgreSQL (unknown version)"
    words = out.stdout.split()  # postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
    if "(PostgreSQL)" in words[:-1]:
        return "PostgreSQL " + words[words.index("(PostgreSQL)") + 1]
    return "PostgreSQL (unknown version)"


class BenchPostgres:
    """One PostgreSQL server for the whole benchmark run."""

    def __init__(self, server: PostgresServer) -> None:
        self._server = server
        assert server.process is not None
        self.postmaster = psutil.Process(server.process.pid)

    @classmethod
    def start(cls, *, core: int | None) -> BenchPostgres:
        """``initdb``, start, and pin the postmaster and its processes to ``core`` (the backends it forks for
        each new connection inherit that)."""
        if postgres_bin() is None:
            raise RuntimeError(INSTALL_HINT)
        server = PostgresServer.create()
        try:
            server.start()
            bench = cls(server)
            if core is not None:
                for process in bench.processes():
                    os.sched_setaffinity(process.pid, {core})
        except BaseException:
            server.remove()
            raise
        return bench

    def processes(self) -> Sequence[psutil.Process]:
        """The postmaster and every process it runs now (background workers, one backend per connection)."""
        try:
            return [self.postmaster, *self.postmaster.children()]
        except psutil.NoSuchProcess:
            return []

    def new_database(self) -> str:
        """A new empty database (a server start's own); its URL."""
        return self._server.create_database(f"bench_{uuid.uuid4().hex[:12]}")

    def stop(self) -> None:
        """Stop it by its pid and remove its folder."""
        self._server.remove()
