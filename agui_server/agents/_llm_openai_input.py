"""AG-UI history → OpenAI Chat Completions ``messages`` and ``tools``.

The mapping aims at what every OpenAI-compatible server accepts (vLLM, Ollama, llama.cpp, LM Studio,
OpenRouter, Groq...), not only api.openai.com:

- ``system`` and ``developer`` messages become ``system`` messages (OpenAI treats them alike for its
  reasoning models; several compatible servers know no ``developer``), ``context`` one more after them;
- a user message that is all text becomes a string; media become ``image_url`` (inline as a ``data:`` URL,
  or the URL), ``input_audio`` (inline wav or mp3) or ``file`` parts (inline, or a file id); what Chat
  Completions cannot take (video, audio by URL or in another format, a document by URL) fails the run
  with ``UNSUPPORTED_CONTENT`` naming the part, before any request;
- an assistant message keeps its text and ``tool_calls``; beside tool calls an empty text is left out, not
  sent as ``null`` (llama-cpp-python's server rejects ``"content": null`` with HTTP 500);
- tool results follow their assistant message (see ``_llm_history``) and carry the tool's ``name``
  (llama-cpp-python's server requires the key; OpenAI and the other servers accept it);
- reasoning messages are not sent back (Chat Completions has no field for them across requests);
- activity messages are frontend-only and dropped.
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

__all__ = ("AUDIO_FORMATS", "assistant_message", "openai_messages", "openai_tools", "tool_message")

_PROVIDER: Final = "the OpenAI Chat Completions API"
AUDIO_FORMATS: Final = {
    "audio/wav": "wav",
    "audio/x-wav": "wav",
    "audio/wave": "wav",
    "audio/mpeg": "mp3",
    "audio/mp3": "mp3",
}
"""The audio media types OpenAI takes inline, and the ``format`` it wants for each."""
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def _media_part(media: Media, where: str) -> dict[str, Any]:
    if media.kind == "image" and (media.data is not None or media.url is not None):
        return {"type": "image_url", "image_url": {"url": media.data_url()}}
    if media.kind == "audio" and media.data is not None and (media.mime_type or "").lower() in AUDIO_FORMATS:
        fmt = AUDIO_FORMATS[(media.mime_type or "").lower()]
        return {"type": "input_audio", "input_audio": {"data": media.data, "format": fmt}}
    if media.kind == "document" and media.data is not None:
        return {"type": "file", "file": {"file_data": media.data_url(), "filename": "document"}}
    if media.kind == "document" and media.file_id is not None:
        return {"type": "file", "file": {"file_id": media.file_id}}
    raise unsupported(media, _PROVIDER, where)


def _user_content(message_id: str, content: str | Sequence[ContentPart]) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if all(isinstance(part, TextPart) for part in content):
        return text_of(content)
    return [
        _media_part(part, where) if isinstance(part, Media) else {"type": "text", "text": part.text}
        for where, part in user_parts(message_id, content)
    ]


def assistant_message(text: str | None, tool_calls: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """An assistant message with its text and its tool calls as ``(id, name, arguments)``."""
    entry: dict[str, Any] = {"role": "assistant"}
    if text or not tool_calls:
        entry["content"] = text or ""
    if tool_calls:
        entry["tool_calls"] = [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
            for call_id, name, arguments in tool_calls
        ]
    return entry


def tool_message(call_id: str, name: str, content: str) -> dict[str, Any]:
    """A tool's result for the call ``call_id``."""
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


def openai_messages(input: RunAgentInput, instructions: str | None = None) -> list[dict[str, Any]]:
    """The ``messages`` of a Chat Completions request for this run."""
    out: list[dict[str, Any]] = []
    if instructions:
        out.append({"role": "system", "content": instructions})
    context = context_text(input.context)
    if context:
        out.append({"role": "system", "content": context})
    names: dict[str, str] = {}
    for message in normalized(input.messages):
        if isinstance(message, SystemMessage | DeveloperMessage):
            out.append({"role": "system", "content": message.content})
        elif isinstance(message, UserMessage):
            out.append({"role": "user", "content": _user_content(message.id, message.content)})
        elif isinstance(message, AssistantMessage):
            calls = [(c.id, c.function.name, c.function.arguments or "{}") for c in message.tool_calls or ()]
            if not calls and not message.content:
                continue  # an empty assistant message says nothing and some servers reject it
            names.update((call_id, name) for call_id, name, _ in calls)
            out.append(assistant_message(message.content, calls))
        elif isinstance(message, ToolMessage):
            name = names.get(message.tool_call_id, "")
            out.append(tool_message(message.tool_call_id, name, tool_result_text(message)))
    return out


def openai_tools(backend: Sequence[BackendTool], frontend: Sequence[Tool]) -> list[dict[str, Any]]:
    """The ``tools`` of a Chat Completions request: backend tools, then the client's."""
    tools = [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in backend
    ]
    tools += [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters if isinstance(t.parameters, dict) else _EMPTY_SCHEMA,
            },
        }
        for t in frontend
    ]
    return tools
