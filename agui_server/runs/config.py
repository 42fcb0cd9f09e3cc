"""Where runs live, as the plugin's configuration says it: :class:`MemoryBackend` (this process, the
default) or :class:`RedisBackend` (any number of web and worker processes), each with its own settings and
their defaults, defined here once.

.. code-block:: python

    AGUIConfig(backend=RedisBackend("redis://localhost:6379/0", worker_slots=0))

The plugin builds the running backend from it (:class:`~agui_server.runs.manager.RunManager` or
:class:`~agui_server.runs.redis.RedisRunBackend`); the rules every backend applies (strictness, run timeout,
retention, the busy and disconnect policies, caps) stay in ``AGUIConfig``. Nothing here imports Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from agui_server.runs.backend import MAX_FINISHED_RUNS

if TYPE_CHECKING:
    from agui_server.runs.threads import ThreadStore

__all__ = (
    "LEASE",
    "REDIS_MAX_CONNECTIONS",
    "REDIS_PREFIX",
    "REDIS_TIMEOUT",
    "START_TIMEOUT",
    "WORKER_SLOTS",
    "MemoryBackend",
    "RedisBackend",
    "is_postgres_url",
)

LEASE: Final = 10.0
"""Seconds a worker's claim on a run lasts without renewal (a dead worker is found within this)."""
START_TIMEOUT: Final = 30.0
"""Seconds a run may wait in the queue before it fails with ``NO_WORKER``."""
WORKER_SLOTS: Final = 4
"""Runs a process executes at once over Redis."""
REDIS_PREFIX: Final = "agui"
"""The prefix of every Redis key."""
REDIS_TIMEOUT: Final = 5.0
"""Seconds before a Redis command gives up."""
REDIS_MAX_CONNECTIONS: Final = 1_000
"""Connections a process opens for Redis commands in flight at once."""


POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")
"""A ``threads_db`` that starts with one of these is a PostgreSQL database; any other is a SQLite file."""


def is_postgres_url(threads_db: str) -> bool:
    """Whether ``threads_db`` names a PostgreSQL database (else a SQLite file)."""
    return threads_db.startswith(POSTGRES_SCHEMES)


@dataclass(frozen=True, slots=True)
class MemoryBackend:
    """Runs in this process: one event loop, no external service."""

    thread_store: ThreadStore | None = None
    """Where thread histories live: a :class:`~agui_server.runs.threads.ThreadStore`; default: in memory, or
    the database ``threads_db`` names."""
    threads_db: str | None = None
    """Where threads survive a restart (used when ``thread_store`` is not given): a PostgreSQL URL
    (``postgresql://user:password@host:5432/db``, needs ``agui-server[postgres]``) or a SQLite file path."""
    max_finished_runs: int = MAX_FINISHED_RUNS
    """Finished runs kept readable at most (the oldest go first)."""

    def __post_init__(self) -> None:
        if self.max_finished_runs < 0:
            raise ValueError("max_finished_runs must not be negative")


@dataclass(frozen=True, slots=True)
class RedisBackend:
    """Runs, threads and feeds in Redis, so several web and worker processes share them. Needs
    ``agui-server[redis]``."""

    url: str
    """The Redis URL (``redis://[user:password@]host:6379/0``)."""
    worker_slots: int = WORKER_SLOTS
    """Runs this process executes at once; 0 makes it a web process only (run ``agui-server worker`` for the
    agents)."""
    prefix: str = REDIS_PREFIX
    """The prefix of every key, to share one Redis between deployments."""
    lease: float = LEASE
    """Seconds a worker's claim lasts without renewal (a dead worker is found within this)."""
    start_timeout: float = START_TIMEOUT
    """Seconds a run may wait for a worker before it fails with ``NO_WORKER``."""
    timeout: float = REDIS_TIMEOUT
    """Seconds before a Redis command gives up (a request then gets 503, a stream ``RUN_ERROR``
    ``BACKEND_UNAVAILABLE``). Lost connections are made again at the next command."""
    max_connections: int = REDIS_MAX_CONNECTIONS
    """Connections this process opens for commands in flight at once (streams are read over connections of
    their own, one per 32 streams: ``mirror.STREAMS_PER_READER``)."""
    requeue_lost_runs: bool = False
    """When a worker dies mid-run, run it once more if its agent is ``safe_to_repeat`` (default: end it with
    ``WORKER_LOST``)."""
    threads_db: str | None = None
    """A PostgreSQL URL (``postgresql://…``, needs ``agui-server[postgres]``) where threads are kept for good:
    each finished run's thread is written there once (after Redis, which stays where live runs and their
    streams are), read from there when Redis no longer has it, and the thread list comes from there. Every
    web and worker process of the deployment needs the same URL."""

    def __post_init__(self) -> None:
        if not self.url:
            raise ValueError("RedisBackend needs a url (redis://host:6379/0)")
        if self.worker_slots < 0:
            raise ValueError("worker_slots must not be negative")
        for name in ("lease", "start_timeout", "timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if self.threads_db is not None and not is_postgres_url(self.threads_db):
            raise ValueError("RedisBackend's threads_db must be a postgresql:// URL")
