from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
NPM_DIRS = (NODE_DIR, NODE_DIR.parents[1] / "web" / "playground")
"""The folders whose npm packages the tests use: the official clients and tools, and the playground's build."""
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
APT_TIMEOUT = 900.0
"""Seconds installing Debian's chromium may take before the session goes on without it."""
NPM_CI_TIMEOUT = 300.0
"""Seconds `npm ci` in tests/node may take before the session goes on without it."""


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the npm packages of tests/node and web/playground (`npm ci`) where node_modules is missing or
    older than package-lock.json.

    Runs once, in the process that runs the tests (with pytest-xdist: in the controller, before its workers
    start). When npm is missing or `npm ci` fails, the session still runs: the Node.js tests then fail with
    their own hint (tests/e2e/test_official_clients.py).
    """
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the controller did it
        return
    for folder in NPM_DIRS:
        _npm_ci(session, folder)


def _npm_ci(session: pytest.Session, folder: Path) -> None:
    if not _node_modules_stale(folder):
        return
    say = _sayer(session)
    npm = shutil.which("npm")
    if npm is None:
        say(f"{folder}/node_modules is missing or stale and npm is not on PATH: the Node.js tests will fail")
        return
    with _locked(folder / "package-lock.json"):
        if not _node_modules_stale(folder):  # another session installed them while this one waited
            return
        say(f"{folder}/node_modules is missing or older than package-lock.json: running `npm ci` there")
        try:
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            say(f"`npm ci` in {folder} took over {NPM_CI_TIMEOUT:.0f} s and was stopped: the Node.js tests will fail")
            return
        if result.returncode != 0:
            say(f"`npm ci` in {folder} failed ({result.returncode}): the Node.js tests will fail")
            for line in (result.stdout + result.stderr).strip().splitlines()[-20:]:
                say(f"  {line}")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Install Debian's chromium when browser tests were collected and it is missing, where this session may
    (as root, with apt-get); otherwise say, in one line, how to install it. The session runs either way."""
    if hasattr(session.config, "workerinput") or CHROMIUM.exists():
        return
    if not any(name in item.nodeid for item in session.items for name in ("test_source_documents", "test_playground")):
        return
    say = _sayer(session)
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        say(f"{CHROMIUM} is missing: the browser tests will fail (install it: apt-get install chromium)")
        return
    say(f"{CHROMIUM} is missing: installing Debian's chromium for the browser tests (apt-get install chromium)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        for command in ([apt, "update", "-qq"], [apt, "install", "-y", "-qq", "chromium"]):
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT, check=False)
            if result.returncode != 0:
                say(f"`{' '.join(command[1:])}` failed ({result.returncode}): the browser tests will fail")
                for line in (result.stdout + result.stderr).strip().splitlines()[-10:]:
                    say(f"  {line}")
                return
    except subprocess.TimeoutExpired:
        say(f"installing chromium took over {APT_TIMEOUT:.0f} s and was stopped: the browser tests will fail")


def _sayer(session: pytest.Session) -> Callable[[str], None]:
    """Writes a line where the session reports (or to stderr)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    return say


def _node_modules_stale(folder: Path) -> bool:
    # npm writes node_modules/.package-lock.json after every install (`npm ci` and `npm install`)
    installed = folder / "node_modules" / ".package-lock.json"
    try:
        return installed.stat().st_mtime < (folder / "package-lock.json").stat().st_mtime
    except FileNotFoundError:
        return True


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (where the platform has flock), so two sessions do not install at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock
        yield
        return
    with path.open("rb") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _quiet_uvicorn() -> None:
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL server for the session's tests (tests/support/postgres.py); each test makes its own
    database on it with ``create_database``."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        server.remove()
