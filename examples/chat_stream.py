"""Chat streaming over GET (query) and POST (JSON): ``token``, ``tool_call``, ``tool_progress``,
``tool_result``, ``done`` and ``error`` events, sessions with history.

.. code-block:: sh

    uv run uvicorn examples.chat_stream:app --port 3002
    curl -N "http://localhost:3002/api/chat/stream?message=%EC%84%9C%EC%9A%B8%EB%82%A0%EC%94%A8%EC%95%8C%EB%A0%A4%EC%A4%98&enableTools=true"
    curl -N http://localhost:3002/api/chat/stream -H 'content-type: application/json' \\
      -d '{"message": "서울의 날씨를 알려주고 섭씨를 화씨로 변환해줘", "sessionId": "user-123", "enableTools": true}'

``sessionId`` is the thread: the server keeps its history, and ``done`` says how long it is.
``enableTools=false`` reaches the agent as ``forwardedProps.enableTools``; this one then calls no tool.
(uvicorn rejects a raw UTF-8 query, as HTTP requires: send it percent-encoded, as browsers and ``curl -G
--data-urlencode`` do.)
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin, stream_text
from agui_server.agents.offline import reply_for
from agui_server.dialects import ChatEvents, RunRoute, chat_request
from agui_server.protocol import events as ev
from agui_server.protocol.types import UserMessage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server import RunAgentInput, RunContext

_WEATHER_WORDS = ("날씨", "weather")


def _last_user_text(input: RunAgentInput) -> str:
    for message in reversed(input.messages):
        if isinstance(message, UserMessage) and isinstance(message.content, str):
            return message.content
    return ""


async def weather_agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[Any]:
    """Looks up the weather (a canned answer, with progress) when asked about it, else answers offline."""
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    text = _last_user_text(input)
    message_id = ctx.new_id("msg")
    if props.get("enableTools", True) and any(word in text.lower() for word in _WEATHER_WORDS):
        call_id = ctx.new_id("call")
        yield ev.ToolCallStartEvent(tool_call_id=call_id, tool_call_name="get_weather", parent_message_id=message_id)
        yield ev.ToolCallArgsEvent(tool_call_id=call_id, delta='{"location": "Seoul"}')
        yield ev.ToolCallEndEvent(tool_call_id=call_id)
        progress_id = ctx.new_id("activity")
        for step in ("위치 확인 중...", "날씨 정보 조회 중..."):
            await asyncio.sleep(0.01)
            content = {"toolCallId": call_id, "toolName": "get_weather", "message": step}
            yield ev.ActivitySnapshotEvent(message_id=progress_id, activity_type="tool-progress", content=content)
        result = "서울: 20°C, 맑음, 습도 55%"
        yield ev.ToolCallResultEvent(message_id=ctx.new_id("tool"), tool_call_id=call_id, content=result)
        answer = f"서울의 현재 날씨는 {result.split(': ', 1)[1]}입니다. 20°C는 화씨로 68°F입니다."
        async for event in stream_text(re.findall(r"\S+\s*", answer), message_id=ctx.new_id("msg")):
            yield event
        return
    async for event in stream_text([reply_for(input)], message_id=message_id):
        yield event


app = Litestar(
    plugins=[
        AGUIPlugin(
            AGUIConfig(
                agent=weather_agent,
                routes=[RunRoute("/api/chat/stream", ChatEvents(), request=chat_request, methods=("GET", "POST"))],
            )
        )
    ]
)
