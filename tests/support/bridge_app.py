"""A web process whose session route runs on outside workers that publish envelopes (doc 001 over Redis).

``BRIDGE_REDIS_URL`` names the Redis. ``dispatch`` puts each job on the Redis list ``jobs``, where the
test's worker (a plain Python process using ``publish_event``) takes it.
"""

from __future__ import annotations

import json
import os
from typing import Any

from litestar import Litestar
from redis.asyncio import Redis

from agui_server import AGUIConfig, AGUIPlugin, RedisBackend, RunAgentInput
from agui_server.dialects import EventEnvelope, RunRoute
from agui_server.runs.redis.bridge import EnvelopeBridge
from examples.worker_bridge import session_input

REDIS_URL = os.environ["BRIDGE_REDIS_URL"]
_jobs: Any = None


async def dispatch(session_id: str, input: RunAgentInput) -> None:
    global _jobs
    if _jobs is None:
        _jobs = Redis.from_url(REDIS_URL)
    query = input.messages[-1].content if input.messages else ""
    await _jobs.rpush("jobs", json.dumps({"session_id": session_id, "query": query}))


agent = EnvelopeBridge(REDIS_URL, dispatch, idle_timeout=float(os.environ.get("BRIDGE_IDLE", "10")))

app = Litestar(
    plugins=[
        AGUIPlugin(
            AGUIConfig(
                agent=agent,
                backend=RedisBackend(REDIS_URL, worker_slots=2),
                routes=[RunRoute("/v1/react/sessions", EventEnvelope(), request=session_input)],
            )
        )
    ]
)
