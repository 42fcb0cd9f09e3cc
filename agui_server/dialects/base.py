"""What a dialect is: a view of a run's AG-UI events in another wire shape.

The AG-UI event log stays the one source of truth. A dialect never stores anything: for each stream it
makes a :class:`Translator`, which sees the AG-UI events one at a time, in order, and answers the frames
its clients expect (zero, one or several per event). Every frame an event gives carries that event's
sequence number as its ``id:`` (when the dialect has ids), so ``Last-Event-ID`` resumes in any dialect.

.. code-block:: python

    from agui_server.dialects import AGUIEvent, Frame, StreamInfo

    class Shouting:
        name = "shouting"
        ids = True

        def translator(self, stream: StreamInfo) -> "ShoutingTranslator":
            return ShoutingTranslator()

    class ShoutingTranslator:
        def translate(self, event: AGUIEvent) -> list[Frame]:
            if event.type == "TEXT_MESSAGE_CONTENT":
                return [Frame({"text": event.fields["delta"].upper()}, event="shout")]
            return []
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Iterable

    from agui_server.protocol.types import RunAgentInput

__all__ = ("AGUIEvent", "Dialect", "Frame", "StreamInfo", "Translator")


@dataclass(frozen=True, slots=True)
class AGUIEvent:
    """One AG-UI event of the stream, as the AG-UI dialect sends it."""

    type: str
    """``RUN_STARTED``, ``TEXT_MESSAGE_CONTENT`` …"""
    fields: dict[str, Any]
    """The event's JSON object (camelCase keys, absent optionals left out)."""
    json: bytes
    """The same, encoded: pass it on as ``Frame(event.json)`` to send the event unchanged."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame a dialect sends: ``data:`` (JSON, on one line), then ``event:`` when named."""

    data: Any
    """Anything msgspec encodes as JSON, or ``bytes`` that already are compact JSON."""
    event: str | None = None
    """The SSE event name (``None``: unnamed, which an ``EventSource``'s ``onmessage`` receives)."""


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What a translator knows of the stream it translates."""

    scope: Literal["run", "thread", "agent", "server"]
    """One run, every run of a thread, of an agent, or of the whole server."""
    agent_id: str | None = None
    thread_id: str | None = None
    run_id: str | None = None
    input: RunAgentInput | None = None
    """For a run's stream: its input, with the thread's stored history merged in."""


@runtime_checkable
class Translator(Protocol):
    """The state of one stream in a dialect (made anew for each response)."""

    def translate(self, event: AGUIEvent) -> Iterable[Frame]:
        """The frames that ``event`` gives (none is fine)."""
        ...


@runtime_checkable
class Dialect(Protocol):
    """A wire shape for AG-UI runs."""

    name: str
    """Says what the shape is (it appears in logs)."""
    ids: bool
    """Whether frames carry ``id:`` lines (resume with ``Last-Event-ID``). Readers that take everything
    after ``data: `` up to the blank line as JSON need ``False``."""

    def translator(self, stream: StreamInfo) -> Translator:
        """A fresh translator for one stream."""
        ...
