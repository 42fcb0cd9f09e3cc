from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

NODE_DIR = Path(__file__).resolve().parent / "node"
NPM_CI_TIMEOUT = 300.0
"""Seconds `npm ci` in tests/node may take before the session goes on without it."""


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install tests/node's packages (`npm ci`) when node_modules is missing or older than package-lock.json.

    Runs once, in the process that runs the tests (with pytest-xdist: in the controller, before its workers
    start). When npm is missing or `npm ci` fails, the session still runs: the Node.js tests then fail with
    their own hint (tests/e2e/test_official_clients.py).
    """
    if hasattr(session.config, "workerinput"):  # a pytest-xdist worker: the controller did it
        return
    if not _node_modules_stale():
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
        else:
            print(line, file=sys.stderr)

    npm = shutil.which("npm")
    if npm is None:
        say("tests/node/node_modules is missing or stale and npm is not on PATH: the Node.js tests will fail")
        return
    with _locked(NODE_DIR / "package-lock.json"):
        if not _node_modules_stale():  # another session installed them while this one waited
            return
        say(f"tests/node/node_modules is missing or older than package-lock.json: running `npm ci` in {NODE_DIR}")
        try:
            result = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=NODE_DIR,
                capture_output=True,
                text=True,
                timeout=NPM_CI_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            say(f"`npm ci` in tests/node took over {NPM_CI_TIMEOUT:.0f} s and was stopped: the Node.js tests will fail")
            return
        if result.returncode != 0:
            say(f"`npm ci` in tests/node failed ({result.returncode}): the Node.js tests will fail")
            for line in (result.stdout + result.stderr).strip().splitlines()[-20:]:
                say(f"  {line}")


def _node_modules_stale() -> bool:
    # npm writes node_modules/.package-lock.json after every install (`npm ci` and `npm install`)
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    try:
        return installed.stat().st_mtime < (NODE_DIR / "package-lock.json").stat().st_mtime
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
