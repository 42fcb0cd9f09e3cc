"""The AG-UI 1.0 input types: ``RunAgentInput``, messages, tools, context, interrupts.

Every Struct renames its fields to camelCase on the wire and leaves out optional fields that are
unset (``None``), so nothing optional is ever sent as ``null``. Unknown fields are ignored on input,
as the AG-UI schema asks of receivers.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal

import msgspec

__all__ = (
    "ID_PATTERN",
    "MAX_ID_LENGTH",
    "ActivityMessage",
    "AssistantMessage",
    "AudioPart",
    "BinaryPart",
    "ContentPart",
    "Context",
    "Count",
    "DataSource",
    "DeveloperMessage",
    "DocumentPart",
    "FileSource",
    "FunctionCall",
    "Id",
    "ImagePart",
    "Interrupt",
    "MediaPart",
    "Message",
    "PartSource",
    "ReasoningMessage",
    "ResumeEntry",
    "RunAgentInput",
    "SafeInt",
    "SystemMessage",
    "TextPart",
    "TokenUsage",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "UrlSource",
    "UserMessage",
    "WireStruct",
    "is_valid_id",
)


class WireStruct(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True, gc=False):
    """Base of every AG-UI object: camelCase keys, unset optionals omitted.

    ``gc=False``: these objects never form reference cycles, so the garbage collector need not track
    them; with thousands of runs and threads in memory that keeps collection pauses short.
    """


_SAFE: Final = 2**53 - 1
SafeInt = Annotated[int, msgspec.Meta(ge=-_SAFE, le=_SAFE)]
"""An integer JavaScript can hold exactly (the 1.0 schema's safe integer)."""
Count = Annotated[int, msgspec.Meta(ge=0, le=_SAFE)]
"""A non-negative safe integer (token counts)."""

MAX_ID_LENGTH: Final = 256
"""The longest id (thread, run, message, tool call) a request may carry, in characters."""
ID_PATTERN: Final = r"^(?!\.\.?$)[^\x00-\x1f\x7f/]+$"
"""Ids carry no control characters (no CR, LF or NUL to split a header or forge a log line) and no ``/``,
and are not ``.`` or ``..``: they stand in URL paths (``/threads/{id}``, ``/runs/{id}/events``)."""
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_LENGTH, pattern=ID_PATTERN)]
"""An id from a client: 1 to ``MAX_ID_LENGTH`` characters, none of them a control character or ``/``."""
_ID: Final = re.compile(ID_PATTERN)


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an :data:`Id` (for ids that arrive outside a ``RunAgentInput``: queries, paths)."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH and _ID.match(value) is not None


# --- content parts -------------------------------------------------------------------------------


class _Source(WireStruct, tag_field="type", kw_only=True):
    pass


class DataSource(_Source, tag="data"):
    """Inline base64 data."""

    value: str
    mime_type: str


class UrlSource(_Source, tag="url"):
    """Content fetched from a URL."""

    value: str
    mime_type: str | None = None


class FileSource(_Source, tag="file"):
    """A provider file handle: no bytes travel."""

    value: str
    provider: str | None = None
    mime_type: str | None = None


PartSource = DataSource | UrlSource | FileSource


class _Part(WireStruct, tag_field="type", kw_only=True):
    id: str | None = None
    metadata: Any = None


class TextPart(_Part, tag="text"):
    """A text part of a multimodal message."""

    text: str


class ImagePart(_Part, tag="image"):
    """An image part."""

    source: PartSource


class AudioPart(_Part, tag="audio"):
    """An audio part."""

    source: PartSource


class VideoPart(_Part, tag="video"):
    """A video part."""

    source: PartSource


class DocumentPart(_Part, tag="document"):
    """A document part (PDF and the like)."""

    source: PartSource


class BinaryPart(_Part, tag="binary"):
    """The pre-1.0 ``binary`` part, still sent by old clients. Accepted on input only."""

    mime_type: str
    url: str | None = None
    data: str | None = None
    filename: str | None = None


MediaPart = TextPart | ImagePart | AudioPart | VideoPart | DocumentPart
"""A 1.0 content part (what the server sends)."""
ContentPart = TextPart | ImagePart | AudioPart | VideoPart | DocumentPart | BinaryPart
"""A content part as clients may send it, the pre-1.0 ``binary`` part included."""

# --- tools, context ------------------------------------------------------------------------------


class FunctionCall(WireStruct):
    """The function half of a tool call: its name and its JSON arguments as text."""

    name: str
    arguments: str


class ToolCall(WireStruct, tag_field="type", tag="function"):
    """A tool call carried by an assistant message (``"type": "function"`` is its tag)."""

    id: Id
    function: FunctionCall
    encrypted_value: str | None = None
    metadata: dict[str, Any] | None = None


class Tool(WireStruct):
    """A tool the client offers to the agent (a frontend tool)."""

    name: str
    description: str
    parameters: Any = None
    metadata: dict[str, Any] | None = None


class Context(WireStruct):
    """A piece of context the client passes along with the run."""

    description: str
    value: str


class Interrupt(WireStruct):
    """A question the run leaves open for the client to answer in a later run."""

    id: str
    reason: str
    message: str | None = None
    tool_call_id: str | None = None
    response_schema: dict[str, Any] | None = None
    expires_at: str | None = None
    metadata: dict[str, Any] | None = None
    subagent_run_id: str | None = None


class ResumeEntry(WireStruct):
    """The client's answer to an interrupt."""

    interrupt_id: str
    status: Literal["resolved", "cancelled"]
    payload: Any = None
    metadata: dict[str, Any] | None = None


class TokenUsage(WireStruct):
    """Token counts reported with a run's terminal event."""

    provider: str | None = None
    model: str | None = None
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    total_tokens: Count | None = None
    reasoning_tokens: Count | None = None
    cached_input_tokens: Count | None = None
    cache_write_input_tokens: Count | None = None


# --- messages --------------------------------------------------------------------------------------


class _Message(WireStruct, tag_field="role", kw_only=True):
    id: Id
    metadata: dict[str, Any] | None = None
    subagent_run_id: str | None = None


class DeveloperMessage(_Message, tag="developer"):
    """A developer (high-priority system) message."""

    content: str
    name: str | None = None
    encrypted_value: str | None = None


class SystemMessage(_Message, tag="system"):
    """A system message."""

    content: str
    name: str | None = None
    encrypted_value: str | None = None


class AssistantMessage(_Message, tag="assistant"):
    """An assistant message: text, tool calls, or both."""

    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    name: str | None = None
    encrypted_value: str | None = None


class UserMessage(_Message, tag="user"):
    """A user message: a string or a list of content parts."""

    content: str | list[ContentPart]
    name: str | None = None
    encrypted_value: str | None = None


class ToolMessage(_Message, tag="tool"):
    """The result of a tool call."""

    content: str | list[ContentPart]
    tool_call_id: Id
    error: str | None = None
    encrypted_value: str | None = None


class ActivityMessage(_Message, tag="activity"):
    """A frontend-only activity message."""

    activity_type: str
    content: dict[str, Any]


class ReasoningMessage(_Message, tag="reasoning"):
    """A reasoning message."""

    content: str
    encrypted_value: str | None = None


Message = (
    DeveloperMessage | SystemMessage | AssistantMessage | UserMessage | ToolMessage | ActivityMessage | ReasoningMessage
)


class RunAgentInput(WireStruct):
    """The body of ``POST /ag-ui``.

    Only ``threadId``, ``runId`` and ``messages`` are required. ``tools``, ``context``, ``state`` and
    ``forwardedProps`` may be missing or ``null``. A request without ``protocolVersion`` comes from a
    pre-1.0 client (CopilotKit ships ``@ag-ui/client`` 0.0.59).
    """

    thread_id: Id
    run_id: Id
    messages: list[Message]
    protocol_version: str | None = None
    parent_run_id: Id | None = None
    state: Any = None
    tools: list[Tool] | None = None
    context: list[Context] | None = None
    forwarded_props: Any = None
    resume: list[ResumeEntry] | None = None
