"""One model turn as AG-UI events, whatever the provider: :class:`Turn`.

A provider's stream reader calls :meth:`Turn.text`, :meth:`Turn.reasoning`, :meth:`Turn.tool_start` and
friends as deltas arrive and yields the events they return. The turn keeps the ordering rules:

- the assistant text message opens on the first non-empty text and shares its id with the tool calls
  (``parentMessageId``), so the client keeps them in one assistant message;
- reasoning is a span holding one reasoning message (same id); it closes when text or a tool call
  starts, with the provider's opaque signature as ``REASONING_ENCRYPTED_VALUE`` (subtype ``message``);
- a tool call opens once its id and name are known; arguments stream as they come; a call that got no
  arguments at all is given ``{}``; a call to a client's (frontend) tool whose arguments are not a JSON
  object when it ends gets no ``TOOL_CALL_END`` (the client must not run it) and is listed in
  :attr:`Turn.invalid_client_calls` (the run then ends with ``TOOL_ARGUMENTS_INVALID``); a backend tool's
  call ends as usual and its invalid arguments become an error result the model can correct;
- :meth:`Turn.finish` closes whatever is still open; the text message still open at the end of the turn
  closes with ``metadata`` saying how the turn ended (:meth:`Turn.metadata`: ``finishReason`` in the AI
  SDK's words that CopilotKit uses, the provider's own word, and the turn's token usage), which the 1.0
  client merges into the assistant message and the thread store keeps with it.

It also remembers what the turn said (text, calls, stop reason, usage), for the tool loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from agui_server.agents.tools import ToolCallRequest
from agui_server.protocol import events as ev

if TYPE_CHECKING:
    from collections.abc import Collection

    from agui_server.agents.base import RunContext
    from agui_server.protocol.types import TokenUsage

__all__ = ("FINISH_REASONS", "Stop", "Turn", "is_json_object")

Stop = Literal["end", "tool_calls", "length", "filtered", "pause"]
"""How a turn ended, provider-neutral: a normal end, tool calls to answer, the output limit, a safety
stop, or a turn the provider paused and wants sent back as it is."""

FINISH_REASONS: Final[dict[Stop, str]] = {
    "end": "stop",
    "tool_calls": "tool-calls",
    "length": "length",
    "filtered": "content-filter",
    "pause": "other",
}
"""``metadata.finishReason`` for each way a turn ends: the AI SDK's finish reasons, which CopilotKit puts in
message metadata (the provider's own word goes in ``metadata.providerFinishReason``)."""


@dataclass(slots=True)
class _Call:
    id: str
    name: str
    arguments: list[str] = field(default_factory=list)
    open: bool = True
    invalid: bool = False


def is_json_object(text: str) -> bool:
    """Whether ``text`` is a JSON object (what a tool call's arguments must be)."""
    try:
        return isinstance(msgspec.json.decode(text), dict)
    except msgspec.DecodeError:
        return False


class Turn:
    """The events and the record of one model turn (one upstream request)."""

    __slots__ = (
        "_calls",
        "_reasoning_id",
        "_reasoning_parts",
        "_text_open",
        "assistant",
        "client_tools",
        "ctx",
        "emitted",
        "message_id",
        "reasoning_text",
        "stop",
        "stop_reason",
        "text_parts",
        "usage",
    )

    def __init__(self, ctx: RunContext, client_tools: Collection[str] = ()) -> None:
        self.ctx = ctx
        self.client_tools = frozenset(client_tools)
        """The names of the client's (frontend) tools: their calls must end with a JSON object."""
        self.message_id = ctx.new_id("msg")
        """The assistant message's id: the text message and the tool calls' ``parentMessageId``."""
        self.reset()

    def reset(self) -> None:
        """Forget everything (before a retry: nothing of the failed attempt reached the client)."""
        self._calls: dict[str, _Call] = {}
        self._reasoning_id: str | None = None
        self._reasoning_parts: list[str] = []
        self._text_open = False
        self.text_parts: list[str] = []
        self.reasoning_text: list[str] = []
        """The texts of this turn's reasoning messages (for providers that want it sent back)."""
        self.emitted = False
        """Whether any event of this turn was handed out (after that, no retry)."""
        self.stop: Stop | None = None
        self.stop_reason: str | None = None
        """The provider's own word for how the turn ended."""
        self.usage: TokenUsage | None = None
        self.assistant: Any = None
        """The provider-shaped assistant message, set by the provider to continue the conversation."""

    # -- reading --------------------------------------------------------------------------------

    @property
    def text(self) -> str:
        """All the text of the turn."""
        return "".join(self.text_parts)

    @property
    def tool_calls(self) -> list[ToolCallRequest]:
        """The turn's tool calls, in the order they started."""
        return [ToolCallRequest(c.id, c.name, "".join(c.arguments) or "{}") for c in self._calls.values()]

    @property
    def invalid_client_calls(self) -> list[str]:
        """The names of the client tools called with arguments that are not a JSON object (never ended)."""
        return [c.name for c in self._calls.values() if c.invalid]

    @property
    def has_open_tool_call(self) -> bool:
        """A tool call has started and not ended (its arguments may be cut short)."""
        return any(call.open for call in self._calls.values())

    # -- text -----------------------------------------------------------------------------------

    def text_delta(self, delta: str) -> list[ev.Event]:
        """A piece of assistant text."""
        if not delta:
            return []
        out = self.end_reasoning()
        if not self._text_open:
            self._text_open = True
            out.append(ev.TextMessageStartEvent(message_id=self.message_id, role="assistant"))
        self.text_parts.append(delta)
        out.append(ev.TextMessageContentEvent(message_id=self.message_id, delta=delta))
        return self._out(out)

    def end_text(self, metadata: dict[str, Any] | None = None) -> list[ev.Event]:
        """Close the text message if it is open (it reopens, same id, on more text)."""
        if not self._text_open:
            return []
        self._text_open = False
        return self._out([ev.TextMessageEndEvent(message_id=self.message_id, metadata=metadata)])

    # -- reasoning ------------------------------------------------------------------------------

    def reasoning_delta(self, delta: str) -> list[ev.Event]:
        """A piece of reasoning; opens a reasoning span and message when none is open."""
        if not delta:
            return []
        out = self._open_reasoning()
        self._reasoning_parts.append(delta)
        assert self._reasoning_id is not None
        out.append(ev.ReasoningMessageContentEvent(message_id=self._reasoning_id, delta=delta))
        return self._out(out)

    def start_reasoning(self) -> list[ev.Event]:
        """Open a reasoning span now, even before any of its text (a thinking block started)."""
        return self._out(self._open_reasoning())

    def end_reasoning(self, encrypted_value: str | None = None) -> list[ev.Event]:
        """Close the open reasoning span, attaching the provider's opaque value (signature) if given."""
        reasoning_id = self._reasoning_id
        if reasoning_id is None:
            if encrypted_value is None:
                return []
            out = self._open_reasoning()
            reasoning_id = self._reasoning_id
            assert reasoning_id is not None
        else:
            out = []
        self._reasoning_id = None
        self.reasoning_text.append("".join(self._reasoning_parts))
        self._reasoning_parts = []
        out.append(ev.ReasoningMessageEndEvent(message_id=reasoning_id))
        if encrypted_value:
            out.append(
                ev.ReasoningEncryptedValueEvent(
                    subtype="message", entity_id=reasoning_id, encrypted_value=encrypted_value
                )
            )
        out.append(ev.ReasoningEndEvent(message_id=reasoning_id))
        return self._out(out)

    def _open_reasoning(self) -> list[ev.Event]:
        if self._reasoning_id is not None:
            return []
        out = self.end_text()
        reasoning_id = self._reasoning_id = self.ctx.new_id("reasoning")
        out.append(ev.ReasoningStartEvent(message_id=reasoning_id))
        out.append(ev.ReasoningMessageStartEvent(message_id=reasoning_id, role="reasoning"))
        return out

    # -- tool calls -----------------------------------------------------------------------------

    def tool_start(self, key: str, call_id: str, name: str) -> list[ev.Event]:
        """A tool call begins. ``key`` is how the provider names it in later deltas (index or id)."""
        out = self.end_reasoning()
        out += self.end_text()
        self._calls[key] = _Call(call_id, name)
        out.append(ev.ToolCallStartEvent(tool_call_id=call_id, tool_call_name=name, parent_message_id=self.message_id))
        return self._out(out)

    def tool_args(self, key: str, delta: str) -> list[ev.Event]:
        """A piece of a started call's JSON arguments."""
        call = self._calls[key]
        if not delta:
            return []
        call.arguments.append(delta)
        return self._out([ev.ToolCallArgsEvent(tool_call_id=call.id, delta=delta)])

    def tool_end(self, key: str) -> list[ev.Event]:
        """A call's arguments are complete."""
        call = self._calls.get(key)
        if call is None or not call.open:
            return []
        call.open = False
        out: list[ev.Event] = []
        if not call.arguments:
            call.arguments.append("{}")
            out.append(ev.ToolCallArgsEvent(tool_call_id=call.id, delta="{}"))
        elif call.name in self.client_tools and not is_json_object("".join(call.arguments)):
            call.invalid = True
            return []
        out.append(ev.ToolCallEndEvent(tool_call_id=call.id))
        return self._out(out)

    def has_tool(self, key: str) -> bool:
        """Whether a call under ``key`` has started."""
        return key in self._calls

    # -- the end --------------------------------------------------------------------------------

    def metadata(self, *, usage: bool = True) -> dict[str, Any] | None:
        """How the turn ended, for the metadata of its assistant message and of the run's terminal event:
        ``finishReason`` (:data:`FINISH_REASONS`), ``providerFinishReason`` and (unless told otherwise) the
        turn's ``usage``."""
        if self.stop is None:
            return None
        out: dict[str, Any] = {"finishReason": FINISH_REASONS[self.stop]}
        if self.stop_reason is not None:
            out["providerFinishReason"] = self.stop_reason
        if usage and self.usage is not None:
            out["usage"] = msgspec.to_builtins(self.usage)
        return out

    def finish(self, *, close_tool_calls: bool = True) -> list[ev.Event]:
        """Close the text (with :meth:`metadata`), the reasoning and (unless told otherwise) the tool calls
        still open."""
        out = self.end_reasoning()
        out += self.end_text(self.metadata())
        if close_tool_calls:
            for key in list(self._calls):
                out += self.tool_end(key)
        return out

    def _out(self, events: list[ev.Event]) -> list[ev.Event]:
        if events:
            self.emitted = True
        return events
