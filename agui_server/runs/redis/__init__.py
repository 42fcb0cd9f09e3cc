"""Runs over Redis Streams: web and worker processes, resume on any web process, crashes survived.

Install with ``pip install "agui-server[redis]"``. DISTRIBUTED.md §5 describes the design.
"""

from __future__ import annotations

from agui_server.runs.redis.backend import RedisRun, RedisRunBackend
from agui_server.runs.redis.keys import Keys
from agui_server.runs.redis.publisher import RunPublisher, RunPublisherError
from agui_server.runs.redis.threads import RedisThreadStore
from agui_server.runs.redis.worker import Reaper, RedisWorker, WorkerSettings

__all__ = (
    "Keys",
    "Reaper",
    "RedisRun",
    "RedisRunBackend",
    "RedisThreadStore",
    "RedisWorker",
    "RunPublisher",
    "RunPublisherError",
    "WorkerSettings",
)
