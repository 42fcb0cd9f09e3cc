"""The servers under test, each an ASGI app in its own module so a server process imports only its own.

- ``ceiling``: a raw ASGI callable writing pre-encoded frames: the most a Python ASGI server can do.
- ``ours``: ``agui_server.create_app`` serving an async generator agent, everything in one process.
- ``sdk``: how most Python peers serve AG-UI today: ``ag-ui-protocol``'s ``EventEncoder`` behind a
  Starlette ``StreamingResponse``.
- ``ours+redis-1x1`` and ``ours+redis-2x2``: our server over Redis: one (two) web processes
  (``create_app`` with ``worker_slots=0``) and one (two) ``agui-server worker`` processes executing the
  same agent, and the benchmark's redis-server.
- ``ours+sqlite`` and ``ours+postgres``: ``ours`` with a thread store that keeps threads across restarts
  (``MemoryBackend(threads_db=…)``): a SQLite file, or a database on the benchmark's own PostgreSQL server.
  Opt-in (``--servers``): they measure the short runs only, whose cost the thread write is part of.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = (
    "APPS",
    "DEFAULT_SERVERS",
    "REDIS",
    "REDIS_URL_ENV",
    "SERVERS",
    "THREADS_DB_ENV",
    "THREAD_STORES",
    "WORKER_AGENT",
    "RedisDeployment",
    "at_revision",
    "base",
    "label",
    "revision",
    "revisions",
)


@dataclass(frozen=True, slots=True)
class RedisDeployment:
    """Our server over Redis: ``web`` web processes and ``workers`` worker processes."""

    web: int
    workers: int


APPS: Final = {
    "ceiling": "benchmarks.apps.ceiling:app",
    "ours": "benchmarks.apps.ours:app",
    "sdk": "benchmarks.apps.sdk:app",
    "ours+redis-1x1": "benchmarks.apps.ours_redis:app",
    "ours+redis-2x2": "benchmarks.apps.ours_redis:app",
    "ours+sqlite": "benchmarks.apps.ours_threads:app",
    "ours+postgres": "benchmarks.apps.ours_threads:app",
}
"""Server name → the ``module:attribute`` uvicorn imports (for each web process)."""

REDIS: Final = {
    "ours+redis-1x1": RedisDeployment(web=1, workers=1),
    "ours+redis-2x2": RedisDeployment(web=2, workers=2),
}
"""The servers that run over Redis, and their processes."""

REDIS_URL_ENV: Final = "AGUI_BENCH_REDIS_URL"
"""The environment variable that gives the web processes over Redis their Redis URL."""

WORKER_AGENT: Final = "benchmarks.apps.agent:agent"
"""The ``--agent`` of the ``agui-server worker`` processes."""

THREAD_STORES: Final = {"ours+sqlite": "sqlite", "ours+postgres": "postgres"}
"""The servers in one process with a durable thread store, and which store."""

THREADS_DB_ENV: Final = "AGUI_BENCH_THREADS_DB"
"""The environment variable that gives those servers their ``threads_db``."""

SERVERS: Final = tuple(APPS)
DEFAULT_SERVERS: Final = tuple(name for name in SERVERS if name not in THREAD_STORES)
"""What a run measures without ``--servers``: the thread-store servers are opt-in."""

_LABELS: Final = {"ours+redis-1x1": "ours+redis 1×1", "ours+redis-2x2": "ours+redis 2×2"}  # noqa: RUF001


_AT: Final = "@"
"""``ours@d5fb292``: server ``ours`` as it was at commit ``d5fb292`` (``--before``)."""


def at_revision(name: str, rev: str) -> str:
    """Server ``name`` as it was at commit ``rev``: its processes import that commit's code."""
    return f"{name}{_AT}{rev}"


def base(name: str) -> str:
    """The server a name stands for, without its commit (what ``APPS``, ``REDIS`` and ``THREAD_STORES`` know)."""
    return name.partition(_AT)[0]


def revision(name: str) -> str | None:
    """The commit of an ``at_revision`` name; ``None``: the working tree's code."""
    return name.partition(_AT)[2] or None


def revisions(names: Iterable[str]) -> list[str]:
    """The commits the servers ``names`` run at, each once, in order (none: all run the working tree)."""
    return list(dict.fromkeys(filter(None, map(revision, names))))


def label(name: str) -> str:
    """How the table names server ``name``."""
    rev = revision(name)
    shown = _LABELS.get(base(name), base(name))
    return shown if rev is None else f"{shown} @{rev}"
