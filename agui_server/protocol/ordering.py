"""The event-ordering rules of the official TypeScript client, as one state machine.

``@ag-ui/client`` checks every event it receives (``verifyEvents`` in ``client/src/verify/verify.ts``,
and the chunk expansion in ``client/src/chunks/transform.ts``) and fails the whole run on the first
violation. :class:`OrderingMachine` applies the same rules, with the client's own wording, so that the
guard can stop a broken event before it reaches a browser and the conformance runner can name the rule
a stream broke.

Each violation carries a stable rule id (see :data:`RULES`). In ``strict`` mode two more rules apply,
which the client tolerates but validators and UIs do not: a ``RUN_ERROR`` after ``RUN_FINISHED``, and a
stream that ends without a terminal event (checked by :meth:`OrderingMachine.finish`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agui_server.protocol import events as ev

if TYPE_CHECKING:
    from collections.abc import Callable

    from agui_server.protocol.events import Event

__all__ = ("RULES", "OrderingMachine", "OrderingViolation", "RunPhase")

RULES: Final[dict[str, str]] = {
    "run.first-event": "The first event must be RUN_STARTED (or RUN_ERROR).",
    "run.after-error": "Nothing but a new RUN_STARTED may follow RUN_ERROR.",
    "run.after-finished": "Nothing but RUN_ERROR or a new RUN_STARTED may follow RUN_FINISHED.",
    "run.started-while-active": "RUN_STARTED may not come while a run is active.",
    "run.finished-open-steps": "RUN_FINISHED may not come while steps are open.",
    "run.finished-open-text": "RUN_FINISHED may not come while text messages are open.",
    "run.finished-open-reasoning-messages": "RUN_FINISHED may not come while reasoning messages are open.",
    "run.finished-open-reasoning-spans": "RUN_FINISHED may not come while reasoning spans are open.",
    "run.finished-open-tool-calls": "RUN_FINISHED may not come while tool calls are open.",
    "run.finished-open-subagents": "RUN_FINISHED may not come while subagents are open.",
    "run.error-after-finished": "(strict) RUN_ERROR may not follow RUN_FINISHED: one terminal event per run.",
    "run.no-terminal": "(strict) The stream ended without RUN_FINISHED or RUN_ERROR.",
    "text.start-duplicate": "TEXT_MESSAGE_START for a message id that is already open.",
    "text.content-not-started": "TEXT_MESSAGE_CONTENT for a message id that is not open.",
    "text.end-not-started": "TEXT_MESSAGE_END for a message id that is not open.",
    "tool.start-duplicate": "TOOL_CALL_START for a tool call id that is already open.",
    "tool.args-not-started": "TOOL_CALL_ARGS for a tool call id that is not open.",
    "tool.end-not-started": "TOOL_CALL_END for a tool call id that is not open.",
    "step.start-duplicate": "STEP_STARTED for a step that is already open.",
    "step.finish-not-started": "STEP_FINISHED for a step that is not open.",
    "step.finish-wrong-owner": "STEP_FINISHED for a step opened by another (sub)agent.",
    "reasoning.start-duplicate": "REASONING_START for a span id that is already open.",
    "reasoning.message-start-duplicate": "REASONING_MESSAGE_START for a message id that is already open.",
    "reasoning.end-not-started": "REASONING_END for a span id that is not open.",
    "reasoning.message-not-started": "REASONING_MESSAGE_CONTENT/END for a message id that is not open.",
    "chunk.text-missing-id": "The first TEXT_MESSAGE_CHUNK must carry messageId.",
    "chunk.tool-missing-id": "The first TOOL_CALL_CHUNK must carry toolCallId.",
    "chunk.tool-missing-name": "The first TOOL_CALL_CHUNK must carry toolCallName.",
    "chunk.reasoning-missing-id": "The first REASONING_MESSAGE_CHUNK must carry messageId.",
    "subagent.missing-id": "SUBAGENT_* needs a subagentRunId.",
    "subagent.missing-name": "SUBAGENT_STARTED needs a name.",
    "subagent.missing-message": "SUBAGENT_ERROR needs a message.",
    "subagent.already-active": "SUBAGENT_STARTED for a subagent that is already active.",
    "subagent.reused": "SUBAGENT_STARTED for a subagent id that already finished in this run.",
    "subagent.unknown-parent": "SUBAGENT_STARTED names a parentSubagentRunId that was not started.",
    "subagent.not-active": "SUBAGENT_FINISHED/ERROR for a subagent that is not active.",
    "owner.mismatch": "A continuation event names a different subagent than the event that opened it.",
}


def _tag(event: Event) -> str:
    return str(event.__struct_config__.tag)


class OrderingViolation(Exception):
    """An event breaks an ordering rule. ``rule`` is a key of :data:`RULES`."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class RunPhase:
    """Where the stream stands between events."""

    IDLE: Final = "idle"
    ACTIVE: Final = "active"
    FINISHED: Final = "finished"
    ERRORED: Final = "errored"


@dataclass(slots=True)
class _ChunkLanes:
    text: str | None = None
    tool: str | None = None
    reasoning: str | None = None


@dataclass(slots=True)
class OrderingMachine:
    """Checks a stream of AG-UI events, one :meth:`feed` at a time.

    Args:
        strict: also enforce one terminal event per run (see module docstring).
        reasoning_rules: apply the 1.0 reasoning rules (``@ag-ui/client`` 0.0.x does not).
    """

    strict: bool = False
    reasoning_rules: bool = True
    phase: str = RunPhase.IDLE
    seen_any: bool = False
    text: dict[str, str | None] = field(default_factory=dict)
    tools: dict[str, str | None] = field(default_factory=dict)
    steps: dict[tuple[str | None, str], None] = field(default_factory=dict)
    reasoning_messages: dict[str, str | None] = field(default_factory=dict)
    reasoning_spans: dict[str, str | None] = field(default_factory=dict)
    subagents: dict[str, None] = field(default_factory=dict)
    finished_subagents: set[str] = field(default_factory=set)
    chunks: _ChunkLanes = field(default_factory=_ChunkLanes)

    # -- public ---------------------------------------------------------------------------------

    def feed(self, event: Event) -> None:
        """Check one event and advance; raises :class:`OrderingViolation` on a broken rule."""
        kind = type(event)
        first = not self.seen_any
        self.seen_any = True
        if kind is ev.RunStartedEvent:
            self._run_started()
            return
        if first and kind is not ev.RunErrorEvent:
            raise OrderingViolation("run.first-event", "First event must be 'RUN_STARTED'")
        if self.phase == RunPhase.ERRORED:
            raise OrderingViolation(
                "run.after-error",
                f"Cannot send event type '{_tag(event)}': The run has already errored with 'RUN_ERROR'. "
                "No further events can be sent.",
            )
        if self.phase == RunPhase.FINISHED:
            if kind is not ev.RunErrorEvent:
                raise OrderingViolation(
                    "run.after-finished",
                    f"Cannot send event type '{_tag(event)}': The run has already finished with 'RUN_FINISHED'. "
                    "Start a new run with 'RUN_STARTED'.",
                )
            if self.strict:
                raise OrderingViolation(
                    "run.error-after-finished",
                    "Cannot send 'RUN_ERROR': the run has already finished with 'RUN_FINISHED'. "
                    "A run has exactly one terminal event.",
                )
        handler = _HANDLERS.get(kind)
        if handler is not None:
            handler(self, event)

    def finish(self) -> None:
        """Check the end of the stream (strict mode: a terminal event must have been seen)."""
        if self.strict and self.phase in (RunPhase.IDLE, RunPhase.ACTIVE) and self.seen_any:
            raise OrderingViolation("run.no-terminal", "The stream ended without 'RUN_FINISHED' or 'RUN_ERROR'.")

    @property
    def terminated(self) -> bool:
        """Whether the current run has had its terminal event."""
        return self.phase in (RunPhase.FINISHED, RunPhase.ERRORED)

    # -- lifecycle ------------------------------------------------------------------------------

    def _run_started(self) -> None:
        if self.phase == RunPhase.ACTIVE:
            raise OrderingViolation(
                "run.started-while-active",
                "Cannot send 'RUN_STARTED' while a run is still active. The previous run must be finished "
                "with 'RUN_FINISHED' before starting a new run.",
            )
        self._reset()
        self.phase = RunPhase.ACTIVE

    def _reset(self) -> None:
        self.text.clear()
        self.tools.clear()
        self.steps.clear()
        self.reasoning_messages.clear()
        self.reasoning_spans.clear()
        self.subagents.clear()
        self.finished_subagents.clear()
        self.chunks = _ChunkLanes()

    def _close_chunk_lanes(self) -> None:
        lanes = self.chunks
        if lanes.text is not None:
            self.text.pop(lanes.text, None)
        if lanes.tool is not None:
            self.tools.pop(lanes.tool, None)
        if lanes.reasoning is not None:
            self.reasoning_messages.pop(lanes.reasoning, None)
        self.chunks = _ChunkLanes()

    def _run_finished(self, event: Event) -> None:
        self._close_chunk_lanes()
        if self.steps:
            names = ", ".join(name if owner is None else f"{name} (subagent '{owner}')" for owner, name in self.steps)
            raise OrderingViolation(
                "run.finished-open-steps", f"Cannot send 'RUN_FINISHED' while steps are still active: {names}"
            )
        checks: list[tuple[str, str, dict[str, str | None] | dict[str, None]]] = [
            ("run.finished-open-text", "text messages", self.text),
        ]
        if self.reasoning_rules:
            checks += [
                ("run.finished-open-reasoning-messages", "reasoning messages", self.reasoning_messages),
                ("run.finished-open-reasoning-spans", "reasoning spans", self.reasoning_spans),
            ]
        checks += [
            ("run.finished-open-tool-calls", "tool calls", self.tools),
            ("run.finished-open-subagents", "subagents", self.subagents),
        ]
        for rule, what, still_open in checks:
            if still_open:
                raise OrderingViolation(
                    rule, f"Cannot send 'RUN_FINISHED' while {what} are still active: {', '.join(still_open)}"
                )
        self.phase = RunPhase.FINISHED

    def _run_error(self, event: Event) -> None:
        self._close_chunk_lanes()
        self.phase = RunPhase.ERRORED

    # -- owners -----------------------------------------------------------------------------------

    @staticmethod
    def _check_owner(etype: str, kind: str, entity_id: str, claimed: str | None, owner: str | None) -> None:
        if claimed is not None and claimed != owner:
            who = f"'{owner}'" if owner is not None else "(the parent agent)"
            raise OrderingViolation(
                "owner.mismatch",
                f"Cannot send '{etype}': subagentRunId '{claimed}' does not match the {kind} '{entity_id}' "
                f"opener's subagent {who}.",
            )

    # -- text -----------------------------------------------------------------------------------

    def _text_start(self, event: ev.TextMessageStartEvent) -> None:
        if event.message_id in self.text:
            raise OrderingViolation(
                "text.start-duplicate",
                f"Cannot send 'TEXT_MESSAGE_START' event: A text message with ID '{event.message_id}' is "
                "already in progress. Complete it with 'TEXT_MESSAGE_END' first.",
            )
        self.text[event.message_id] = event.subagent_run_id

    def _text_content(self, event: ev.TextMessageContentEvent) -> None:
        if event.message_id not in self.text:
            raise OrderingViolation(
                "text.content-not-started",
                f"Cannot send 'TEXT_MESSAGE_CONTENT' event: No active text message found with ID "
                f"'{event.message_id}'. Start a text message with 'TEXT_MESSAGE_START' first.",
            )
        self._check_owner(
            "TEXT_MESSAGE_CONTENT",
            "text message",
            event.message_id,
            event.subagent_run_id,
            self.text[event.message_id],
        )

    def _text_end(self, event: ev.TextMessageEndEvent) -> None:
        if event.message_id not in self.text:
            raise OrderingViolation(
                "text.end-not-started",
                f"Cannot send 'TEXT_MESSAGE_END' event: No active text message found with ID "
                f"'{event.message_id}'. A 'TEXT_MESSAGE_START' event must be sent first.",
            )
        self._check_owner(
            "TEXT_MESSAGE_END",
            "text message",
            event.message_id,
            event.subagent_run_id,
            self.text[event.message_id],
        )
        del self.text[event.message_id]
        if self.chunks.text == event.message_id:
            self.chunks.text = None

    def _text_chunk(self, event: ev.TextMessageChunkEvent) -> None:
        lane = self.chunks.text
        message_id = event.message_id
        if message_id is None or message_id == lane:
            if lane is None:
                raise OrderingViolation("chunk.text-missing-id", "First TEXT_MESSAGE_CHUNK must have a messageId")
            return
        if lane is not None:
            self.text.pop(lane, None)
        self._text_start(ev.TextMessageStartEvent(message_id=message_id, subagent_run_id=event.subagent_run_id))
        self.chunks.text = message_id

    # -- tool calls -----------------------------------------------------------------------------

    def _tool_start(self, event: ev.ToolCallStartEvent) -> None:
        if event.tool_call_id in self.tools:
            raise OrderingViolation(
                "tool.start-duplicate",
                f"Cannot send 'TOOL_CALL_START' event: A tool call with ID '{event.tool_call_id}' is already "
                "in progress. Complete it with 'TOOL_CALL_END' first.",
            )
        self.tools[event.tool_call_id] = event.subagent_run_id

    def _tool_args(self, event: ev.ToolCallArgsEvent) -> None:
        if event.tool_call_id not in self.tools:
            raise OrderingViolation(
                "tool.args-not-started",
                f"Cannot send 'TOOL_CALL_ARGS' event: No active tool call found with ID '{event.tool_call_id}'. "
                "Start a tool call with 'TOOL_CALL_START' first.",
            )
        self._check_owner(
            "TOOL_CALL_ARGS",
            "tool call",
            event.tool_call_id,
            event.subagent_run_id,
            self.tools[event.tool_call_id],
        )

    def _tool_end(self, event: ev.ToolCallEndEvent) -> None:
        if event.tool_call_id not in self.tools:
            raise OrderingViolation(
                "tool.end-not-started",
                f"Cannot send 'TOOL_CALL_END' event: No active tool call found with ID '{event.tool_call_id}'. "
                "A 'TOOL_CALL_START' event must be sent first.",
            )
        self._check_owner(
            "TOOL_CALL_END",
            "tool call",
            event.tool_call_id,
            event.subagent_run_id,
            self.tools[event.tool_call_id],
        )
        del self.tools[event.tool_call_id]
        if self.chunks.tool == event.tool_call_id:
            self.chunks.tool = None

    def _tool_chunk(self, event: ev.ToolCallChunkEvent) -> None:
        lane = self.chunks.tool
        call_id = event.tool_call_id
        if call_id is None or call_id == lane:
            if lane is None:
                raise OrderingViolation("chunk.tool-missing-id", "First TOOL_CALL_CHUNK must have a toolCallId")
            return
        if event.tool_call_name is None:
            raise OrderingViolation("chunk.tool-missing-name", "First TOOL_CALL_CHUNK must have a toolCallName")
        if lane is not None:
            self.tools.pop(lane, None)
        self._tool_start(
            ev.ToolCallStartEvent(
                tool_call_id=call_id, tool_call_name=event.tool_call_name, subagent_run_id=event.subagent_run_id
            )
        )
        self.chunks.tool = call_id

    # -- steps ----------------------------------------------------------------------------------

    def _step_started(self, event: ev.StepStartedEvent) -> None:
        key = (event.subagent_run_id, event.step_name)
        if key in self.steps:
            suffix = f" in subagent '{event.subagent_run_id}'" if event.subagent_run_id is not None else ""
            raise OrderingViolation(
                "step.start-duplicate", f"Step \"{event.step_name}\" is already active for 'STEP_STARTED'{suffix}"
            )
        self.steps[key] = None

    def _step_finished(self, event: ev.StepFinishedEvent) -> None:
        key = (event.subagent_run_id, event.step_name)
        if key in self.steps:
            del self.steps[key]
            return
        others = [owner for owner, name in self.steps if name == event.step_name]
        if others:
            claimed = f"subagent '{event.subagent_run_id}'" if event.subagent_run_id else "the parent agent"
            holder = f"subagent '{others[0]}'" if others[0] is not None else "the parent agent"
            raise OrderingViolation(
                "step.finish-wrong-owner",
                f"Cannot send 'STEP_FINISHED' for step \"{event.step_name}\" attributed to {claimed}: that step "
                f"is open under {holder}. A step must be finished by whoever started it.",
            )
        raise OrderingViolation(
            "step.finish-not-started",
            f"Cannot send 'STEP_FINISHED' for step \"{event.step_name}\" that was not started",
        )

    # -- reasoning ------------------------------------------------------------------------------

    def _reasoning_start(self, event: ev.ReasoningStartEvent) -> None:
        if not self.reasoning_rules:
            return
        if event.message_id in self.reasoning_spans:
            raise OrderingViolation(
                "reasoning.start-duplicate",
                f"Cannot send 'REASONING_START' event: A reasoning span with ID '{event.message_id}' is already "
                "in progress. Complete it with 'REASONING_END' first.",
            )
        self.reasoning_spans[event.message_id] = event.subagent_run_id

    def _reasoning_end(self, event: ev.ReasoningEndEvent) -> None:
        if not self.reasoning_rules:
            return
        if event.message_id not in self.reasoning_spans:
            raise OrderingViolation(
                "reasoning.end-not-started",
                f"Cannot send 'REASONING_END' event: No active reasoning span found with ID '{event.message_id}'. "
                "A 'REASONING_START' event must be sent first.",
            )
        self._check_owner(
            "REASONING_END",
            "reasoning span",
            event.message_id,
            event.subagent_run_id,
            self.reasoning_spans[event.message_id],
        )
        del self.reasoning_spans[event.message_id]

    def _reasoning_message_start(self, event: ev.ReasoningMessageStartEvent) -> None:
        if not self.reasoning_rules:
            return
        if event.message_id in self.reasoning_messages:
            raise OrderingViolation(
                "reasoning.message-start-duplicate",
                f"Cannot send 'REASONING_MESSAGE_START' event: A reasoning message with ID '{event.message_id}' "
                "is already in progress. Complete it with 'REASONING_MESSAGE_END' first.",
            )
        self.reasoning_messages[event.message_id] = event.subagent_run_id

    def _reasoning_message_continue(self, event: ev.ReasoningMessageContentEvent | ev.ReasoningMessageEndEvent) -> None:
        if not self.reasoning_rules:
            return
        etype = _tag(event)
        if event.message_id not in self.reasoning_messages:
            raise OrderingViolation(
                "reasoning.message-not-started",
                f"Cannot send '{etype}' event: No active reasoning message found with ID '{event.message_id}'. "
                "Start a reasoning message with 'REASONING_MESSAGE_START' first.",
            )
        self._check_owner(
            etype,
            "reasoning message",
            event.message_id,
            event.subagent_run_id,
            self.reasoning_messages[event.message_id],
        )
        if type(event) is ev.ReasoningMessageEndEvent:
            del self.reasoning_messages[event.message_id]
            if self.chunks.reasoning == event.message_id:
                self.chunks.reasoning = None

    def _reasoning_chunk(self, event: ev.ReasoningMessageChunkEvent) -> None:
        if not self.reasoning_rules:
            return
        lane = self.chunks.reasoning
        message_id = event.message_id
        if message_id is None or message_id == lane:
            if lane is None:
                raise OrderingViolation(
                    "chunk.reasoning-missing-id", "First REASONING_MESSAGE_CHUNK must have a messageId"
                )
            return
        if lane is not None:
            self.reasoning_messages.pop(lane, None)
        self._reasoning_message_start(
            ev.ReasoningMessageStartEvent(message_id=message_id, subagent_run_id=event.subagent_run_id)
        )
        self.chunks.reasoning = message_id

    # -- subagents ------------------------------------------------------------------------------

    def _subagent_started(self, event: ev.SubagentStartedEvent) -> None:
        sid = event.subagent_run_id
        if not sid:
            raise OrderingViolation("subagent.missing-id", "Cannot send 'SUBAGENT_STARTED' without a 'subagentRunId'.")
        if not event.name:
            raise OrderingViolation("subagent.missing-name", "Cannot send 'SUBAGENT_STARTED' without a 'name'.")
        if sid in self.subagents:
            raise OrderingViolation(
                "subagent.already-active",
                f"Cannot send 'SUBAGENT_STARTED': subagent '{sid}' is already active. "
                "Finish it with 'SUBAGENT_FINISHED' first.",
            )
        if sid in self.finished_subagents:
            raise OrderingViolation(
                "subagent.reused",
                f"Cannot send 'SUBAGENT_STARTED': subagent '{sid}' has already finished in this run. "
                "Subagent IDs are per-invocation and cannot be reused.",
            )
        parent = event.parent_subagent_run_id
        if parent is not None and parent not in self.subagents and parent not in self.finished_subagents:
            raise OrderingViolation(
                "subagent.unknown-parent",
                f"Cannot send 'SUBAGENT_STARTED': parentSubagentRunId '{parent}' has not been started in this run.",
            )
        self.subagents[sid] = None

    def _subagent_ended(self, event: ev.SubagentFinishedEvent | ev.SubagentErrorEvent) -> None:
        etype = _tag(event)
        sid = event.subagent_run_id
        if not sid:
            raise OrderingViolation("subagent.missing-id", f"Cannot send '{etype}' without a 'subagentRunId'.")
        if type(event) is ev.SubagentErrorEvent and not event.message:
            raise OrderingViolation("subagent.missing-message", "Cannot send 'SUBAGENT_ERROR' without a 'message'.")
        if sid not in self.subagents:
            raise OrderingViolation(
                "subagent.not-active",
                f"Cannot send '{etype}': no active subagent found with ID '{sid}'. "
                "A 'SUBAGENT_STARTED' event must be sent first.",
            )
        del self.subagents[sid]
        self.finished_subagents.add(sid)


_HANDLERS: Final[dict[type[Any], Callable[[OrderingMachine, Any], None]]] = {
    ev.RunFinishedEvent: OrderingMachine._run_finished,
    ev.RunErrorEvent: OrderingMachine._run_error,
    ev.TextMessageStartEvent: OrderingMachine._text_start,
    ev.TextMessageContentEvent: OrderingMachine._text_content,
    ev.TextMessageEndEvent: OrderingMachine._text_end,
    ev.TextMessageChunkEvent: OrderingMachine._text_chunk,
    ev.ToolCallStartEvent: OrderingMachine._tool_start,
    ev.ToolCallArgsEvent: OrderingMachine._tool_args,
    ev.ToolCallEndEvent: OrderingMachine._tool_end,
    ev.ToolCallChunkEvent: OrderingMachine._tool_chunk,
    ev.StepStartedEvent: OrderingMachine._step_started,
    ev.StepFinishedEvent: OrderingMachine._step_finished,
    ev.ReasoningStartEvent: OrderingMachine._reasoning_start,
    ev.ReasoningEndEvent: OrderingMachine._reasoning_end,
    ev.ReasoningMessageStartEvent: OrderingMachine._reasoning_message_start,
    ev.ReasoningMessageContentEvent: OrderingMachine._reasoning_message_continue,
    ev.ReasoningMessageEndEvent: OrderingMachine._reasoning_message_continue,
    ev.ReasoningMessageChunkEvent: OrderingMachine._reasoning_chunk,
    ev.SubagentStartedEvent: OrderingMachine._subagent_started,
    ev.SubagentFinishedEvent: OrderingMachine._subagent_ended,
    ev.SubagentErrorEvent: OrderingMachine._subagent_ended,
}
