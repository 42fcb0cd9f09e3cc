"""AG-UI history → Anthropic Messages ``system``, ``messages`` and ``tools``.

- ``system`` and ``developer`` messages (wherever they are), the adapter's instructions and the run's
  ``context`` make the top-level ``system`` prompt;
- user content becomes ``text``, ``image`` and ``document`` blocks (inline, by URL or by file id);
  audio and video, which the Messages API cannot read, fail the run with ``UNSUPPORTED_CONTENT`` naming
  the part, before any request;
- an assistant message becomes ``thinking`` / ``redacted_thinking`` blocks (from the reasoning messages
  before it, see below), a ``text`` block and ``tool_use`` blocks;
- tool results become ``tool_result`` blocks of the next user turn (``is_error`` when the message has an
  ``error``); consecutive turns of one role are merged, tool results first, as the API wants.

Thinking round trip: the adapter streams a thinking block as a reasoning message and sends its
signature as ``REASONING_ENCRYPTED_VALUE`` (subtype ``message``), which the client stores as that
message's ``encryptedValue``. Coming back, a reasoning message with an ``encryptedValue`` becomes a
``thinking`` block with that signature in the assistant turn that follows it. A redacted thinking
block travels as an ``encryptedValue`` starting with :data:`REDACTED_PREFIX`. An ``encryptedValue`` on
the assistant message itself signs the unsigned reasoning message just before it (or is a redacted
block). Reasoning without a signature is not sent: the API would reject it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.agents._llm_history import Media, context_text, normalized, unsupported, user_parts
from agui_server.protocol.types import (
    AssistantMessage,
    DeveloperMessage,
    ReasoningMessage,
    SystemMessage,
    ToolMessage,
    UserMessage,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from agui_server.agents.tools import BackendTool
    from agui_server.protocol.types import ContentPart, RunAgentInput, Tool

__all__ = ("REDACTED_PREFIX", "anthropic_conversation", "anthropic_tools", "tool_input")

REDACTED_PREFIX: Final = "redacted_thinking:"
"""Marks an ``encryptedValue`` that carries a redacted thinking block's data rather than a signature."""

_PROVIDER: Final = "the Anthropic Messages API"
_EMPTY_SCHEMA: Final[dict[str, Any]] = {"type": "object", "properties": {}}


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the ``input`` object of a ``tool_use`` block (``{}`` if unreadable)."""
    try:
        value = msgspec.json.decode(arguments or "{}")
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _source(media: Media) -> dict[str, Any] | None:
    if media.data is not None:
        return {"type": "base64", "media_type": media.mime_type or "application/octet-stream", "data": media.data}
    if media.url is not None:
        return {"type": "url", "url": media.url}
    if media.file_id is not None:
        return {"type": "file", "file_id": media.file_id}
    return None


def _blocks(message_id: str, content: str | Sequence[ContentPart]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for where, part in user_parts(message_id, content):
        if not isinstance(part, Media):
            if part.text:
                blocks.append({"type": "text", "text": part.text})
            continue
        source = _source(part)
        if part.kind not in ("image", "document") or source is None:
            raise unsupported(part, _PROVIDER, where)
        blocks.append({"type": part.kind, "source": source})
    return blocks


def _thinking(message: ReasoningMessage, signature: str | None) -> dict[str, Any] | None:
    value = signature or message.encrypted_value
    if not value:
        return None
    if value.startswith(REDACTED_PREFIX):
        return {"type": "redacted_thinking", "data": value.removeprefix(REDACTED_PREFIX)}
    return {"type": "thinking", "thinking": message.content, "signature": value}


def _assistant_blocks(message: AssistantMessage, reasoning: list[ReasoningMessage]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    own = message.encrypted_value
    for index, item in enumerate(reasoning):
        signs_this = own is not None and not item.encrypted_value and index == len(reasoning) - 1
        block = _thinking(item, own if signs_this else None)
        if signs_this:
            own = None
        if block is not None:
            blocks.append(block)
    if own is not None and own.startswith(REDACTED_PREFIX):
        blocks.append({"type": "redacted_thinking", "data": own.removeprefix(REDACTED_PREFIX)})
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    for call in message.tool_calls or ():
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.function.name,
                "input": tool_input(call.function.arguments),
            }
        )
    return blocks


def _tool_result(message: ToolMessage) -> dict[str, Any]:
    content = _blocks(message.id, message.content) if not isinstance(message.content, str) else message.content
    if message.error:
        note = f"Error: {message.error}"
        content = [{"type": "text", "text": note}, *content] if isinstance(content, list) else f"{note}\n{content}"
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id, "content": content}
    if message.error:
        block["is_error"] = True
    return block


def _append(messages: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if messages and messages[-1]["role"] == role:
        messages[-1]["content"].extend(blocks)
    else:
        messages.append({"role": role, "content": blocks})


def anthropic_conversation(
    input: RunAgentInput, instructions: str | None = None
) -> tuple[str | None, list[dict[str, Any]]]:
    """The ``system`` prompt and the ``messages`` of a Messages request for this run."""
    system: list[str] = [instructions] if instructions else []
    messages: list[dict[str, Any]] = []
    reasoning: list[ReasoningMessage] = []
    for message in normalized(input.messages):
        if isinstance(message, SystemMessage | DeveloperMessage):
            if message.content:
                system.append(message.content)
        elif isinstance(message, ReasoningMessage):
            reasoning.append(message)
        elif isinstance(message, AssistantMessage):
            _append(messages, "assistant", _assistant_blocks(message, reasoning))
            reasoning = []
        elif isinstance(message, UserMessage):
            _append(messages, "user", _blocks(message.id, message.content))
            reasoning = []
        elif isinstance(message, ToolMessage):
            _append(messages, "user", [_tool_result(message)])
    context = context_text(input.context)
    if context:
        system.append(context)
    return ("\n\n".join(system) or None), messages


def _schema(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        return dict(_EMPTY_SCHEMA)
    return parameters if parameters.get("type") == "object" else {**parameters, "type": "object"}


def anthropic_tools(backend: Sequence[BackendTool], frontend: Sequence[Tool]) -> list[dict[str, Any]]:
    """The ``tools`` of a Messages request: backend tools, then the client's."""
    tools = [{"name": t.name, "description": t.description, "input_schema": _schema(t.parameters)} for t in backend]
    tools += [{"name": t.name, "description": t.description, "input_schema": _schema(t.parameters)} for t in frontend]
    return tools
