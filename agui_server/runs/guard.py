"""The guard: whatever the agent does, the client gets a valid AG-UI run.

- ``RUN_STARTED`` goes out first, echoing the request's ``threadId`` and ``runId``.
- Every event the agent yields is checked against the ordering rules of the official client
  (:class:`~agui_server.protocol.ordering.OrderingMachine`). A violation ends the run with
  ``RUN_ERROR`` (code ``AGENT_PROTOCOL_ERROR``) in strict mode; otherwise the event is dropped and
  logged.
- What the agent left open (text, tool calls, reasoning, steps, subagents) is closed before
  ``RUN_FINISHED``.
- An exception becomes exactly one ``RUN_ERROR`` with a stable code and a message that names a log
  reference and nothing else; the details go to the log under that reference.
- Nothing is sent after the terminal event; a cancelled run ends with the ``cancelled`` outcome.
- Pre-1.0 clients get every event in a shape they accept (:func:`~agui_server.protocol.compat.downgrade`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.protocol import events as ev
from agui_server.protocol.compat import downgrade
from agui_server.protocol.encoding import encode_event
from agui_server.protocol.ordering import OrderingMachine, OrderingViolation
from agui_server.protocol.types import Interrupt
from agui_server.runs.codes import ErrorCode
from agui_server.runs.interrupts import LEGACY_INTERRUPT_EVENT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from agui_server.agents.base import Agent, RunContext
    from agui_server.protocol.events import Event
    from agui_server.protocol.types import RunAgentInput

__all__ = ("Guard", "coerce_event", "encode_for_client", "run_started")

logger = logging.getLogger("agui_server.runs")

_YIELD_EVERY: Final = 64
"""Let other tasks (the streaming responses) run at least this often, even for an agent that never waits."""
_CLOSE_TIMEOUT: Final = 5.0
"""How long the agent's own cleanup may take after the run ends or is cancelled."""


class _AgentProtocolError(Exception):
    pass


def coerce_event(item: Any) -> Event:
    """Turn what an agent yielded into one of our event Structs.

    Accepts our Structs, ``ag_ui.core`` (pydantic) events and dicts in the wire shape.

    Raises:
        TypeError: the item is not an event.
    """
    if isinstance(item, ev.BaseEvent):
        return item  # type: ignore[return-value]
    if hasattr(item, "model_dump"):
        item = item.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(item, dict):
        try:
            return msgspec.convert(item, ev.Event)  # type: ignore[no-any-return]
        except msgspec.ValidationError as exc:
            raise TypeError(f"not a valid AG-UI event: {exc}") from exc
    raise TypeError(f"agents yield AG-UI events or str, not {type(item).__name__}")


class Guard:
    """Runs one agent and hands each valid event, encoded, to ``sink``.

    Args:
        input: the run's validated input.
        ctx: the run context given to the agent.
        sink: receives ``(json_bytes, event_type)`` for each event, in order.
        strict: end the run on the agent's first protocol violation (otherwise drop the event).
        run_timeout: seconds the agent may run before the run ends with ``RUN_TIMEOUT``.
    """

    __slots__ = (
        "_interrupts",
        "_machine",
        "_open_text",
        "_sink",
        "ctx",
        "input",
        "legacy",
        "run_timeout",
        "strict",
        "terminated",
    )

    def __init__(
        self,
        input: RunAgentInput,
        ctx: RunContext,
        sink: Callable[[bytes, str], object],
        *,
        strict: bool = False,
        run_timeout: float | None = None,
    ) -> None:
        self.input = input
        self.ctx = ctx
        self._sink = sink
        self.strict = strict
        self.run_timeout = run_timeout
        self.legacy = ctx.legacy_client
        self.terminated = False
        self._machine = OrderingMachine(strict=True)
        self._open_text: str | None = None  # the message opened for yielded str pieces
        self._interrupts: list[Interrupt] = []  # yielded by the agent: the run ends asking them

    # -- emitting -------------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if self.legacy and type(event) is ev.RunFinishedEvent and isinstance(event.outcome, ev.InterruptOutcome):
            # 0.0.x clients cannot answer in ``resume``: each question also goes out as CopilotKit's
            # ``on_interrupt`` custom event, answered with ``forwardedProps.command.resume``
            for item in event.outcome.interrupts:
                self._emit(ev.CustomEvent(name=LEGACY_INTERRUPT_EVENT, value=item))
        self._sink(encode_for_client(event, self.legacy), event.__struct_config__.tag)  # type: ignore[arg-type]

    def _check_and_emit(self, event: Event) -> None:
        self._machine.check(event)
        self._emit(event)

    # -- the run --------------------------------------------------------------------------------

    def start(self) -> None:
        """Emit ``RUN_STARTED`` (the first thing of every run; once)."""
        if self._machine.seen_any:
            return
        self._check_and_emit(run_started(self.input, self.legacy))

    def push(self, item: Any) -> bool:
        """Check and emit one thing an agent produced (an event or a ``str`` of text).

        Returns True when it ended the run (the agent's own terminal event).

        Raises:
            TypeError: ``item`` is not an event.
            OrderingViolation: strict mode, and the event breaks an AG-UI rule.
        """
        if self.terminated:
            return True
        if isinstance(item, str):
            self._text_piece(item)
            return False
        if isinstance(item, Interrupt):
            self._interrupts.append(item)
            return False
        event = coerce_event(item)
        if self._open_text is not None:
            self._close_str_message()
        try:
            return self._accept(event)
        except _AgentProtocolError as exc:
            cause = exc.__cause__
            if isinstance(cause, OrderingViolation):
                raise cause from None
            raise

    def finish(self, outcome: ev.RunOutcome | None = None) -> None:
        """Close what is open and emit ``RUN_FINISHED`` (no-op after a terminal event)."""
        self._finish(outcome)

    def fail(self, code: str, message: str) -> None:
        """Emit ``RUN_ERROR`` (no-op after a terminal event). The engine may call it while the agent runs,
        then cancel the agent: nothing follows the terminal event."""
        self._fail(code, message)

    def cancelled(self) -> None:
        """End the run with the ``cancelled`` outcome without its agent (stopped before it started); no-op
        after a terminal event."""
        self.start()
        self._finish(ev.CancelledOutcome())

    async def run(self, agent: Agent) -> None:
        """Run the agent to its end, its failure or its cancellation; always emit one terminal event."""
        self.start()
        try:
            stream = agent.run(self.input, self.ctx)
        except Exception:  # (an agent whose ``run`` fails before it returns its stream)
            self._agent_failed()
            return
        try:
            if self.run_timeout is None:
                await self._pump(stream)
            else:
                async with asyncio.timeout(self.run_timeout):
                    await self._pump(stream)
        except asyncio.CancelledError:
            self._finish(ev.CancelledOutcome())
            raise
        except TimeoutError:
            self._fail(ErrorCode.RUN_TIMEOUT, f"The run took longer than {self.run_timeout:g} seconds.")
        except _AgentProtocolError as exc:
            reference = uuid.uuid4().hex[:12]
            logger.error(
                "agent broke the AG-UI protocol (ref %s, thread %s, run %s): %s",
                reference,
                self.input.thread_id,
                self.input.run_id,
                exc,
            )
            self._fail(ErrorCode.AGENT_PROTOCOL_ERROR, f"The agent broke the AG-UI protocol: {exc} (ref {reference})")
        except Exception:
            self._agent_failed()
        else:
            self._finish(None)
        finally:
            await self._close_agent(stream)

    def _agent_failed(self) -> None:
        """End the run with ``AGENT_ERROR`` for the exception being handled (logged with a reference the client
        sees)."""
        reference = uuid.uuid4().hex[:12]
        logger.exception("agent failed (ref %s, thread %s, run %s)", reference, self.input.thread_id, self.input.run_id)
        self._fail(ErrorCode.AGENT_ERROR, f"The agent failed. Reference: {reference}.")

    async def _pump(self, stream: AsyncIterator[Any]) -> None:
        count = 0
        async for item in stream:
            if isinstance(item, str):
                self._text_piece(item)
            elif isinstance(item, Interrupt):
                self._interrupts.append(item)
            else:
                try:
                    event = coerce_event(item)
                except TypeError as exc:
                    raise _AgentProtocolError(str(exc)) from None
                if self._open_text is not None:
                    self._close_str_message()
                if self._accept(event):
                    return
            count += 1
            if count % _YIELD_EVERY == 0:
                await asyncio.sleep(0)

    def _accept(self, event: Event) -> bool:
        """Check and emit one agent event; True when it ended the run."""
        kind = type(event)
        if kind is ev.RunStartedEvent:
            logger.debug("dropping the agent's own RUN_STARTED: the guard has sent it")
            return False
        if kind is ev.RunFinishedEvent:
            assert isinstance(event, ev.RunFinishedEvent)
            event.thread_id = self.input.thread_id
            event.run_id = self.input.run_id
            try:
                self._close_open()
                self._check_and_emit(event)
            except OrderingViolation as violation:
                raise _AgentProtocolError(f"{violation.message} [{violation.rule}]") from None
            self.terminated = True
            return True
        try:
            self._machine.check(event)
        except OrderingViolation as violation:
            if self.strict:
                raise _AgentProtocolError(f"{violation.message} [{violation.rule}]") from violation
            logger.warning(
                "dropped an event that breaks the AG-UI protocol (thread %s, run %s, rule %s): %s",
                self.input.thread_id,
                self.input.run_id,
                violation.rule,
                violation.message,
            )
            return False
        self._emit(event)
        if kind is ev.RunErrorEvent:
            self.terminated = True
            return True
        return False

    def _text_piece(self, piece: str) -> None:
        if self._open_text is None:
            self._open_text = self.ctx.new_id("msg")
            self._check_and_emit(ev.TextMessageStartEvent(message_id=self._open_text, role="assistant"))
        self._check_and_emit(ev.TextMessageContentEvent(message_id=self._open_text, delta=piece))

    def _close_str_message(self) -> None:
        message_id, self._open_text = self._open_text, None
        if message_id is not None and message_id in self._machine.text:
            self._check_and_emit(ev.TextMessageEndEvent(message_id=message_id))

    # -- endings --------------------------------------------------------------------------------

    def _close_open(self) -> None:
        """Close, innermost first, whatever the agent left open.

        A stream the agent sent as chunks is left to the client, which closes it itself (on the next event
        of the same owner, at the latest on ``RUN_FINISHED``); an explicit ``*_END`` would then find nothing
        open. Each item is looked up again before it is closed, as closing one may close a chunk stream.
        """
        self._close_str_message()
        machine = self._machine
        for call_id in list(machine.tools):
            if call_id in machine.tools and not machine.in_chunk_lane("tool", call_id):
                owner = machine.tools[call_id]
                self._check_and_emit(ev.ToolCallEndEvent(tool_call_id=call_id, subagent_run_id=owner))
        for message_id in list(machine.text):
            if message_id in machine.text and not machine.in_chunk_lane("text", message_id):
                owner = machine.text[message_id]
                self._check_and_emit(ev.TextMessageEndEvent(message_id=message_id, subagent_run_id=owner))
        for message_id in list(machine.reasoning_messages):
            if message_id in machine.reasoning_messages and not machine.in_chunk_lane("reasoning", message_id):
                owner = machine.reasoning_messages[message_id]
                self._check_and_emit(ev.ReasoningMessageEndEvent(message_id=message_id, subagent_run_id=owner))
        for message_id, owner in list(machine.reasoning_spans.items()):
            self._check_and_emit(ev.ReasoningEndEvent(message_id=message_id, subagent_run_id=owner))
        for owner, name in list(reversed(machine.steps)):
            self._check_and_emit(ev.StepFinishedEvent(step_name=name, subagent_run_id=owner))
        for subagent_id in list(reversed(machine.subagents)):
            self._check_and_emit(ev.SubagentFinishedEvent(subagent_run_id=subagent_id))

    def _finish(self, outcome: ev.RunOutcome | None) -> None:
        if self.terminated:
            return
        if outcome is None and self._interrupts:
            outcome = ev.InterruptOutcome(interrupts=self._interrupts)
        try:
            self._close_open()
            self._check_and_emit(
                ev.RunFinishedEvent(thread_id=self.input.thread_id, run_id=self.input.run_id, outcome=outcome)
            )
        except OrderingViolation as violation:
            # Only a stream the agent left unclosable gets here (a chunk stream it also ended explicitly
            # under another owner, whose END the client synthesizes and then rejects).
            reference = uuid.uuid4().hex[:12]
            logger.error(
                "agent broke the AG-UI protocol (ref %s, thread %s, run %s): %s [%s]",
                reference,
                self.input.thread_id,
                self.input.run_id,
                violation.message,
                violation.rule,
            )
            self._fail(
                ErrorCode.AGENT_PROTOCOL_ERROR,
                f"The agent broke the AG-UI protocol: {violation.message} [{violation.rule}] (ref {reference})",
            )
            return
        self.terminated = True

    def _fail(self, code: str, message: str) -> None:
        if self.terminated:
            return
        self.terminated = True
        event = ev.RunErrorEvent(message=message, code=str(code))
        try:
            self._machine.check(event)
        except OrderingViolation as violation:
            # The client closes its chunk streams before RUN_ERROR; one the agent left unclosable fails there.
            # The run must still end, so RUN_ERROR goes out regardless.
            logger.error(
                "the run's RUN_ERROR breaks the AG-UI protocol (thread %s, run %s): %s [%s]",
                self.input.thread_id,
                self.input.run_id,
                violation.message,
                violation.rule,
            )
        self._emit(event)

    async def _close_agent(self, stream: AsyncIterator[Any]) -> None:
        aclose = getattr(stream, "aclose", None)
        if aclose is None or getattr(stream, "ag_frame", True) is None:
            return  # nothing to close: no aclose, or an async generator that has run to its end
        try:
            async with asyncio.timeout(_CLOSE_TIMEOUT):
                await aclose()
        except Exception:  # the run has ended either way; keep the server serving
            logger.exception("the agent's cleanup failed (thread %s, run %s)", self.input.thread_id, self.input.run_id)


def run_started(input: RunAgentInput, legacy: bool) -> ev.RunStartedEvent:
    """The ``RUN_STARTED`` a run of ``input`` begins with."""
    return ev.RunStartedEvent(
        thread_id=input.thread_id,
        run_id=input.run_id,
        parent_run_id=input.parent_run_id,
        protocol_version=None if legacy else "1.0",
    )


def encode_for_client(event: Event, legacy: bool) -> bytes:
    """An event as the run's log holds it: in a shape a pre-1.0 client accepts when ``legacy``, stamped with
    the time unless it has one."""
    if legacy:
        event = downgrade(event)
    if event.timestamp is None:
        event.timestamp = time.time_ns() // 1_000_000
    return encode_event(event)
