"""The built-in offline agent: no key, no network, the same answer for the same input.

It answers the last user message with a reply streamed word by word. When the request offers tools
(frontend tools, ``RunAgentInput.tools``) it also calls the first one, with arguments made to fit the
tool's JSON Schema, and ends the run so the client can run the tool; when the next request carries the
tool's result, it acknowledges it in text.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any, Final

from agui_server.agents.helpers import stream_tool_call
from agui_server.protocol import events as ev
from agui_server.protocol.types import TextPart, ToolMessage, UserMessage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server.agents.base import RunContext
    from agui_server.protocol.types import Message, RunAgentInput

__all__ = ("OfflineAgent", "example_for_schema", "reply_for")

_TOKEN: Final = re.compile(r"\S+\s*|\s+")
_MAX_QUOTE: Final = 200


def _text_of(message: Message) -> str:
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.text for part in content if isinstance(part, TextPart))
    return ""


def reply_for(input: RunAgentInput) -> str:
    """The offline agent's answer to a request."""
    last = input.messages[-1] if input.messages else None
    if isinstance(last, ToolMessage):
        name = _tool_name(input, last.tool_call_id)
        return f"The tool {name} returned: {_text_of(last)[:_MAX_QUOTE]}. That completes the request."
    said = next((_text_of(m) for m in reversed(input.messages) if isinstance(m, UserMessage)), "")
    if not said.strip():
        return "Hello! I am the offline agent of agui-server. Send me a message and I will answer it."
    quoted = said.strip()
    if len(quoted) > _MAX_QUOTE:
        quoted = quoted[:_MAX_QUOTE] + "…"
    return (
        f'You said: "{quoted}". I am the offline agent of agui-server: no model, no network, '
        "the same reply every time. Point --agent at your own agent to do real work."
    )


def _tool_name(input: RunAgentInput, tool_call_id: str) -> str:
    for message in input.messages:
        for call in getattr(message, "tool_calls", None) or ():
            if call.id == tool_call_id:
                return str(call.function.name)
    return "call"


_MAX_EXAMPLE_STRING: Final = 64
"""The longest string the offline agent makes for a schema (a client's ``minLength`` is not trusted past it)."""
_MAX_EXAMPLE_ITEMS: Final = 4
"""The most items it puts in an array (whatever ``minItems`` says)."""
_MAX_EXAMPLE_NODES: Final = 128
"""The most values in one example: the response stays small whatever schema a request sends."""


def example_for_schema(schema: Any, depth: int = 0, budget: list[int] | None = None) -> Any:
    """A small value that satisfies a JSON Schema (the common keywords; best effort for the rest).

    Bounded whatever the schema asks: strings up to 64 characters, arrays up to 4 items, 128 values in all
    (past that, ``None``): at most about 8 KiB beside the property names the schema itself carries.
    """
    budget = [_MAX_EXAMPLE_NODES] if budget is None else budget
    budget[0] -= 1
    if not isinstance(schema, dict) or depth > 8 or budget[0] < 0:
        return {} if depth == 0 else None
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_for_schema(schema[key][0], depth + 1, budget)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        props: dict[str, Any] = schema.get("properties") or {}
        required = [name for name in schema.get("required") or [] if name in props]
        return {name: example_for_schema(props[name], depth + 1, budget) for name in required or list(props)[:1]}
    if kind == "array":
        count = min(max(_int(schema.get("minItems"), 1), 1), _MAX_EXAMPLE_ITEMS)
        items = schema.get("items", {"type": "string"})
        return [example_for_schema(items, depth + 1, budget) for _ in range(count)]
    if kind == "string":
        return "example".ljust(min(_int(schema.get("minLength"), 0), _MAX_EXAMPLE_STRING), "x")
    if kind == "integer":
        return _int(schema.get("minimum"), 1)
    if kind == "number":
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {} if depth == 0 else "example"


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | float) and abs(value) < 2**53 else default


class OfflineAgent:
    """The default agent (id ``default``).

    Args:
        delay: seconds to wait between tokens (0 streams as fast as possible).
    """

    __slots__ = ("delay",)

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    async def run(self, input: RunAgentInput, ctx: RunContext) -> AsyncIterator[ev.Event]:
        """Answer the last user message; call the first offered tool."""
        message_id = ctx.new_id("msg")
        yield ev.TextMessageStartEvent(message_id=message_id, role="assistant")
        for token in _TOKEN.findall(reply_for(input)):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield ev.TextMessageContentEvent(message_id=message_id, delta=token)
        yield ev.TextMessageEndEvent(message_id=message_id)
        last = input.messages[-1] if input.messages else None
        if input.tools and not isinstance(last, ToolMessage):
            tool = input.tools[0]
            async for event in stream_tool_call(
                tool.name,
                example_for_schema(tool.parameters),
                tool_call_id=ctx.new_id("call"),
                parent_message_id=message_id,
            ):
                yield event
