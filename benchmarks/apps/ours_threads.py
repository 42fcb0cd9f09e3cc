"""Our server in one process with a thread store that keeps threads across restarts: ``ours+sqlite`` and
``ours+postgres``, ``create_app`` with ``MemoryBackend(threads_db=…)`` (as ``agui-server serve
--threads-db``). The database comes from ``AGUI_BENCH_THREADS_DB``: a SQLite file path or a PostgreSQL URL
(a fresh file or database for each server start)."""

from __future__ import annotations

import os

from agui_server import AGUIConfig, MemoryBackend, create_app
from benchmarks.apps import THREADS_DB_ENV
from benchmarks.apps.agent import agent

__all__ = ("app",)

app = create_app(
    AGUIConfig(agent=agent, backend=MemoryBackend(threads_db=os.environ[THREADS_DB_ENV]), log_requests=False)
)
