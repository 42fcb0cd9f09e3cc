"""Downgrades for pre-1.0 clients.

A request without ``protocolVersion`` comes from an ``@ag-ui/client`` 0.0.x (CopilotKit 1.75 ships
0.0.59). Those clients reject a few 1.0 shapes outright (PROTOCOL.md §8 item 6): a ``cancelled`` outcome,
``pendingToolCallIds``, and tool results whose content is a list of parts. :func:`downgrade` rewrites an
event into a shape 0.0.59 accepts, keeping its meaning as far as the old protocol can say it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.protocol import events as ev
from agui_server.protocol.types import ToolMessage

if TYPE_CHECKING:
    from agui_server.protocol.events import Event

__all__ = ("CANCELLED_CODE", "downgrade", "is_legacy_client", "parts_to_text")

CANCELLED_CODE: Final = "CANCELLED"
"""The ``RUN_ERROR`` code that tells a 0.0.x client its run was cancelled."""


def is_legacy_client(protocol_version: str | None) -> bool:
    """Whether a request with this ``protocolVersion`` comes from a pre-1.0 client."""
    if protocol_version is None:
        return True
    major, _, _ = protocol_version.partition(".")
    return major in ("", "0")


def parts_to_text(content: str | list[Any]) -> str:
    """Flatten tool-result content parts into the string a 0.0.x client expects."""
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for part in content:
        text = getattr(part, "text", None)
        if text is None and isinstance(part, dict):
            text = part.get("text")
        if isinstance(text, str):
            texts.append(text)
        else:
            texts.append(msgspec.json.encode(part).decode())
    return "\n".join(texts)


def downgrade(event: Event) -> Event:
    """Return ``event`` in a shape ``@ag-ui/client`` 0.0.59 accepts (often ``event`` itself)."""
    kind = type(event)
    if kind is ev.RunFinishedEvent:
        assert isinstance(event, ev.RunFinishedEvent)
        outcome = event.outcome
        if isinstance(outcome, ev.CancelledOutcome):
            return ev.RunErrorEvent(
                message="The run was cancelled.", code=CANCELLED_CODE, usage=event.usage, timestamp=event.timestamp
            )
        if isinstance(outcome, ev.SuccessOutcome) and outcome.pending_tool_call_ids is not None:
            return msgspec.structs.replace(event, outcome=ev.SuccessOutcome())
        return event
    if kind is ev.ToolCallResultEvent:
        assert isinstance(event, ev.ToolCallResultEvent)
        if not isinstance(event.content, str):
            return msgspec.structs.replace(event, content=parts_to_text(event.content))
        return event
    if kind is ev.MessagesSnapshotEvent:
        assert isinstance(event, ev.MessagesSnapshotEvent)
        if any(isinstance(m, ToolMessage) and not isinstance(m.content, str) for m in event.messages):
            messages = [
                msgspec.structs.replace(m, content=parts_to_text(m.content))
                if isinstance(m, ToolMessage) and not isinstance(m.content, str)
                else m
                for m in event.messages
            ]
            return msgspec.structs.replace(event, messages=messages)
        return event
    return event
