"""Our server: ``create_app`` serving the benchmark agent, everything in this one process."""

from __future__ import annotations

from agui_server import AGUIConfig, create_app
from benchmarks.apps.agent import agent
from benchmarks.workload import IDLE_PING_SECONDS

__all__ = ("agent", "app")

app = create_app(AGUIConfig(agent=agent, log_requests=False, keepalive_interval=IDLE_PING_SECONDS))
