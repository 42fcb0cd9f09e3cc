"""Folding a run's events into messages and state, the way the official client's reducer does.

The thread store keeps what a run produced (assistant messages with their tool calls, tool results,
reasoning, activity, the final state) so that the next request may carry only its new messages.
The rules follow ``client/src/apply/default.ts``: text and tool calls build assistant messages, a
tool call joins its ``parentMessageId``'s assistant message (or makes one), a tool result becomes a
tool message, ``MESSAGES_SNAPSHOT`` merges by id, ``STATE_SNAPSHOT`` replaces the state and
``STATE_DELTA`` patches it (a patch that does not apply leaves the state as it was, as in the client).
An event's ``metadata`` is merged into the message (or, for ``TOOL_CALL_*``, the tool call) it belongs to,
key by key, the last write winning, as the 1.0 client's ``mergeMetadata`` does: so a turn's
``finishReason`` and usage on its ``TEXT_MESSAGE_END`` are stored with the assistant message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_event
from agui_server.protocol.types import (
    ActivityMessage,
    AssistantMessage,
    DeveloperMessage,
    FunctionCall,
    ReasoningMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
    UserMessage,
)
from agui_server.runs.threads import Thread

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agui_server.protocol.types import Message, RunAgentInput

__all__ = ("FOLDED_EVENT_TYPES", "TERMINAL_EVENT_TYPES", "ThreadFold", "fold_run", "merge_messages", "with_history")

logger = logging.getLogger("agui_server.runs")

TERMINAL_EVENT_TYPES: Final = frozenset({"RUN_FINISHED", "RUN_ERROR"})
"""The event types that end a run."""

FOLDED_EVENT_TYPES: Final = frozenset(
    {
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TEXT_MESSAGE_CHUNK",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_CHUNK",
        "TOOL_CALL_RESULT",
        "STATE_SNAPSHOT",
        "STATE_DELTA",
        "MESSAGES_SNAPSHOT",
        "ACTIVITY_SNAPSHOT",
        "ACTIVITY_DELTA",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_MESSAGE_CHUNK",
        "REASONING_ENCRYPTED_VALUE",
    }
)
"""The event types that change a thread's messages or state (the rest need not be kept for folding)."""


def fold_run(thread_id: str, messages: list[Message], state: Any, payloads: Iterable[bytes]) -> Thread:
    """The thread after a run: ``messages`` and ``state`` with the run's encoded events applied."""
    fold = ThreadFold(messages, state)
    for payload in payloads:
        fold.apply(decode_event(payload))
    return Thread(thread_id=thread_id, messages=fold.messages, state=fold.state)


def with_history(input: RunAgentInput, stored: Thread | None) -> RunAgentInput:
    """The run's input with the thread's stored history merged in (by message id) and, when the client sent
    no state, the stored state."""
    if stored is None:
        return input
    state = input.state if input.state not in (None, {}) else stored.state
    return msgspec.structs.replace(input, messages=merge_messages(stored.messages, input.messages), state=state)


def merge_messages(stored: list[Message], incoming: list[Message]) -> list[Message]:
    """The stored history with ``incoming`` merged by id: same id replaces, new ids are appended."""
    if not stored:
        return list(incoming)
    position = {m.id: n for n, m in enumerate(stored)}
    merged = list(stored)
    for message in incoming:
        n = position.get(message.id)
        if n is None:
            position[message.id] = len(merged)
            merged.append(message)
        else:
            merged[n] = message
    return merged


def _copy(value: Any) -> Any:
    """A deep copy of a JSON value, made by msgspec in C: as deep as the request that carried it could be
    (``copy.deepcopy`` recurses in Python and fails on state nested a few hundred levels)."""
    return msgspec.json.decode(msgspec.json.encode(value))


_TEXT_MESSAGES: Final = (AssistantMessage, ReasoningMessage, UserMessage, SystemMessage, DeveloperMessage)
_MESSAGE_EVENTS: Final = (
    ev.TextMessageStartEvent,
    ev.TextMessageContentEvent,
    ev.TextMessageEndEvent,
    ev.ToolCallResultEvent,
    ev.ReasoningMessageStartEvent,
    ev.ReasoningMessageContentEvent,
    ev.ReasoningMessageEndEvent,
)
"""The events whose ``metadata`` the client merges into the message named by their ``messageId``."""


class ThreadFold:
    """Messages and state of a thread, advanced one event at a time."""

    __slots__ = ("_args", "_index", "_messages", "_pending", "_tool_parent", "state")

    def __init__(self, messages: list[Message], state: Any) -> None:
        self._messages: list[Message] = list(messages)
        self.state: Any = _copy(state) if state is not None else {}
        self._index: dict[str, int] = {m.id: n for n, m in enumerate(self._messages)}
        self._args: dict[str, list[str]] = {}
        self._tool_parent: dict[str, str] = {}
        self._pending: dict[str, list[str]] = {}  # text pieces not yet joined into their message

    @property
    def messages(self) -> list[Message]:
        """The thread's messages, every streamed piece of text joined in."""
        self._join_pending()
        return self._messages

    def _join_pending(self) -> None:
        if not self._pending:
            return
        for message_id, pieces in self._pending.items():
            message = self._get(message_id)
            if message is not None:
                current = message.content if isinstance(message.content, str) else ""
                message.content = current + "".join(pieces)
        self._pending.clear()

    def apply_all(self, events: Iterable[ev.Event]) -> None:
        """Apply events in order."""
        for event in events:
            self.apply(event)

    # -- helpers --------------------------------------------------------------------------------

    def _get(self, message_id: str) -> Message | None:
        n = self._index.get(message_id)
        return None if n is None else self._messages[n]

    def _put(self, message: Message) -> None:
        n = self._index.get(message.id)
        if n is None:
            self._index[message.id] = len(self._messages)
            self._messages.append(message)
        else:
            self._join_pending()
            self._messages[n] = message

    def _insert_after(self, anchor_id: str | None, message: Message) -> None:
        n = self._index.get(anchor_id) if anchor_id is not None else None
        if n is None or message.id in self._index:
            self._put(message)
            return
        # keep tool results right after their assistant message (and its earlier results)
        at = n + 1
        while at < len(self._messages) and isinstance(self._messages[at], ToolMessage):
            at += 1
        self._messages.insert(at, message)
        self._index = {m.id: k for k, m in enumerate(self._messages)}

    def _append_text(self, message_id: str, delta: str) -> None:
        pieces = self._pending.get(message_id)
        if pieces is not None:
            pieces.append(delta)
            return
        message = self._get(message_id)
        if isinstance(message, _TEXT_MESSAGES) and isinstance(message.content, str | None):
            self._pending[message_id] = [delta]

    # -- the reducer ----------------------------------------------------------------------------

    def apply(self, event: ev.Event) -> None:
        """Apply one event."""
        self._apply(event)
        if event.metadata:
            self._merge_metadata(event, event.metadata)

    def _merge_metadata(self, event: ev.Event, metadata: dict[str, Any]) -> None:
        target: Message | ToolCall | None = None
        if isinstance(event, ev.ToolCallStartEvent | ev.ToolCallArgsEvent | ev.ToolCallEndEvent):
            parent = self._get(self._tool_parent.get(event.tool_call_id, ""))
            if isinstance(parent, AssistantMessage):
                target = next((c for c in parent.tool_calls or () if c.id == event.tool_call_id), None)
        elif isinstance(event, _MESSAGE_EVENTS):
            target = self._get(event.message_id)
        if target is not None:
            target.metadata = {**(target.metadata or {}), **_copy(metadata)}

    def _apply(self, event: ev.Event) -> None:
        if isinstance(event, ev.TextMessageStartEvent):
            self._start_text(event.message_id, event.role or "assistant", event.name)
        elif isinstance(event, ev.TextMessageContentEvent):
            self._append_text(event.message_id, event.delta)
        elif isinstance(event, ev.TextMessageChunkEvent):
            if event.message_id is not None and self._get(event.message_id) is None:
                self._start_text(event.message_id, event.role or "assistant", event.name)
            if event.message_id is not None and event.delta:
                self._append_text(event.message_id, event.delta)
        elif isinstance(event, ev.ToolCallStartEvent):
            self._start_tool(event.tool_call_id, event.tool_call_name, event.parent_message_id)
        elif isinstance(event, ev.ToolCallArgsEvent):
            self._args.setdefault(event.tool_call_id, []).append(event.delta)
        elif isinstance(event, ev.ToolCallChunkEvent):
            if event.tool_call_id is not None and event.tool_call_id not in self._tool_parent:
                self._start_tool(event.tool_call_id, event.tool_call_name or "", event.parent_message_id)
            if event.tool_call_id is not None and event.delta:
                self._args.setdefault(event.tool_call_id, []).append(event.delta)
                self._finish_tool(event.tool_call_id)
        elif isinstance(event, ev.ToolCallEndEvent):
            self._finish_tool(event.tool_call_id)
        elif isinstance(event, ev.ToolCallResultEvent):
            content = event.content if isinstance(event.content, str) else list(event.content)
            message = ToolMessage(id=event.message_id, tool_call_id=event.tool_call_id, content=content)  # type: ignore[arg-type]
            self._insert_after(self._tool_parent.get(event.tool_call_id), message)
        elif isinstance(event, ev.ReasoningMessageStartEvent):
            self._put(ReasoningMessage(id=event.message_id, content=""))
        elif isinstance(event, ev.ReasoningMessageContentEvent):
            self._append_text(event.message_id, event.delta)
        elif isinstance(event, ev.ReasoningMessageChunkEvent):
            if event.message_id is not None and self._get(event.message_id) is None:
                self._put(ReasoningMessage(id=event.message_id, content=""))
            if event.message_id is not None and event.delta:
                self._append_text(event.message_id, event.delta)
        elif isinstance(event, ev.ReasoningEncryptedValueEvent):
            target = self._get(event.entity_id)
            if isinstance(target, ReasoningMessage | AssistantMessage):
                target.encrypted_value = event.encrypted_value
        elif isinstance(event, ev.ActivitySnapshotEvent):
            existing = self._get(event.message_id)
            if existing is None or event.replace is not False:
                self._put(
                    ActivityMessage(id=event.message_id, activity_type=event.activity_type, content=event.content)
                )
        elif isinstance(event, ev.ActivityDeltaEvent):
            activity = self._get(event.message_id)
            if isinstance(activity, ActivityMessage):
                patched = self._patched(activity.content, event.patch)
                if isinstance(patched, dict):
                    activity.content = patched
        elif isinstance(event, ev.StateSnapshotEvent):
            self.state = _copy(event.snapshot)
        elif isinstance(event, ev.StateDeltaEvent):
            self.state = self._patched(self.state, event.delta)
        elif isinstance(event, ev.MessagesSnapshotEvent):
            self._snapshot(event.messages)

    def _start_text(self, message_id: str, role: str, name: str | None) -> None:
        if self._get(message_id) is not None:
            return  # reopening a closed id appends to it, as the client does
        message: Message
        if role == "user":
            message = UserMessage(id=message_id, content="", name=name)
        elif role == "system":
            message = SystemMessage(id=message_id, content="", name=name)
        elif role == "developer":
            message = DeveloperMessage(id=message_id, content="", name=name)
        else:
            message = AssistantMessage(id=message_id, content="", name=name)
        self._put(message)

    def _start_tool(self, call_id: str, name: str, parent_id: str | None) -> None:
        parent = self._get(parent_id) if parent_id is not None else None
        if not isinstance(parent, AssistantMessage):
            parent = AssistantMessage(id=parent_id or call_id)
            self._put(parent)
        calls = parent.tool_calls if parent.tool_calls is not None else []
        calls.append(ToolCall(id=call_id, function=FunctionCall(name=name, arguments="")))
        parent.tool_calls = calls
        self._tool_parent[call_id] = parent.id
        self._args[call_id] = []

    def _finish_tool(self, call_id: str) -> None:
        parent = self._get(self._tool_parent.get(call_id, ""))
        if not isinstance(parent, AssistantMessage):
            return
        for call in parent.tool_calls or ():
            if call.id == call_id:
                call.function.arguments = "".join(self._args.get(call_id, ()))

    def _patched(self, document: Any, patch: Any) -> Any:
        import jsonpatch  # on the first STATE_DELTA: most servers never see one

        try:
            return jsonpatch.apply_patch(document, msgspec.to_builtins(patch))
        except (
            jsonpatch.JsonPatchException,
            jsonpatch.JsonPointerException,
            KeyError,
            IndexError,
            TypeError,
            RecursionError,  # a document nested deeper than Python's recursion allows (deepcopy inside)
        ) as exc:
            logger.warning("a state patch does not apply; the state is left as it was: %s", exc)
            return document

    def _snapshot(self, snapshot: list[Message]) -> None:
        keep_activity = not any(isinstance(m, ActivityMessage) for m in snapshot)
        keep_reasoning = not any(isinstance(m, ReasoningMessage) for m in snapshot)
        ids = {m.id for m in snapshot}
        kept = [
            m
            for m in self.messages
            if m.id not in ids
            and (
                (keep_activity and isinstance(m, ActivityMessage))
                or (keep_reasoning and isinstance(m, ReasoningMessage))
            )
        ]
        self._messages = []
        self._index = {}
        for message in [*snapshot, *kept]:
            self._put(message)
