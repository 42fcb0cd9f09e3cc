"""Our server over Redis, web side only: admits runs and streams their logs from Redis (``worker_slots=0``).

The agent runs in ``agui-server worker`` processes (``python -m agui_server worker --agent
benchmarks.apps.agent:agent``). The Redis URL comes from ``AGUI_BENCH_REDIS_URL``.
"""

from __future__ import annotations

import os

from agui_server import AGUIConfig, RedisBackend, create_app
from benchmarks.apps import REDIS_URL_ENV
from benchmarks.apps.agent import agent

__all__ = ("app",)

app = create_app(
    AGUIConfig(agent=agent, backend=RedisBackend(os.environ[REDIS_URL_ENV], worker_slots=0), log_requests=False)
)
