"""Helpers that make the common agent moves a few lines: stream a text message, stream a tool call.

Each helper is an async generator of events; use it with ``async for event in helper(...): yield event``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterable, Iterable
from typing import TYPE_CHECKING, Any

import msgspec

from agui_server.protocol import events as ev

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server.protocol.events import TextRole

__all__ = ("stream_text", "stream_tool_call", "tool_result")


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


async def _pieces(source: str | Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(source, str):
        yield source
    elif isinstance(source, AsyncIterable):
        async for piece in source:
            yield piece
    else:
        for piece in source:
            yield piece


async def stream_text(
    text: str | Iterable[str] | AsyncIterable[str],
    *,
    message_id: str | None = None,
    role: TextRole = "assistant",
) -> AsyncIterator[ev.Event]:
    """A whole text message: ``TEXT_MESSAGE_START``, one ``CONTENT`` per piece, ``END``.

    Args:
        text: the text, or its pieces (a list, a generator, an async generator of tokens).
        message_id: the message id; a fresh one when left out.
        role: the message's role.
    """
    mid = message_id or _new_id("msg")
    yield ev.TextMessageStartEvent(message_id=mid, role=role)
    async for piece in _pieces(text):
        if piece:
            yield ev.TextMessageContentEvent(message_id=mid, delta=piece)
    yield ev.TextMessageEndEvent(message_id=mid)


async def stream_tool_call(
    name: str,
    arguments: Any,
    *,
    tool_call_id: str | None = None,
    parent_message_id: str | None = None,
) -> AsyncIterator[ev.Event]:
    """A whole tool call: ``TOOL_CALL_START``, ``ARGS`` and ``END``.

    Args:
        name: the tool's name.
        arguments: a JSON-able object (sent as one ``ARGS``), or pieces of its JSON text (a list, a
            generator or an async generator of strings), sent one ``ARGS`` each.
        tool_call_id: the call id; a fresh one when left out.
        parent_message_id: the assistant message this call belongs to (set it, so the client keeps the
            call in that message).
    """
    cid = tool_call_id or _new_id("call")
    yield ev.ToolCallStartEvent(tool_call_id=cid, tool_call_name=name, parent_message_id=parent_message_id)
    if isinstance(arguments, (AsyncIterable, Iterable)) and not isinstance(arguments, (str, bytes, dict)):
        async for piece in _pieces(arguments):
            if piece:
                yield ev.ToolCallArgsEvent(tool_call_id=cid, delta=piece)
    else:
        text = arguments if isinstance(arguments, str) else msgspec.json.encode(arguments).decode()
        yield ev.ToolCallArgsEvent(tool_call_id=cid, delta=text)
    yield ev.ToolCallEndEvent(tool_call_id=cid)


def tool_result(tool_call_id: str, content: Any, *, message_id: str | None = None) -> ev.ToolCallResultEvent:
    """The result of a backend tool: a string, or any JSON-able value (sent as its JSON text)."""
    text = content if isinstance(content, str) else msgspec.json.encode(content).decode()
    return ev.ToolCallResultEvent(
        message_id=message_id or _new_id("tool"), tool_call_id=tool_call_id, content=text, role="tool"
    )
