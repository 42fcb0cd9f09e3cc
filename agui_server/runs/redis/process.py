"""``agui-server worker``: a process that only executes runs, until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from agui_server.observability.telemetry import Telemetry
from agui_server.runs.config import REDIS_PREFIX, REDIS_TIMEOUT, WORKER_SLOTS
from agui_server.runs.redis.client import redis_client
from agui_server.runs.redis.keys import Keys
from agui_server.runs.redis.threads import RedisThreadStore
from agui_server.runs.redis.worker import Reaper, RedisWorker, WorkerSettings

if TYPE_CHECKING:
    from agui_server.agents.base import Agent
    from agui_server.runs.threads import ThreadLimits

__all__ = ("run_worker",)

logger = logging.getLogger("agui_server.runs.redis")


async def run_worker(
    url: str,
    agents: dict[str, Agent],
    *,
    slots: int = WORKER_SLOTS,
    prefix: str = REDIS_PREFIX,
    settings: WorkerSettings | None = None,
    thread_limits: ThreadLimits | None = None,
    socket_timeout: float = REDIS_TIMEOUT,
    threads_db: str | None = None,
) -> None:
    """Execute queued runs until the process is told to stop; then cancel what runs, bounded."""
    settings = settings or WorkerSettings()
    # commands in flight: each run's append and heartbeat, the queue reader, the cancel listener, the reaper
    redis = redis_client(url, name="agui-worker", max_connections=2 * slots + 64, socket_timeout=socket_timeout)
    keys = Keys(prefix)
    durable = None
    if threads_db is not None:  # the deployment keeps its threads in PostgreSQL (RedisBackend.threads_db)
        from agui_server.runs.postgres_threads import PostgresThreadStore

        durable = PostgresThreadStore(threads_db, thread_limits)
    threads = RedisThreadStore(redis, keys, thread_limits, durable)
    telemetry = Telemetry()  # the global providers: what the process (opentelemetry-instrument) configured
    worker = RedisWorker(redis, keys, agents, threads, slots=slots, settings=settings, telemetry=telemetry)
    reaper = Reaper(redis, keys, settings, threads, telemetry=telemetry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await worker.start()
    reaper.start()
    logger.info("worker %s: %d slots, agents %s, on %s", worker.worker_id, slots, sorted(agents), prefix)
    try:
        await stop.wait()
    finally:
        logger.info("worker %s: stopping", worker.worker_id)
        await worker.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await reaper.stop()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                await redis.aclose()
        if durable is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await durable.close()
