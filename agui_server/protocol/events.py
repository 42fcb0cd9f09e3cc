"""Every AG-UI 1.0 event as a msgspec Struct, tagged by its ``type``.

Optional fields default to ``None`` and are left out of the encoded JSON. Fields the protocol wants
present with a fixed value (``TEXT_MESSAGE_START.role``, ``REASONING_MESSAGE_START.role``) are filled
in when the event is created, so they are always sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal

import msgspec

from agui_server.protocol.types import (
    Interrupt,
    MediaPart,
    Message,
    RunAgentInput,
    SafeInt,
    TokenUsage,
    WireStruct,
)

__all__ = (
    "ActivityDeltaEvent",
    "ActivitySnapshotEvent",
    "BaseEvent",
    "CancelledOutcome",
    "CustomEvent",
    "Event",
    "EventType",
    "InterruptOutcome",
    "JsonPatch",
    "JsonPointer",
    "MessagesSnapshotEvent",
    "PatchAdd",
    "PatchCopy",
    "PatchMove",
    "PatchOp",
    "PatchRemove",
    "PatchReplace",
    "PatchTest",
    "RawEvent",
    "ReasoningEncryptedValueEvent",
    "ReasoningEndEvent",
    "ReasoningMessageChunkEvent",
    "ReasoningMessageContentEvent",
    "ReasoningMessageEndEvent",
    "ReasoningMessageStartEvent",
    "ReasoningStartEvent",
    "RunErrorEvent",
    "RunFinishedEvent",
    "RunOutcome",
    "RunStartedEvent",
    "StateDeltaEvent",
    "StateSnapshotEvent",
    "StepFinishedEvent",
    "StepStartedEvent",
    "SubagentErrorEvent",
    "SubagentFinishedEvent",
    "SubagentOutcome",
    "SubagentStartedEvent",
    "SubagentSuccessOutcome",
    "SubagentSuspendedOutcome",
    "SuccessOutcome",
    "TextMessageChunkEvent",
    "TextMessageContentEvent",
    "TextMessageEndEvent",
    "TextMessageStartEvent",
    "TextRole",
    "ToolCallArgsEvent",
    "ToolCallChunkEvent",
    "ToolCallEndEvent",
    "ToolCallResultEvent",
    "ToolCallStartEvent",
)


class EventType(StrEnum):
    """The ``type`` of every AG-UI 1.0 event."""

    RUN_STARTED = "RUN_STARTED"
    RUN_FINISHED = "RUN_FINISHED"
    RUN_ERROR = "RUN_ERROR"
    STEP_STARTED = "STEP_STARTED"
    STEP_FINISHED = "STEP_FINISHED"
    TEXT_MESSAGE_START = "TEXT_MESSAGE_START"
    TEXT_MESSAGE_CONTENT = "TEXT_MESSAGE_CONTENT"
    TEXT_MESSAGE_END = "TEXT_MESSAGE_END"
    TEXT_MESSAGE_CHUNK = "TEXT_MESSAGE_CHUNK"
    TOOL_CALL_START = "TOOL_CALL_START"
    TOOL_CALL_ARGS = "TOOL_CALL_ARGS"
    TOOL_CALL_END = "TOOL_CALL_END"
    TOOL_CALL_CHUNK = "TOOL_CALL_CHUNK"
    TOOL_CALL_RESULT = "TOOL_CALL_RESULT"
    STATE_SNAPSHOT = "STATE_SNAPSHOT"
    STATE_DELTA = "STATE_DELTA"
    MESSAGES_SNAPSHOT = "MESSAGES_SNAPSHOT"
    ACTIVITY_SNAPSHOT = "ACTIVITY_SNAPSHOT"
    ACTIVITY_DELTA = "ACTIVITY_DELTA"
    REASONING_START = "REASONING_START"
    REASONING_MESSAGE_START = "REASONING_MESSAGE_START"
    REASONING_MESSAGE_CONTENT = "REASONING_MESSAGE_CONTENT"
    REASONING_MESSAGE_END = "REASONING_MESSAGE_END"
    REASONING_MESSAGE_CHUNK = "REASONING_MESSAGE_CHUNK"
    REASONING_END = "REASONING_END"
    REASONING_ENCRYPTED_VALUE = "REASONING_ENCRYPTED_VALUE"
    SUBAGENT_STARTED = "SUBAGENT_STARTED"
    SUBAGENT_FINISHED = "SUBAGENT_FINISHED"
    SUBAGENT_ERROR = "SUBAGENT_ERROR"
    RAW = "RAW"
    CUSTOM = "CUSTOM"


_POINTER: Final = r"^(/([^/~]|~[01])*)*$"
JsonPointer = Annotated[str, msgspec.Meta(pattern=_POINTER)]
"""An RFC 6901 JSON Pointer: empty, or ``/``-rooted."""


class _PatchOp(WireStruct, tag_field="op", kw_only=True):
    path: JsonPointer


class PatchAdd(_PatchOp, tag="add"):
    """``{"op": "add", "path": ..., "value": ...}``."""

    value: Any


class PatchRemove(_PatchOp, tag="remove"):
    """``{"op": "remove", "path": ...}``."""


class PatchReplace(_PatchOp, tag="replace"):
    """``{"op": "replace", "path": ..., "value": ...}``."""

    value: Any


class PatchMove(_PatchOp, tag="move"):
    """``{"op": "move", "from": ..., "path": ...}``."""

    from_: JsonPointer = msgspec.field(name="from")


class PatchCopy(_PatchOp, tag="copy"):
    """``{"op": "copy", "from": ..., "path": ...}``."""

    from_: JsonPointer = msgspec.field(name="from")


class PatchTest(_PatchOp, tag="test"):
    """``{"op": "test", "path": ..., "value": ...}``."""

    value: Any


PatchOp = PatchAdd | PatchRemove | PatchReplace | PatchMove | PatchCopy | PatchTest
JsonPatch = list[PatchOp]
"""An RFC 6902 JSON Patch. Plain dicts in the wire shape encode the same way."""

TextRole = Literal["developer", "system", "assistant", "user"]


class BaseEvent(WireStruct, tag_field="type", kw_only=True):
    """Fields every event may carry. ``timestamp`` is integer milliseconds since the epoch."""

    timestamp: SafeInt | None = None
    raw_event: Any = None
    metadata: dict[str, Any] | None = None


class _AttributedEvent(BaseEvent, kw_only=True):
    """An event that a subagent may own (``subagentRunId``)."""

    subagent_run_id: str | None = None


# --- outcomes ----------------------------------------------------------------------------------


class _Outcome(WireStruct, tag_field="type", kw_only=True):
    pass


class SuccessOutcome(_Outcome, tag="success"):
    """The run succeeded. ``pendingToolCallIds`` lists tool calls the client should answer."""

    pending_tool_call_ids: list[str] | None = None


class InterruptOutcome(_Outcome, tag="interrupt"):
    """The run stopped to ask the client something; the next run carries ``resume``."""

    interrupts: Annotated[list[Interrupt], msgspec.Meta(min_length=1)]


class CancelledOutcome(_Outcome, tag="cancelled"):
    """The run was stopped before it finished."""


RunOutcome = SuccessOutcome | InterruptOutcome | CancelledOutcome


class SubagentSuccessOutcome(_Outcome, tag="success"):
    """The subagent finished."""


class SubagentSuspendedOutcome(_Outcome, tag="suspended"):
    """The subagent waits on interrupts."""

    interrupt_ids: list[str] | None = None


SubagentOutcome = SubagentSuccessOutcome | SubagentSuspendedOutcome

# --- lifecycle ---------------------------------------------------------------------------------


class RunStartedEvent(BaseEvent, tag="RUN_STARTED"):
    """The first event of a run; echoes the request's ``threadId`` and ``runId``."""

    thread_id: str
    run_id: str
    protocol_version: str | None = None
    parent_run_id: str | None = None
    input: RunAgentInput | None = None


class RunFinishedEvent(BaseEvent, tag="RUN_FINISHED"):
    """The run ended; an absent ``outcome`` means success."""

    thread_id: str
    run_id: str
    result: Any = None
    outcome: RunOutcome | None = None
    usage: list[TokenUsage] | None = None


class RunErrorEvent(BaseEvent, tag="RUN_ERROR"):
    """The run failed. Terminal, like ``RUN_FINISHED``."""

    message: str
    code: str | None = None
    usage: list[TokenUsage] | None = None


class StepStartedEvent(_AttributedEvent, tag="STEP_STARTED"):
    """A named step began."""

    step_name: str


class StepFinishedEvent(_AttributedEvent, tag="STEP_FINISHED"):
    """A named step ended."""

    step_name: str


# --- text ------------------------------------------------------------------------------------------


class TextMessageStartEvent(_AttributedEvent, tag="TEXT_MESSAGE_START"):
    """A text message opens. ``role`` is always sent (``assistant`` unless given)."""

    message_id: str
    role: TextRole | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        if self.role is None:
            self.role = "assistant"


class TextMessageContentEvent(_AttributedEvent, tag="TEXT_MESSAGE_CONTENT"):
    """A piece of an open text message."""

    message_id: str
    delta: str


class TextMessageEndEvent(_AttributedEvent, tag="TEXT_MESSAGE_END"):
    """A text message closes."""

    message_id: str


class TextMessageChunkEvent(_AttributedEvent, tag="TEXT_MESSAGE_CHUNK"):
    """Shorthand the client expands into START/CONTENT/END."""

    message_id: str | None = None
    role: TextRole | None = None
    delta: str | None = None
    name: str | None = None


# --- tool calls ------------------------------------------------------------------------------------


class ToolCallStartEvent(_AttributedEvent, tag="TOOL_CALL_START"):
    """A tool call opens; ``parentMessageId`` ties it to its assistant message."""

    tool_call_id: str
    tool_call_name: str
    parent_message_id: str | None = None


class ToolCallArgsEvent(_AttributedEvent, tag="TOOL_CALL_ARGS"):
    """A piece of the tool call's JSON arguments."""

    tool_call_id: str
    delta: str


class ToolCallEndEvent(_AttributedEvent, tag="TOOL_CALL_END"):
    """A tool call's arguments are complete."""

    tool_call_id: str


class ToolCallChunkEvent(_AttributedEvent, tag="TOOL_CALL_CHUNK"):
    """Shorthand the client expands into START/ARGS/END."""

    tool_call_id: str | None = None
    tool_call_name: str | None = None
    parent_message_id: str | None = None
    delta: str | None = None


class ToolCallResultEvent(_AttributedEvent, tag="TOOL_CALL_RESULT"):
    """A tool's result; mints a new tool message with id ``messageId``."""

    message_id: str
    tool_call_id: str
    content: str | list[MediaPart]
    role: Literal["tool"] | None = None


# --- state and messages ----------------------------------------------------------------------------


class StateSnapshotEvent(_AttributedEvent, tag="STATE_SNAPSHOT"):
    """Replaces the client's state."""

    snapshot: Any


class StateDeltaEvent(_AttributedEvent, tag="STATE_DELTA"):
    """Patches the client's state (RFC 6902, ``/``-rooted pointers)."""

    delta: JsonPatch


class MessagesSnapshotEvent(BaseEvent, tag="MESSAGES_SNAPSHOT"):
    """Replaces the client's messages, merged by id."""

    messages: list[Message]


class ActivitySnapshotEvent(_AttributedEvent, tag="ACTIVITY_SNAPSHOT"):
    """Creates or replaces an activity message."""

    message_id: str
    activity_type: str
    content: dict[str, Any]
    replace: bool | None = None


class ActivityDeltaEvent(_AttributedEvent, tag="ACTIVITY_DELTA"):
    """Patches an activity message's content."""

    message_id: str
    activity_type: str
    patch: JsonPatch


# --- reasoning -------------------------------------------------------------------------------------


class ReasoningStartEvent(_AttributedEvent, tag="REASONING_START"):
    """A reasoning span opens."""

    message_id: str


class ReasoningMessageStartEvent(_AttributedEvent, tag="REASONING_MESSAGE_START"):
    """A reasoning message opens. ``role`` is always ``reasoning``."""

    message_id: str
    role: Literal["reasoning"] | None = None

    def __post_init__(self) -> None:
        if self.role is None:
            self.role = "reasoning"


class ReasoningMessageContentEvent(_AttributedEvent, tag="REASONING_MESSAGE_CONTENT"):
    """A piece of an open reasoning message."""

    message_id: str
    delta: str


class ReasoningMessageEndEvent(_AttributedEvent, tag="REASONING_MESSAGE_END"):
    """A reasoning message closes."""

    message_id: str


class ReasoningMessageChunkEvent(_AttributedEvent, tag="REASONING_MESSAGE_CHUNK"):
    """Shorthand the client expands into reasoning START/CONTENT/END."""

    message_id: str | None = None
    delta: str | None = None


class ReasoningEndEvent(_AttributedEvent, tag="REASONING_END"):
    """A reasoning span closes."""

    message_id: str


class ReasoningEncryptedValueEvent(_AttributedEvent, tag="REASONING_ENCRYPTED_VALUE"):
    """An opaque reasoning value to send back on the next turn."""

    subtype: Literal["tool-call", "message"]
    entity_id: str
    encrypted_value: str


# --- subagents -------------------------------------------------------------------------------------


class SubagentStartedEvent(BaseEvent, tag="SUBAGENT_STARTED"):
    """A subagent starts; ``subagentRunId`` is its identity here."""

    subagent_run_id: str
    name: str
    description: str | None = None
    parent_subagent_run_id: str | None = None
    parent_tool_call_id: str | None = None
    parent_message_id: str | None = None


class SubagentFinishedEvent(BaseEvent, tag="SUBAGENT_FINISHED"):
    """A subagent ends."""

    subagent_run_id: str
    result: Any = None
    outcome: SubagentOutcome | None = None


class SubagentErrorEvent(BaseEvent, tag="SUBAGENT_ERROR"):
    """A subagent failed; the run goes on."""

    subagent_run_id: str
    message: str
    code: str | None = None


# --- special ---------------------------------------------------------------------------------------


class RawEvent(_AttributedEvent, tag="RAW"):
    """An event from an outside system, passed through."""

    event: Any
    source: str | None = None


class CustomEvent(_AttributedEvent, tag="CUSTOM"):
    """An application-defined event. ``value`` is always sent, ``null`` included."""

    name: str
    value: Any


Event = (
    RunStartedEvent
    | RunFinishedEvent
    | RunErrorEvent
    | StepStartedEvent
    | StepFinishedEvent
    | TextMessageStartEvent
    | TextMessageContentEvent
    | TextMessageEndEvent
    | TextMessageChunkEvent
    | ToolCallStartEvent
    | ToolCallArgsEvent
    | ToolCallEndEvent
    | ToolCallChunkEvent
    | ToolCallResultEvent
    | StateSnapshotEvent
    | StateDeltaEvent
    | MessagesSnapshotEvent
    | ActivitySnapshotEvent
    | ActivityDeltaEvent
    | ReasoningStartEvent
    | ReasoningMessageStartEvent
    | ReasoningMessageContentEvent
    | ReasoningMessageEndEvent
    | ReasoningMessageChunkEvent
    | ReasoningEndEvent
    | ReasoningEncryptedValueEvent
    | SubagentStartedEvent
    | SubagentFinishedEvent
    | SubagentErrorEvent
    | RawEvent
    | CustomEvent
)
"""Any AG-UI 1.0 event."""

_ = msgspec  # re-exported types rely on msgspec at runtime
