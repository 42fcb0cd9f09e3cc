"""The benchmark agent our server runs, in memory and over Redis (``--agent benchmarks.apps.agent:agent``).

RUN_STARTED and RUN_FINISHED come from the server; the agent yields the message between them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from agui_server.protocol import TextMessageContentEvent, TextMessageEndEvent, TextMessageStartEvent
from benchmarks.workload import DELTA, MESSAGE_ID, read_props

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server import RunAgentInput, RunContext

__all__ = ("agent",)

_IDLE_SECONDS = 3600.0


async def agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[Any]:
    """N content events with the same short delta, or nothing at all for an hour (idle streams)."""
    tokens, idle = read_props(input.forwarded_props)
    if idle:
        await asyncio.sleep(_IDLE_SECONDS)
        return
    yield TextMessageStartEvent(message_id=MESSAGE_ID)
    for _ in range(tokens):
        yield TextMessageContentEvent(message_id=MESSAGE_ID, delta=DELTA)
    yield TextMessageEndEvent(message_id=MESSAGE_ID)
