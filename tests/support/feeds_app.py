"""A web process (no worker slots) with the event feeds of doc 003, over the Redis in ``FEEDS_REDIS_URL``;
the cluster's worker processes run the agents."""

from __future__ import annotations

import os

from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin, RedisBackend
from agui_server.dialects import FeedRoute, MessageEvents
from tests.support.agents import counting, repeatable, slow

app = Litestar(
    plugins=[
        AGUIPlugin(
            AGUIConfig(
                backend=RedisBackend(os.environ["FEEDS_REDIS_URL"], worker_slots=0),
                agents={"slow": slow, "counting": counting, "repeatable": repeatable},
                routes=[
                    FeedRoute("/events", MessageEvents()),
                    FeedRoute("/stream/{agent_id}", MessageEvents(), scope="agent"),
                ],
            )
        )
    ]
)
