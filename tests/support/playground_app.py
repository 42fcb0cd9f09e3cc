"""The app the playground's browser tests drive (``uvicorn tests.support.playground_app:app``): the playground on,
the offline agent as the default, and agents that show each part of the page. ``PLAYGROUND_TOKENS`` (``TOKEN
PRINCIPAL;…``) puts bearer tokens in front of it."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

from agui_server import AGUIConfig, stream_tool_call
from agui_server.http.app import create_app
from agui_server.http.auth import BearerTokens
from agui_server.protocol.types import ToolMessage
from tests.support.interrupting import asks_first


async def colors(input: Any, ctx: Any) -> Any:
    """Calls the page's frontend tool ``pick_color``; once its result is in the thread, says which color came."""
    last = input.messages[-1] if input.messages else None
    if isinstance(last, ToolMessage) and isinstance(last.content, str):
        picked = json.loads(last.content)
        yield f"You picked {picked.get('color', 'no color')}."
        return
    offered = {tool.name for tool in input.tools}
    if "pick_color" not in offered:
        yield "This page offers no pick_color tool."
        return
    yield "Let me ask you for a color."
    async for event in stream_tool_call("pick_color", {"prompt": "Which color should the banner be?"}):
        yield event


async def slow(input: Any, ctx: Any) -> Any:
    """``forwardedProps.tokens`` (default 80) numbered tokens, one every 50 ms: long enough to stop or reload."""
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    for n in range(int(props.get("tokens", 80))):
        yield f"t{n} "
        await asyncio.sleep(0.05)


async def stateful(input: Any, ctx: Any) -> Any:
    """Reasoning, state (a snapshot, then a patch) and a backend tool call with its result."""
    yield {"type": "REASONING_START", "messageId": "why"}
    yield {"type": "REASONING_MESSAGE_START", "messageId": "why-1", "role": "reasoning"}
    yield {"type": "REASONING_MESSAGE_CONTENT", "messageId": "why-1", "delta": "The user wants a plan; keep it short."}
    yield {"type": "REASONING_MESSAGE_END", "messageId": "why-1"}
    yield {"type": "REASONING_END", "messageId": "why"}
    yield {"type": "STATE_SNAPSHOT", "snapshot": {"plan": {"steps": ["collect", "write"], "done": 0}, "owner": "you"}}
    call = ctx.new_id("call")
    async for event in stream_tool_call("lookup", {"topic": "plans"}, tool_call_id=call):
        yield event
    yield {"type": "TOOL_CALL_RESULT", "messageId": ctx.new_id("tool"), "toolCallId": call, "content": '{"found": 2}'}
    yield {
        "type": "STATE_DELTA",
        "delta": [
            {"op": "replace", "path": "/plan/done", "value": 1},
            {"op": "add", "path": "/plan/steps/-", "value": "review"},
        ],
    }
    yield "Plan updated: one step done, a review step added."


def _config() -> AGUIConfig:
    tokens = os.environ.get("PLAYGROUND_TOKENS")
    return AGUIConfig(
        agents={"colors": colors, "slow": slow, "stateful": stateful, "approvals": asks_first},
        playground=True,
        strict=True,
        auth=BearerTokens.parse(tokens) if tokens else None,
    )


app = create_app(_config())
