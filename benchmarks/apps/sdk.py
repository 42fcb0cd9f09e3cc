"""The way most Python peers serve AG-UI: ``ag-ui-protocol`` models, ``EventEncoder`` per event, Starlette.

The body is parsed with ``RunAgentInput.model_validate_json``; an agent yields ``ag_ui.core`` events and
the endpoint yields ``encoder.encode(event)`` for each into a ``StreamingResponse``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ag_ui.core import (
    BaseEvent,
    EventType,
    RunAgentInput,
    RunFinishedEvent,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
)
from ag_ui.encoder import EventEncoder
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from benchmarks.workload import DELTA, IDLE_PING_SECONDS, MESSAGE_ID, PATH, read_props

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request


async def agent(input: RunAgentInput) -> AsyncIterator[BaseEvent]:
    """The same events as the other servers, as ``ag_ui.core`` models."""
    tokens, _idle = read_props(input.forwarded_props)
    yield RunStartedEvent(type=EventType.RUN_STARTED, thread_id=input.thread_id, run_id=input.run_id)
    yield TextMessageStartEvent(type=EventType.TEXT_MESSAGE_START, message_id=MESSAGE_ID, role="assistant")
    for _ in range(tokens):
        yield TextMessageContentEvent(type=EventType.TEXT_MESSAGE_CONTENT, message_id=MESSAGE_ID, delta=DELTA)
    yield TextMessageEndEvent(type=EventType.TEXT_MESSAGE_END, message_id=MESSAGE_ID)
    yield RunFinishedEvent(type=EventType.RUN_FINISHED, thread_id=input.thread_id, run_id=input.run_id)


async def run_agent(request: Request) -> StreamingResponse:
    encoder = EventEncoder(accept=request.headers.get("accept", ""))
    input = RunAgentInput.model_validate_json(await request.body())
    _tokens, idle = read_props(input.forwarded_props)

    async def stream() -> AsyncIterator[str]:
        if idle:
            started = RunStartedEvent(type=EventType.RUN_STARTED, thread_id=input.thread_id, run_id=input.run_id)
            yield encoder.encode(started)
            while True:
                await asyncio.sleep(IDLE_PING_SECONDS)
                yield ": ping\n\n"
        async for event in agent(input):
            yield encoder.encode(event)

    return StreamingResponse(stream(), media_type=encoder.get_content_type())


app = Starlette(routes=[Route(PATH, run_agent, methods=["POST"])])
