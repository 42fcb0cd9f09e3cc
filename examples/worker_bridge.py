"""A session route for the ``{event_type, payload}`` envelope: ``POST /v1/react/sessions``.

.. code-block:: sh

    uv run uvicorn examples.worker_bridge:app --port 8000
    curl -N http://localhost:8000/v1/react/sessions -H 'content-type: application/json' \\
      -d '{"user_query": "What is the capital of France?", "model_alias": "smart_agent"}'

The body (``user_query``, ``model_alias``, …) becomes a ``RunAgentInput`` through :func:`session_input`; the
stream is data-only frames ``{"event_type", "payload"}`` (the :class:`~agui_server.dialects.EventEnvelope`
dialect): ``worker_ack`` when the run has started on a worker, ``AgentThoughtStream`` (``payload.char``),
``AgentToolCallStart`` (``payload.tool_name``), ``FinalAnswerStream`` (``payload.char``),
``FinalAnswerStreamEnd``, or ``error`` (``payload.error``).

The run lives in the server's event log, not in a Pub/Sub channel: there is no start-up race and no
handshake to wait for. With Redis (``AGUIConfig(backend=RedisBackend(url))``, workers started with
``agui-server worker``), the same route streams runs that worker processes execute, and a worker that only
knows the envelope can publish into a run with :func:`agui_server.runs.redis.bridge.publish_event` (see the
README).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin, stream_text, tool_result
from agui_server.agents.offline import reply_for
from agui_server.dialects import EventEnvelope, InvalidRequest, RunRoute, thread_field, turn_input
from agui_server.protocol import events as ev

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server import RunAgentInput, RunContext


def session_input(body: dict[str, Any]) -> RunAgentInput:
    """The document's session body as a run: ``user_query`` is the user's message, ``session_id`` (when
    given) the thread; the rest (``model_alias`` …) reaches the agent as ``forwardedProps``."""
    query = body.get("user_query")
    if not isinstance(query, str) or not query:
        raise InvalidRequest("user_query", "user_query is required: the user's question")
    props = {key: value for key, value in body.items() if key not in ("user_query", "session_id")}
    return turn_input(thread_field(body, "session_id"), query, forwarded_props=props)


async def thinking_agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[Any]:
    """Thinks aloud, looks something up, then answers (offline)."""
    reasoning_id = ctx.new_id("reasoning")
    yield ev.ReasoningStartEvent(message_id=reasoning_id)
    yield ev.ReasoningMessageStartEvent(message_id=reasoning_id, role="reasoning")
    for piece in ("The user asks a question. ", "I will look it up, ", "then answer."):
        yield ev.ReasoningMessageContentEvent(message_id=reasoning_id, delta=piece)
    yield ev.ReasoningMessageEndEvent(message_id=reasoning_id)
    yield ev.ReasoningEndEvent(message_id=reasoning_id)
    call_id = ctx.new_id("call")
    yield ev.ToolCallStartEvent(tool_call_id=call_id, tool_call_name="search_knowledge_base")
    yield ev.ToolCallArgsEvent(tool_call_id=call_id, delta='{"query": "capital of France"}')
    yield ev.ToolCallEndEvent(tool_call_id=call_id)
    yield tool_result(call_id, "Paris is the capital of France.")
    async for event in stream_text(re.findall(r"\S+\s*", reply_for(input)), message_id=ctx.new_id("msg")):
        yield event


app = Litestar(
    plugins=[
        AGUIPlugin(
            AGUIConfig(
                agent=thinking_agent,
                routes=[RunRoute("/v1/react/sessions", EventEnvelope(), request=session_input)],
            )
        )
    ]
)
