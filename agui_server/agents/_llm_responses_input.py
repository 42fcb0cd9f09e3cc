"""AG-UI history → OpenAI Responses API ``input`` items and ``tools``.

The conversation is sent whole on every request, as input items, so nothing depends on state kept by the
server (``store`` is false and no ``previous_response_id`` is sent):

- ``system`` and ``developer`` messages keep their role (``developer`` is what the Responses API prefers),
  the run's ``context`` one more ``developer`` message; the adapter's instructions go in ``instructions``;
- a user message that is all text becomes a string; media become ``input_image`` (inline as a ``data:``
  URL, by URL or by file id) and ``input_file`` parts (inline, by URL or by file id); what the Responses
  API cannot take (audio, video) fails the run with ``UNSUPPORTED_CONTENT`` naming the part, before any
  request;
- an assistant message becomes an ``assistant`` message item (its text) and one ``function_call`` item per
  tool call; each tool result a ``function_call_output`` item with the same ``call_id``;
- reasoning messages are not sent back across runs (within a run the adapter replays the reasoning items
  it received, with their encrypted content); activity messages are frontend-only and dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from agui_server.agents._llm_history import (
    Media,
    context_text,
    normalized,
    text_of,
    tool_result_text,
    unsupported,
    user_parts,
)
from agui_server.protocol.types import (
    AssistantMessage,
    DeveloperMessage,
    SystemMessage,
    TextPart,
    ToolMessage,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agui_server.agents.tools import BackendTool
    from agui_server.protocol.types import ContentPart, RunAgentInput, Tool

__all__ = ("function_call_item", "function_call_output_item", "responses_input", "responses_tools")

_PROVIDER: Final = "the OpenAI Responses API"
_EMPTY_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {}}


def _media_part(media: Media, where: str) -> dict[str, Any]:
    if media.kind == "image":
        if media.file_id is not None:
            return {"type": "input_image", "detail": "auto", "file_id": media.file_id}
        return {"type": "input_image", "detail": "auto", "image_url": media.data_url()}
    if media.kind == "document":
        if media.data is not None:
            return {"type": "input_file", "filename": "document", "file_data": media.data_url()}
        if media.url is not None:
            return {"type": "input_file", "file_url": media.url}
        return {"type": "input_file", "file_id": media.file_id}
    raise unsupported(media, _PROVIDER, where)


def _user_content(message_id: str, content: str | Sequence[ContentPart]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if all(isinstance(part, TextPart) for part in content):
        return text_of(content)
    return [
        _media_part(part, where) if isinstance(part, Media) else {"type": "input_text", "text": part.text}
        for where, part in user_parts(message_id, content)
    ]


def function_call_item(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    """A ``function_call`` input item: the model's call, sent back before its result."""
    return {"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}


def function_call_output_item(call_id: str, output: str) -> dict[str, Any]:
    """A ``function_call_output`` input item: a tool's result for the call ``call_id``."""
    return {"type": "function_call_output", "call_id": call_id, "output": output}


def responses_input(input: RunAgentInput) -> list[dict[str, Any]]:
    """The ``input`` items of a Responses request for this run."""
    items: list[dict[str, Any]] = []
    context = context_text(input.context)
    if context:
        items.append({"role": "developer", "content": context})
    for message in normalized(input.messages):
        if isinstance(message, SystemMessage | DeveloperMessage):
            role = "system" if isinstance(message, SystemMessage) else "developer"
            items.append({"role": role, "content": message.content})
        elif isinstance(message, UserMessage):
            items.append({"role": "user", "content": _user_content(message.id, message.content)})
        elif isinstance(message, AssistantMessage):
            if message.content:
                items.append({"role": "assistant", "content": message.content})
            for call in message.tool_calls or ():
                items.append(function_call_item(call.id, call.function.name, call.function.arguments or "{}"))
        elif isinstance(message, ToolMessage):
            items.append(function_call_output_item(message.tool_call_id, tool_result_text(message)))
    return items


def responses_tools(backend: Sequence[BackendTool], frontend: Sequence[Tool]) -> list[dict[str, Any]]:
    """The ``tools`` of a Responses request (function tools, not strict): backend tools, then the client's."""
    tools = [
        {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": False}
        for t in backend
    ]
    tools += [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.parameters if isinstance(t.parameters, dict) else _EMPTY_SCHEMA,
            "strict": False,
        }
        for t in frontend
    ]
    return tools
