"""One server under test, started and stopped around a group of figures.

A single-process server is one uvicorn process (uvloop, httptools, no access log) pinned to a core; with
a thread store (``ours+sqlite``, ``ours+postgres``) it gets a fresh SQLite file or a fresh database on the
benchmark's PostgreSQL server (pinned to the same core) at each start. Our
server over Redis is its web processes (uvicorn, ``worker_slots=0``) and ``agui-server worker``
processes, all pinned to the same core as the benchmark's redis-server.

The processes start on any core (their imports take a second each: side by side they are ready sooner)
and are pinned, every thread of them, as soon as they serve; nothing is measured before.
"""

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

from agui_server.runs.redis.keys import Keys
from benchmarks.apps import APPS, REDIS, REDIS_URL_ENV, THREAD_STORES, THREADS_DB_ENV, WORKER_AGENT, base, revision
from benchmarks.client import connect
from benchmarks.cpu import process_seconds
from benchmarks.workload import expected_events, new_run_id, request_body

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from benchmarks.postgres_server import BenchPostgres
    from benchmarks.redis_server import RedisServer

__all__ = ("HOST", "Server", "extract_revision", "running_server", "short_revision")

HOST: Final = "127.0.0.1"
ROOT: Final = Path(__file__).resolve().parents[1]
_STARTUP_TIMEOUT: Final = 30.0
_STOP_TIMEOUT: Final = 10.0
_WORKER_STOP_TIMEOUT: Final = 3.0
"""Seconds a worker gets to stop after SIGTERM before it is killed: ``agui-server worker`` sometimes waits
out its own 10 s stop timeout after a burst of runs, which would only stretch the benchmark."""
WORKER_SLOTS: Final = 16
"""Runs each ``agui-server worker`` executes at once."""
_START_CORES: Final = tuple(sorted(os.sched_getaffinity(0)))
"""The cores the processes start on: all this process could use when the benchmark was imported (it pins
itself to the load core later, and children would inherit that)."""
_WORKERS: Final = Keys().workers
"""Live workers by last heartbeat (a sorted set): a worker is in it once it has read the run queue."""


@dataclass(slots=True)
class Server:
    """A running server: its web port(s) and every server-side process by role."""

    name: str
    ports: tuple[int, ...]
    """Every web process's port; the single stream and time to first event use the first."""
    roles: dict[str, tuple[psutil.Process, ...]]
    """``server`` for a single-process server; ``web``, ``worker`` and ``redis`` over Redis."""
    postgres: BenchPostgres | None = None
    """The benchmark's PostgreSQL server, for ``ours+postgres``: role ``postgres``, its processes taken
    afresh each time (a backend starts for each new pooled connection)."""

    def _roles(self) -> dict[str, tuple[psutil.Process, ...]]:
        if self.postgres is None:
            return self.roles
        return {**self.roles, "postgres": tuple(self.postgres.processes())}

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def processes(self) -> tuple[psutil.Process, ...]:
        return tuple(process for processes in self._roles().values() for process in processes)

    @property
    def pids(self) -> list[int]:
        return [int(process.pid) for process in self.processes]

    def rss(self) -> int:
        """Resident set size in bytes, summed over the server's own processes (not redis-server, not
        PostgreSQL)."""
        return sum(
            int(process.memory_info().rss)
            for role, processes in self.roles.items()
            if role != "redis"
            for process in processes
        )

    def cpu_seconds(self) -> float:
        """User plus system CPU time used so far, summed over every server-side process."""
        return sum(self.cpu_by_role().values())

    def cpu_by_role(self) -> dict[str, float]:
        """User plus system CPU time used so far, per role."""
        return {role: sum(_seconds(p) for p in processes) for role, processes in self._roles().items()}


def _seconds(process: psutil.Process) -> float:
    """``process_seconds``, 0 for a process that has just ended (a PostgreSQL backend)."""
    try:
        return process_seconds(process)
    except psutil.NoSuchProcess:
        return 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _pin(processes: Sequence[psutil.Process], core: int | None) -> None:
    """Pin every thread of ``processes`` to ``core`` (threads they start later inherit it)."""
    if core is None:
        return
    for process in processes:
        for thread in process.threads():
            os.sched_setaffinity(thread.id, {core})
        if os.sched_getaffinity(process.pid) != {core}:
            raise RuntimeError(f"could not pin process {process.pid} to core {core}")


def short_revision(rev: str) -> str:
    """The short hash of commit ``rev`` (a branch, a tag, ``HEAD~3``…); raises ``ValueError`` if there is none."""
    found = subprocess.run(
        ["git", "rev-parse", "--short", f"{rev}^{{commit}}"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        raise ValueError(f"no commit {rev!r} in {ROOT}: {found.stderr.strip()}")
    return found.stdout.strip()


def extract_revision(rev: str, work_dir: Path) -> None:
    """Write commit ``rev``'s (a short hash) ``agui_server`` package under ``work_dir`` for the servers
    ``at_revision(name, rev)`` (``git archive``: no checkout, no worktree left behind). Only the code under
    test: the benchmark's own apps and agent stay the working tree's, so both sides serve the same
    workload with the same settings."""
    tree = _tree(rev, work_dir)
    tree.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, "agui_server"], cwd=ROOT, check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)


def _tree(rev: str, work_dir: Path) -> Path:
    return work_dir / f"tree-{rev}"


def _root(name: str, work_dir: Path) -> Path:
    """Where server ``name``'s code is: the working tree, or a commit's tree (``extract_revision``)."""
    rev = revision(name)
    return ROOT if rev is None else _tree(rev, work_dir)


def _uvicorn(name: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", APPS[base(name)],
        "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def _worker(redis_url: str, env_file: Path) -> list[str]:
    return [
        sys.executable, "-m", "agui_server", "worker", "--redis", redis_url, "--agent", WORKER_AGENT,
        "--slots", str(WORKER_SLOTS), "--log-level", "warning", "--env-file", str(env_file),
    ]  # fmt: skip


def _log_text(log: Path) -> str:
    return log.read_text(errors="replace")


def _spawn(
    command: list[str], log: Path, extra_env: dict[str, str] | None = None, root: Path = ROOT
) -> subprocess.Popen[bytes]:
    """Start ``command`` importing ``agui_server`` from under ``root`` (first on its path, ahead of the
    installed package) and the benchmark's apps from the working tree."""
    taskset = shutil.which("taskset")
    if taskset is not None:
        command = [taskset, "-c", ",".join(map(str, _START_CORES)), *command]
    pythonpath = os.pathsep.join(dict.fromkeys(filter(None, [str(root), str(ROOT), os.environ.get("PYTHONPATH")])))
    env = {**os.environ, "PYTHONPATH": pythonpath, **(extra_env or {})}
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)


async def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    """Until a one-token run answers with all its events."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early ({process.returncode}):\n{_log_text(log)}")
        with contextlib.suppress(OSError, TimeoutError):
            connection = await connect(HOST, port)
            try:
                response = await asyncio.wait_for(connection.run(request_body(new_run_id("ready"), tokens=1)), 5)
            finally:
                connection.close()
            if response.status == 200 and response.frames == expected_events(1):
                return
            raise RuntimeError(f"server is up but answered {response.status} with {response.frames} frames")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server did not start in {_STARTUP_TIMEOUT:.0f} s:\n{_log_text(log)}")
        await asyncio.sleep(0.1)


async def _wait_workers(redis: RedisServer, processes: Sequence[subprocess.Popen[bytes]], logs: Sequence[Path]) -> None:
    """Until every worker process has read the run queue (each one's first read ends within a second)."""
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        for process, log in zip(processes, logs, strict=True):
            if process.poll() is not None:
                raise RuntimeError(f"worker exited early ({process.returncode}):\n{_log_text(log)}")
        workers = redis.command("ZCARD", _WORKERS)
        if isinstance(workers, int) and workers >= len(processes):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"workers did not start in {_STARTUP_TIMEOUT:.0f} s:\n" + "\n".join(_log_text(log) for log in logs)
            )
        await asyncio.sleep(0.05)


def _stop(process: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT, what: str = "server") -> None:
    """SIGTERM, and SIGKILL after ``timeout`` seconds (said on the console)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"  ({what} {process.pid} did not stop within {timeout:g} s of SIGTERM: killed)", flush=True)
        process.kill()
        process.wait(_STOP_TIMEOUT)


def _stop_all(web: Sequence[subprocess.Popen[bytes]], workers: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in [*web, *workers]:  # all of them told first: they stop side by side
        if process.poll() is None:
            process.terminate()
    for process in web:
        _stop(process, what="web process")
    for process in workers:
        _stop(process, _WORKER_STOP_TIMEOUT, what="worker")


def _threads_db(name: str, log_dir: Path, postgres: BenchPostgres | None) -> dict[str, str]:
    """The environment that gives a thread-store server a fresh database; none for the other servers."""
    store = THREAD_STORES.get(base(name))
    if store is None:
        return {}
    if store == "postgres":
        if postgres is None:
            raise RuntimeError(f"{name} keeps its threads in PostgreSQL: it needs the benchmark's PostgreSQL server")
        return {THREADS_DB_ENV: postgres.new_database()}
    database = log_dir / f"{name}-threads.sqlite3"
    for path in log_dir.glob(f"{name}-threads.sqlite3*"):  # the file and its -wal, -shm of the last start
        path.unlink()
    return {THREADS_DB_ENV: str(database)}


@asynccontextmanager
async def running_server(
    name: str,
    *,
    core: int | None,
    log_dir: Path,
    redis: RedisServer | None = None,
    postgres: BenchPostgres | None = None,
) -> AsyncIterator[Server]:
    """Start server ``name`` on free loopback ports, wait until it serves a run, stop it by its pids.

    Over Redis (``redis`` is then the benchmark's redis-server), the workers start first, then the web
    processes; when the group is done they are stopped and redis-server is flushed. The server's processes
    are pinned to ``core`` once they serve (redis-server was pinned when it started). A thread-store server
    gets a fresh SQLite file, or a fresh database on ``postgres`` (the benchmark's PostgreSQL server).
    """
    deployment = REDIS.get(base(name))
    root = _root(name, log_dir)
    if deployment is None:
        port = _free_port()
        log = log_dir / f"{name}.log"
        process = _spawn(_uvicorn(name, port), log, _threads_db(name, log_dir, postgres), root)
        try:
            await _wait_ready(process, port, log)
            roles = {"server": (psutil.Process(process.pid),)}
            _pin(roles["server"], core)
            in_postgres = THREAD_STORES.get(base(name)) == "postgres"
            yield Server(name=name, ports=(port,), roles=roles, postgres=postgres if in_postgres else None)
        finally:
            _stop(process)
        return
    if redis is None:
        raise RuntimeError(f"{name} runs over Redis: it needs the benchmark's redis-server")
    env = {REDIS_URL_ENV: redis.url}
    no_env_file = log_dir / "no.env"  # the workers read no .env of the working tree
    workers: list[subprocess.Popen[bytes]] = []
    web: list[subprocess.Popen[bytes]] = []
    try:
        worker_logs = [log_dir / f"{name}-worker{i + 1}.log" for i in range(deployment.workers)]
        for log in worker_logs:
            workers.append(_spawn(_worker(redis.url, no_env_file), log, env, root))
        ports: tuple[int, ...] = ()
        while len(ports) < deployment.web:
            ports = tuple(dict.fromkeys((*ports, _free_port())))  # distinct ports
        web_logs = [log_dir / f"{name}-web{i + 1}.log" for i in range(deployment.web)]
        for port, log in zip(ports, web_logs, strict=True):
            web.append(_spawn(_uvicorn(name, port), log, env, root))
        await asyncio.gather(*(_wait_ready(p, port, log) for p, port, log in zip(web, ports, web_logs, strict=True)))
        await _wait_workers(redis, workers, worker_logs)
        roles = {
            "web": tuple(psutil.Process(p.pid) for p in web),
            "worker": tuple(psutil.Process(p.pid) for p in workers),
            "redis": (redis.process,),
        }
        _pin([*roles["web"], *roles["worker"]], core)
        yield Server(name=name, ports=ports, roles=roles)
    finally:
        _stop_all(web, workers)
        redis.flush()
