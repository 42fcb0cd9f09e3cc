"""The event-ordering rules of the official TypeScript client, as one state machine.

``@ag-ui/client`` expands every ``*_CHUNK`` event (``transformChunks`` in ``client/src/chunks/transform.ts``),
then checks every resulting event (``verifyEvents`` in ``client/src/verify/verify.ts``), and fails the whole
run on the first violation. :class:`OrderingMachine` applies both stages, with the client's own wording, so
that the guard can stop a broken event before it reaches a browser and the conformance runner can name the
rule a stream broke.

What the two stages do, in short:

- The expansion keeps one chunk *lane* per owner (the ``subagentRunId`` of the chunks, ``None`` for the
  parent agent). A lane holds at most one stream being assembled, of any kind (text, tool call, reasoning).
  A chunk continues its lane's stream or closes it and opens a new one; any other event of the same owner
  (``TEXT_MESSAGE_*``, ``TOOL_CALL_*``, ``STATE_*``, ``CUSTOM``, ``STEP_*``, ``REASONING_*`` but the encrypted
  value, and the owner's own ``SUBAGENT_FINISHED``/``SUBAGENT_ERROR``) closes it first, and the run-level
  events (``RUN_*``, ``MESSAGES_SNAPSHOT``) close every lane. The ``*_END`` events synthesized that way are
  checked like any other event.
- The checks track what is open, and the owner of every message, tool call, reasoning message and activity
  for the whole run (owners outlive the close; ``MESSAGES_SNAPSHOT`` and ``RUN_STARTED.input`` seed them).
  An event may omit ``subagentRunId``, but must not contradict the recorded owner.

Each violation carries a stable rule id (see :data:`RULES`). In ``strict`` mode two more rules apply,
which the client tolerates but validators and UIs do not: a ``RUN_ERROR`` after ``RUN_FINISHED``, and a
stream that ends without a terminal event (checked by :meth:`OrderingMachine.finish`).

A violation leaves the machine as it was before the event, so a caller may drop the event and go on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from agui_server.protocol import events as ev
from agui_server.protocol import types as ty

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

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
    "chunk.ambiguous": "A chunk with neither its id nor a subagentRunId while several lanes have a stream of its kind.",
    "chunk.owner-mismatch": "A chunk names an open chunk stream but another subagentRunId than the lane holding it.",
    "chunk.field-mismatch": "(1.0) A continuation chunk contradicts its opener's role, name or tool call fields.",
    "subagent.missing-id": "SUBAGENT_* needs a subagentRunId (any string: the empty one is a legal id).",
    "subagent.missing-name": "SUBAGENT_STARTED needs a name (any string).",
    "subagent.missing-message": "SUBAGENT_ERROR needs a message (any string).",
    "subagent.already-active": "SUBAGENT_STARTED for a subagent that is already active.",
    "subagent.reused": "SUBAGENT_STARTED for a subagent id that already finished in this run.",
    "subagent.unknown-parent": "SUBAGENT_STARTED names a parentSubagentRunId that was not started.",
    "subagent.not-active": "SUBAGENT_FINISHED/ERROR for a subagent that is not active.",
    "owner.mismatch": "An event names a different subagent than the recorded owner of what it continues.",
}

_PARENT: Final = "(the parent agent)"

_TEXT: Final = "text"
_TOOL: Final = "tool"
_REASONING: Final = "reasoning"
LaneKind = Literal["text", "tool", "reasoning"]

# How an event treats the chunk lanes before it is checked (transform.ts).
_KEEP: Final = 0  # passes through: RAW, ACTIVITY_*, REASONING_ENCRYPTED_VALUE, SUBAGENT_STARTED
_OWN: Final = 1  # closes its owner's lane
_ALL: Final = 2  # closes every lane: RUN_*, MESSAGES_SNAPSHOT
_SUBAGENT: Final = 3  # SUBAGENT_FINISHED/ERROR: closes the lane of the subagent it names
_CHUNK: Final = 4  # a chunk: its handler does the expansion and the checks


def _tag(event: Event) -> str:
    return str(event.__struct_config__.tag)


def _type_name(kind: type[Any]) -> str:
    return str(kind.__struct_config__.tag)


def _quoted(owner: str | None) -> str:
    return f"'{owner}'" if owner is not None else f"'{_PARENT}'"


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


_ACTIVE: Final = RunPhase.ACTIVE


@dataclass(slots=True)
class _Lane:
    """The stream one chunk lane is assembling (``PendingStream`` in transform.ts)."""

    kind: LaneKind
    entity_id: str
    name: str | None = None  # text: name; tool: toolCallName
    role: str | None = None  # text: the role the opener established
    parent: str | None = None  # tool: parentMessageId


_Undo = tuple[dict[str, str | None], str, str | None, int]
"""An open entry a synthesized ``*_END`` removed: (the dict, the id, its owner, its position)."""


@dataclass(slots=True)
class OrderingMachine:
    """Checks a stream of AG-UI events, one :meth:`feed` at a time.

    Args:
        strict: also enforce one terminal event per run (see module docstring).
        reasoning_rules: apply the 1.0 rules (``True``) or those of ``@ag-ui/client`` 0.0.59 (``False``):
            0.0.59 does not pair ``REASONING_*`` events (it still checks their owners) and does not check a
            continuation chunk's role, name, toolCallName or parentMessageId against its opener.

    What is open now, by id, with its owner (``None``: the parent agent): :attr:`text`, :attr:`tools`,
    :attr:`reasoning_messages`, :attr:`reasoning_spans` (the last two with ``reasoning_rules`` only);
    :attr:`steps` by ``(owner, name)``; :attr:`subagents`. :attr:`lanes` holds the chunk streams being
    assembled, by owner; what they hold is closed by the client itself (see :meth:`in_chunk_lane`).
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
    lanes: dict[str | None, _Lane] = field(default_factory=dict)
    # The owner of every entity seen in this run, kept after it closes (verify.ts ``owners``).
    message_owners: dict[str, str | None] = field(default_factory=dict)
    tool_owners: dict[str, str | None] = field(default_factory=dict)
    reasoning_owners: dict[str, str | None] = field(default_factory=dict)
    activity_owners: dict[str, str | None] = field(default_factory=dict)
    # Step owners in the order they first started a step in this run (open steps are listed by owner).
    step_owners: dict[str | None, None] = field(default_factory=dict)

    # -- public ---------------------------------------------------------------------------------

    def check(self, event: Event) -> None:
        """Check one event and advance; raises :class:`OrderingViolation` on a broken rule."""
        kind = type(event)
        handler, lanes_mode = _ROUTES.get(kind, _PLAIN)
        if lanes_mode == _CHUNK:
            handler(self, event)
            return
        if lanes_mode and self.lanes:
            closing = self._lanes_closed_by(event, lanes_mode)
            if closing:
                self._check_closing(event, handler, closing)
                return
        if self.phase != _ACTIVE:
            self._admit(kind)
        handler(self, event)

    def finish(self) -> None:
        """Check the end of the stream (strict mode: a terminal event must have been seen)."""
        if self.strict and self.phase in (RunPhase.IDLE, RunPhase.ACTIVE) and self.seen_any:
            raise OrderingViolation("run.no-terminal", "The stream ended without 'RUN_FINISHED' or 'RUN_ERROR'.")

    @property
    def terminated(self) -> bool:
        """Whether the current run has had its terminal event."""
        return self.phase in (RunPhase.FINISHED, RunPhase.ERRORED)

    def in_chunk_lane(self, kind: LaneKind, entity_id: str) -> bool:
        """Whether a chunk lane holds this open stream: the client closes it itself (and an explicit
        ``*_END`` for it would then find nothing open)."""
        return any(lane.kind == kind and lane.entity_id == entity_id for lane in self.lanes.values())

    # -- the run phase (the start of verify.ts) ---------------------------------------------------

    def _admit(self, kind: type[Any]) -> None:
        """The run-phase checks for an event of ``kind`` while no run is active."""
        if kind is ev.RunStartedEvent:
            self.seen_any = True
            return
        phase = self.phase
        if phase == RunPhase.ERRORED:
            raise OrderingViolation(
                "run.after-error",
                f"Cannot send event type '{_type_name(kind)}': The run has already errored with 'RUN_ERROR'. "
                "No further events can be sent.",
            )
        if phase == RunPhase.FINISHED:
            if kind is not ev.RunErrorEvent:
                raise OrderingViolation(
                    "run.after-finished",
                    f"Cannot send event type '{_type_name(kind)}': The run has already finished with "
                    "'RUN_FINISHED'. Start a new run with 'RUN_STARTED'.",
                )
            if self.strict:
                raise OrderingViolation(
                    "run.error-after-finished",
                    "Cannot send 'RUN_ERROR': the run has already finished with 'RUN_FINISHED'. "
                    "A run has exactly one terminal event.",
                )
        if not self.seen_any and kind is not ev.RunErrorEvent:
            raise OrderingViolation("run.first-event", "First event must be 'RUN_STARTED'")
        self.seen_any = True

    # -- chunk lanes (transform.ts) ---------------------------------------------------------------

    def _lanes_closed_by(self, event: Any, mode: int) -> list[str | None]:
        lanes = self.lanes
        if mode == _ALL:
            return list(lanes)
        owner = event.subagent_run_id
        if mode == _SUBAGENT and not isinstance(owner, str):
            return []
        return [owner] if owner in lanes else []

    def _check_closing(
        self, event: Event, handler: Callable[[OrderingMachine, Any], None], closing: list[str | None]
    ) -> None:
        """Close ``closing`` lanes (checking each synthesized ``*_END``), then check the event itself."""
        saved = dict(self.lanes)
        undo: list[_Undo] = []
        try:
            for owner in closing:
                lane = self.lanes.pop(owner)
                self._check_lane_end(lane, owner)
                self._commit_lane_end(lane, undo)
            if self.phase != _ACTIVE:
                self._admit(type(event))
            handler(self, event)
        except OrderingViolation:
            self.lanes.clear()
            self.lanes.update(saved)
            for table, key, owner, position in reversed(undo):
                items = list(table.items())
                items.insert(position, (key, owner))
                table.clear()
                table.update(items)
            raise

    def _check_lane_end(self, lane: _Lane, owner: str | None) -> None:
        """Check the ``*_END`` the client synthesizes to close ``lane`` (tagged with the lane's owner)."""
        if lane.kind == _TEXT:
            self._check_text_continue("TEXT_MESSAGE_END", lane.entity_id, owner)
        elif lane.kind == _TOOL:
            self._check_tool_continue("TOOL_CALL_END", lane.entity_id, owner)
        else:
            self._check_reasoning_message_continue("REASONING_MESSAGE_END", lane.entity_id, owner)

    def _commit_lane_end(self, lane: _Lane, undo: list[_Undo] | None = None) -> None:
        table = self.text if lane.kind == _TEXT else self.tools if lane.kind == _TOOL else self.reasoning_messages
        key = lane.entity_id
        if key not in table:  # a 0.0.59 reasoning message (not tracked)
            return
        if undo is not None:
            undo.append((table, key, table[key], list(table).index(key)))
        del table[key]

    def _resolve_lane(
        self, kind: LaneKind, entity_id: str | None, tag: str | None, chunk_type: str, what: str
    ) -> str | None:
        """The lane a chunk belongs to (``resolveLane`` in transform.ts)."""
        lanes = self.lanes
        if entity_id is not None:
            for owner, lane in lanes.items():
                if lane.kind == kind and lane.entity_id == entity_id:
                    if tag is not None and tag != owner:
                        raise OrderingViolation(
                            "chunk.owner-mismatch",
                            f"Cannot continue {what} '{entity_id}': chunk subagentRunId '{tag}' does not match "
                            f"the open stream's subagent {_quoted(owner)}.",
                        )
                    return owner
            return tag
        if tag is not None:
            return tag
        parent = lanes.get(None)
        if parent is not None and parent.kind == kind:
            return None
        candidates = [owner for owner, lane in lanes.items() if lane.kind == kind]
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            id_field = "toolCallId" if kind == _TOOL else "messageId"
            raise OrderingViolation(
                "chunk.ambiguous",
                f"Ambiguous {chunk_type}: it carries neither a {id_field} nor a subagentRunId, but "
                f"{len(candidates)} lanes have an open {what}. Attribute the chunk to the subagent it belongs to.",
            )
        return None

    @staticmethod
    def _agree(what: str, entity_id: str, name: str, incoming: str | None, established: str | None) -> None:
        """A continuation chunk may repeat a field of its opener, with the same value only (1.0)."""
        if incoming is not None and incoming != established:
            shown = f"'{established}'" if established is not None else "(absent)"
            raise OrderingViolation(
                "chunk.field-mismatch",
                f"Cannot continue {what} '{entity_id}': chunk {name} '{incoming}' does not match the open "
                f"stream's {name} {shown}.",
            )

    def _emits_content(self, event: Any) -> bool:
        """Whether a continuation chunk synthesizes a content event (transform.ts; 0.0.59 ignores rawEvent)."""
        return (
            event.delta is not None
            or event.metadata is not None
            or (self.reasoning_rules and event.raw_event is not None)
        )

    def _text_chunk(self, event: ev.TextMessageChunkEvent) -> None:
        message_id, tag = event.message_id, event.subagent_run_id
        lanes = self.lanes
        owner = self._resolve_lane(_TEXT, message_id, tag, "TEXT_MESSAGE_CHUNK", "text message") if lanes else tag
        lane = lanes.get(owner)
        if lane is not None and lane.kind == _TEXT and (message_id is None or message_id == lane.entity_id):
            entity_id = lane.entity_id
            if self.reasoning_rules and (event.role is not None or event.name is not None):
                self._agree("text message", entity_id, "role", event.role, lane.role)
                self._agree("text message", entity_id, "name", event.name, lane.name)
            if self._emits_content(event):
                content_owner = tag if tag is not None else owner
                if content_owner is not None or entity_id not in self.text:
                    self._check_text_continue("TEXT_MESSAGE_CONTENT", entity_id, content_owner)
            return
        if message_id is None:
            raise OrderingViolation("chunk.text-missing-id", "First TEXT_MESSAGE_CHUNK must have a messageId")
        if lane is not None:
            self._check_lane_end(lane, owner)
        if self.phase != _ACTIVE:
            self._admit(ev.TextMessageStartEvent)
        self._check_text_start(message_id, tag)
        if lane is not None:
            del lanes[owner]
            self._commit_lane_end(lane)
        self._commit_text_start(message_id, tag)
        lanes[owner] = _Lane(_TEXT, message_id, name=event.name, role=event.role or "assistant")

    def _tool_chunk(self, event: ev.ToolCallChunkEvent) -> None:
        call_id, tag = event.tool_call_id, event.subagent_run_id
        lanes = self.lanes
        owner = self._resolve_lane(_TOOL, call_id, tag, "TOOL_CALL_CHUNK", "tool call") if lanes else tag
        lane = lanes.get(owner)
        if lane is not None and lane.kind == _TOOL and (call_id is None or call_id == lane.entity_id):
            entity_id = lane.entity_id
            if self.reasoning_rules and (event.tool_call_name is not None or event.parent_message_id is not None):
                self._agree("tool call", entity_id, "toolCallName", event.tool_call_name, lane.name)
                self._agree("tool call", entity_id, "parentMessageId", event.parent_message_id, lane.parent)
            if self._emits_content(event):
                args_owner = tag if tag is not None else owner
                if args_owner is not None or entity_id not in self.tools:
                    self._check_tool_continue("TOOL_CALL_ARGS", entity_id, args_owner)
            return
        if call_id is None:
            raise OrderingViolation("chunk.tool-missing-id", "First TOOL_CALL_CHUNK must have a toolCallId")
        if event.tool_call_name is None:
            raise OrderingViolation("chunk.tool-missing-name", "First TOOL_CALL_CHUNK must have a toolCallName")
        if lane is not None:
            self._check_lane_end(lane, owner)
        if self.phase != _ACTIVE:
            self._admit(ev.ToolCallStartEvent)
        record = self._check_tool_start(call_id, tag, event.parent_message_id)
        if lane is not None:
            del lanes[owner]
            self._commit_lane_end(lane)
        self._commit_tool_start(call_id, record)
        lanes[owner] = _Lane(_TOOL, call_id, name=event.tool_call_name, parent=event.parent_message_id)

    def _reasoning_chunk(self, event: ev.ReasoningMessageChunkEvent) -> None:
        message_id, tag = event.message_id, event.subagent_run_id
        lanes = self.lanes
        owner = (
            self._resolve_lane(_REASONING, message_id, tag, "REASONING_MESSAGE_CHUNK", "reasoning message")
            if lanes
            else tag
        )
        lane = lanes.get(owner)
        if lane is not None and lane.kind == _REASONING and (message_id is None or message_id == lane.entity_id):
            if self._emits_content(event):
                content_owner = tag if tag is not None else owner
                self._check_reasoning_message_continue("REASONING_MESSAGE_CONTENT", lane.entity_id, content_owner)
            return
        if message_id is None:
            raise OrderingViolation("chunk.reasoning-missing-id", "First REASONING_MESSAGE_CHUNK must have a messageId")
        if lane is not None:
            self._check_lane_end(lane, owner)
        if self.phase != _ACTIVE:
            self._admit(ev.ReasoningMessageStartEvent)
        self._check_reasoning_start("REASONING_MESSAGE_START", message_id, tag)
        if lane is not None:
            del lanes[owner]
            self._commit_lane_end(lane)
        self._commit_reasoning_start(self.reasoning_messages, message_id, tag)
        lanes[owner] = _Lane(_REASONING, message_id)

    # -- lifecycle ------------------------------------------------------------------------------

    def _run_started(self, event: ev.RunStartedEvent) -> None:
        if self.phase == _ACTIVE:
            raise OrderingViolation(
                "run.started-while-active",
                "Cannot send 'RUN_STARTED' while a run is still active. The previous run must be finished "
                "with 'RUN_FINISHED' before starting a new run.",
            )
        self._reset()
        self.phase = _ACTIVE
        if event.input is not None:
            self._seed_owners(event.input.messages, authoritative=False)

    def _reset(self) -> None:
        self.text.clear()
        self.tools.clear()
        self.steps.clear()
        self.reasoning_messages.clear()
        self.reasoning_spans.clear()
        self.subagents.clear()
        self.finished_subagents.clear()
        self.lanes.clear()
        self.message_owners.clear()
        self.tool_owners.clear()
        self.reasoning_owners.clear()
        self.activity_owners.clear()
        self.step_owners.clear()

    def _run_finished(self, event: ev.RunFinishedEvent) -> None:
        if self.steps:
            steps = self.steps
            names = ", ".join(
                name if owner is None else f"{name} (subagent '{owner}')"
                for step_owner in self.step_owners
                for owner, name in steps
                if owner == step_owner
            )
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

    def _run_error(self, event: ev.RunErrorEvent) -> None:
        self.phase = RunPhase.ERRORED

    def _nothing(self, event: Event) -> None:
        pass

    # -- owners ---------------------------------------------------------------------------------

    @staticmethod
    def _check_owner(etype: str, tag: str, owners: dict[str, str | None], entity_id: str, what: str) -> None:
        """An event's ``subagentRunId`` must not contradict the recorded owner (``subagentTagError``)."""
        if entity_id in owners:
            owner = owners[entity_id]
            if owner != tag:
                raise OrderingViolation(
                    "owner.mismatch",
                    f"Cannot send '{etype}': subagentRunId '{tag}' does not match the {what} '{entity_id}' "
                    f"opener's subagent {_quoted(owner)}.",
                )

    def _seed_owners(self, messages: Iterable[ty.Message], *, authoritative: bool) -> None:
        """Record the owners of replayed messages (``MESSAGES_SNAPSHOT``, ``RUN_STARTED.input``)."""
        for message in messages:
            message_id = message.id
            owner = message.subagent_run_id
            opened: tuple[dict[str, str | None], ...]
            if isinstance(message, ty.ReasoningMessage):
                owners, opened = self.reasoning_owners, (self.reasoning_messages, self.reasoning_spans)
            elif isinstance(message, ty.ActivityMessage):
                owners, opened = self.activity_owners, ()
            else:
                owners, opened = self.message_owners, (self.text,)
            if authoritative or message_id not in owners:
                owners[message_id] = owner
                for table in opened:
                    if message_id in table:
                        table[message_id] = owner
            if isinstance(message, ty.AssistantMessage):
                for call in message.tool_calls or ():
                    if authoritative or call.id not in self.tool_owners:
                        self.tool_owners[call.id] = owner
                        if call.id in self.tools:
                            self.tools[call.id] = owner

    def _messages_snapshot(self, event: ev.MessagesSnapshotEvent) -> None:
        self._seed_owners(event.messages, authoritative=True)

    def _tool_call_result(self, event: ev.ToolCallResultEvent) -> None:
        # The result mints a tool message; the newest mint owns the id.
        message_id = event.message_id
        self.message_owners[message_id] = event.subagent_run_id
        if message_id in self.text:
            self.text[message_id] = event.subagent_run_id

    def _activity_snapshot(self, event: ev.ActivitySnapshotEvent) -> None:
        # Only a replacing snapshot (or the first one) re-owns the activity.
        if event.message_id not in self.activity_owners or event.replace is not False:
            self.activity_owners[event.message_id] = event.subagent_run_id

    def _activity_delta(self, event: ev.ActivityDeltaEvent) -> None:
        tag = event.subagent_run_id
        if tag is not None:
            self._check_owner("ACTIVITY_DELTA", tag, self.activity_owners, event.message_id, "activity")

    def _reasoning_encrypted_value(self, event: ev.ReasoningEncryptedValueEvent) -> None:
        tag = event.subagent_run_id
        if tag is None:
            return
        entity_id, subtype = event.entity_id, str(event.subtype)
        if subtype == "tool-call":
            owners, what = self.tool_owners, "tool call"
        elif subtype == "message":
            owners = self.message_owners if entity_id in self.message_owners else self.reasoning_owners
            what = "message"
        else:  # not in the schema; the client reads it as a reasoning continuation
            owners, what = self.reasoning_owners, "reasoning message"
        self._check_owner("REASONING_ENCRYPTED_VALUE", tag, owners, entity_id, what)

    # -- text -----------------------------------------------------------------------------------

    def _check_text_start(self, message_id: str, tag: str | None) -> None:
        if message_id in self.text:
            raise OrderingViolation(
                "text.start-duplicate",
                f"Cannot send 'TEXT_MESSAGE_START' event: A text message with ID '{message_id}' is "
                "already in progress. Complete it with 'TEXT_MESSAGE_END' first.",
            )
        if tag is not None:
            self._check_owner("TEXT_MESSAGE_START", tag, self.message_owners, message_id, "message")

    def _commit_text_start(self, message_id: str, tag: str | None) -> None:
        owners = self.message_owners
        if message_id not in owners:
            owners[message_id] = tag
        self.text[message_id] = owners[message_id]

    def _text_start(self, event: ev.TextMessageStartEvent) -> None:
        self._check_text_start(event.message_id, event.subagent_run_id)
        self._commit_text_start(event.message_id, event.subagent_run_id)

    def _check_text_continue(self, etype: str, message_id: str, tag: str | None) -> None:
        if message_id not in self.text:
            next_step = (
                "Start a text message with 'TEXT_MESSAGE_START' first."
                if etype == "TEXT_MESSAGE_CONTENT"
                else "A 'TEXT_MESSAGE_START' event must be sent first."
            )
            raise OrderingViolation(
                "text.content-not-started" if etype == "TEXT_MESSAGE_CONTENT" else "text.end-not-started",
                f"Cannot send '{etype}' event: No active text message found with ID '{message_id}'. {next_step}",
            )
        if tag is not None:
            self._check_owner(etype, tag, self.message_owners, message_id, "message")

    def _text_content(self, event: ev.TextMessageContentEvent) -> None:
        message_id = event.message_id
        if message_id not in self.text or event.subagent_run_id is not None:
            self._check_text_continue("TEXT_MESSAGE_CONTENT", message_id, event.subagent_run_id)

    def _text_end(self, event: ev.TextMessageEndEvent) -> None:
        self._check_text_continue("TEXT_MESSAGE_END", event.message_id, event.subagent_run_id)
        del self.text[event.message_id]

    # -- tool calls -----------------------------------------------------------------------------

    def _check_tool_start(self, call_id: str, tag: str | None, parent_id: str | None) -> str | None:
        """Check a TOOL_CALL_START; returns the owner the call gets (or keeps)."""
        if call_id in self.tools:
            raise OrderingViolation(
                "tool.start-duplicate",
                f"Cannot send 'TOOL_CALL_START' event: A tool call with ID '{call_id}' is already "
                "in progress. Complete it with 'TOOL_CALL_END' first.",
            )
        # A tool call lives inside its parent message: an explicit tag must agree with that message's
        # owner, and an untagged call inherits it.
        inherits = parent_id is not None and parent_id in self.message_owners
        inherited = self.message_owners[parent_id] if parent_id is not None and inherits else None
        if inherits and tag is not None and tag != inherited:
            raise OrderingViolation(
                "owner.mismatch",
                f"Cannot send 'TOOL_CALL_START': subagentRunId '{tag}' does not match its parent message "
                f"'{parent_id}' owner {_quoted(inherited)}. A tool call belongs to the message that carries it.",
            )
        if call_id in self.tool_owners:
            existing = self.tool_owners[call_id]
            if tag is not None:
                self._check_owner("TOOL_CALL_START", tag, self.tool_owners, call_id, "tool call")
            elif inherits and inherited != existing:
                raise OrderingViolation(
                    "owner.mismatch",
                    f"Cannot send 'TOOL_CALL_START': tool call '{call_id}' is owned by {_quoted(existing)} but "
                    f"its parent message '{parent_id}' is owned by {_quoted(inherited)}. A tool call belongs to "
                    "the message that carries it.",
                )
            return existing
        return tag if tag is not None else inherited

    def _commit_tool_start(self, call_id: str, owner: str | None) -> None:
        self.tool_owners.setdefault(call_id, owner)
        self.tools[call_id] = self.tool_owners[call_id]

    def _tool_start(self, event: ev.ToolCallStartEvent) -> None:
        owner = self._check_tool_start(event.tool_call_id, event.subagent_run_id, event.parent_message_id)
        self._commit_tool_start(event.tool_call_id, owner)

    def _check_tool_continue(self, etype: str, call_id: str, tag: str | None) -> None:
        if call_id not in self.tools:
            args = etype == "TOOL_CALL_ARGS"
            next_step = (
                "Start a tool call with 'TOOL_CALL_START' first."
                if args
                else "A 'TOOL_CALL_START' event must be sent first."
            )
            raise OrderingViolation(
                "tool.args-not-started" if args else "tool.end-not-started",
                f"Cannot send '{etype}' event: No active tool call found with ID '{call_id}'. {next_step}",
            )
        if tag is not None:
            self._check_owner(etype, tag, self.tool_owners, call_id, "tool call")

    def _tool_args(self, event: ev.ToolCallArgsEvent) -> None:
        call_id = event.tool_call_id
        if call_id not in self.tools or event.subagent_run_id is not None:
            self._check_tool_continue("TOOL_CALL_ARGS", call_id, event.subagent_run_id)

    def _tool_end(self, event: ev.ToolCallEndEvent) -> None:
        self._check_tool_continue("TOOL_CALL_END", event.tool_call_id, event.subagent_run_id)
        del self.tools[event.tool_call_id]

    # -- steps ----------------------------------------------------------------------------------

    def _step_started(self, event: ev.StepStartedEvent) -> None:
        owner = event.subagent_run_id
        key = (owner, event.step_name)
        if key in self.steps:
            suffix = f" in subagent '{owner}'" if owner is not None else ""
            raise OrderingViolation(
                "step.start-duplicate", f"Step \"{event.step_name}\" is already active for 'STEP_STARTED'{suffix}"
            )
        self.step_owners[owner] = None
        self.steps[key] = None

    def _step_finished(self, event: ev.StepFinishedEvent) -> None:
        owner, name = event.subagent_run_id, event.step_name
        key = (owner, name)
        if key in self.steps:
            del self.steps[key]
            return
        holders = [other for other in self.step_owners if (other, name) in self.steps]
        if holders:
            claimed = f"subagent '{owner}'" if owner is not None else "the parent agent"
            holder = f"subagent '{holders[0]}'" if holders[0] is not None else "the parent agent"
            raise OrderingViolation(
                "step.finish-wrong-owner",
                f"Cannot send 'STEP_FINISHED' for step \"{name}\" attributed to {claimed}: that step "
                f"is open under {holder}. A step must be finished by whoever started it.",
            )
        raise OrderingViolation(
            "step.finish-not-started",
            f"Cannot send 'STEP_FINISHED' for step \"{name}\" that was not started",
        )

    # -- reasoning ------------------------------------------------------------------------------

    def _check_reasoning_start(self, etype: str, message_id: str, tag: str | None) -> None:
        if self.reasoning_rules:
            if etype == "REASONING_START":
                if message_id in self.reasoning_spans:
                    raise OrderingViolation(
                        "reasoning.start-duplicate",
                        f"Cannot send 'REASONING_START' event: A reasoning span with ID '{message_id}' is "
                        "already in progress. Complete it with 'REASONING_END' first.",
                    )
            elif message_id in self.reasoning_messages:
                raise OrderingViolation(
                    "reasoning.message-start-duplicate",
                    f"Cannot send 'REASONING_MESSAGE_START' event: A reasoning message with ID '{message_id}' "
                    "is already in progress. Complete it with 'REASONING_MESSAGE_END' first.",
                )
        if tag is not None:
            self._check_owner(etype, tag, self.reasoning_owners, message_id, "reasoning message")

    def _commit_reasoning_start(self, table: dict[str, str | None], message_id: str, tag: str | None) -> None:
        owners = self.reasoning_owners
        if message_id not in owners:
            owners[message_id] = tag
        if self.reasoning_rules:
            table[message_id] = owners[message_id]

    def _reasoning_start(self, event: ev.ReasoningStartEvent) -> None:
        self._check_reasoning_start("REASONING_START", event.message_id, event.subagent_run_id)
        self._commit_reasoning_start(self.reasoning_spans, event.message_id, event.subagent_run_id)

    def _reasoning_message_start(self, event: ev.ReasoningMessageStartEvent) -> None:
        self._check_reasoning_start("REASONING_MESSAGE_START", event.message_id, event.subagent_run_id)
        self._commit_reasoning_start(self.reasoning_messages, event.message_id, event.subagent_run_id)

    def _check_reasoning_message_continue(self, etype: str, message_id: str, tag: str | None) -> None:
        if self.reasoning_rules and message_id not in self.reasoning_messages:
            raise OrderingViolation(
                "reasoning.message-not-started",
                f"Cannot send '{etype}' event: No active reasoning message found with ID '{message_id}'. "
                "Start a reasoning message with 'REASONING_MESSAGE_START' first.",
            )
        if tag is not None:
            self._check_owner(etype, tag, self.reasoning_owners, message_id, "reasoning message")

    def _reasoning_message_content(self, event: ev.ReasoningMessageContentEvent) -> None:
        self._check_reasoning_message_continue("REASONING_MESSAGE_CONTENT", event.message_id, event.subagent_run_id)

    def _reasoning_message_end(self, event: ev.ReasoningMessageEndEvent) -> None:
        self._check_reasoning_message_continue("REASONING_MESSAGE_END", event.message_id, event.subagent_run_id)
        self.reasoning_messages.pop(event.message_id, None)

    def _reasoning_end(self, event: ev.ReasoningEndEvent) -> None:
        message_id, tag = event.message_id, event.subagent_run_id
        if self.reasoning_rules and message_id not in self.reasoning_spans:
            raise OrderingViolation(
                "reasoning.end-not-started",
                f"Cannot send 'REASONING_END' event: No active reasoning span found with ID '{message_id}'. "
                "A 'REASONING_START' event must be sent first.",
            )
        if tag is not None:
            self._check_owner("REASONING_END", tag, self.reasoning_owners, message_id, "reasoning message")
        self.reasoning_spans.pop(message_id, None)

    # -- subagents ------------------------------------------------------------------------------

    def _subagent_started(self, event: ev.SubagentStartedEvent) -> None:
        # Only a non-string is missing: the empty string is a legal id, name and message.
        sid = event.subagent_run_id
        if not isinstance(sid, str):
            raise OrderingViolation("subagent.missing-id", "Cannot send 'SUBAGENT_STARTED' without a 'subagentRunId'.")
        if not isinstance(event.name, str):
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
        if not isinstance(sid, str):
            raise OrderingViolation("subagent.missing-id", f"Cannot send '{etype}' without a 'subagentRunId'.")
        if type(event) is ev.SubagentErrorEvent and not isinstance(event.message, str):
            raise OrderingViolation("subagent.missing-message", "Cannot send 'SUBAGENT_ERROR' without a 'message'.")
        if sid not in self.subagents:
            raise OrderingViolation(
                "subagent.not-active",
                f"Cannot send '{etype}': no active subagent found with ID '{sid}'. "
                "A 'SUBAGENT_STARTED' event must be sent first.",
            )
        del self.subagents[sid]
        self.finished_subagents.add(sid)


_PLAIN: Final[tuple[Callable[[OrderingMachine, Any], None], int]] = (OrderingMachine._nothing, _KEEP)

_ROUTES: Final[dict[type[Any], tuple[Callable[[OrderingMachine, Any], None], int]]] = {
    ev.RunStartedEvent: (OrderingMachine._run_started, _ALL),
    ev.RunFinishedEvent: (OrderingMachine._run_finished, _ALL),
    ev.RunErrorEvent: (OrderingMachine._run_error, _ALL),
    ev.MessagesSnapshotEvent: (OrderingMachine._messages_snapshot, _ALL),
    ev.TextMessageStartEvent: (OrderingMachine._text_start, _OWN),
    ev.TextMessageContentEvent: (OrderingMachine._text_content, _OWN),
    ev.TextMessageEndEvent: (OrderingMachine._text_end, _OWN),
    ev.TextMessageChunkEvent: (OrderingMachine._text_chunk, _CHUNK),
    ev.ToolCallStartEvent: (OrderingMachine._tool_start, _OWN),
    ev.ToolCallArgsEvent: (OrderingMachine._tool_args, _OWN),
    ev.ToolCallEndEvent: (OrderingMachine._tool_end, _OWN),
    ev.ToolCallChunkEvent: (OrderingMachine._tool_chunk, _CHUNK),
    ev.ToolCallResultEvent: (OrderingMachine._tool_call_result, _OWN),
    ev.StateSnapshotEvent: (OrderingMachine._nothing, _OWN),
    ev.StateDeltaEvent: (OrderingMachine._nothing, _OWN),
    ev.CustomEvent: (OrderingMachine._nothing, _OWN),
    ev.StepStartedEvent: (OrderingMachine._step_started, _OWN),
    ev.StepFinishedEvent: (OrderingMachine._step_finished, _OWN),
    ev.ReasoningStartEvent: (OrderingMachine._reasoning_start, _OWN),
    ev.ReasoningMessageStartEvent: (OrderingMachine._reasoning_message_start, _OWN),
    ev.ReasoningMessageContentEvent: (OrderingMachine._reasoning_message_content, _OWN),
    ev.ReasoningMessageEndEvent: (OrderingMachine._reasoning_message_end, _OWN),
    ev.ReasoningEndEvent: (OrderingMachine._reasoning_end, _OWN),
    ev.ReasoningMessageChunkEvent: (OrderingMachine._reasoning_chunk, _CHUNK),
    ev.ReasoningEncryptedValueEvent: (OrderingMachine._reasoning_encrypted_value, _KEEP),
    ev.ActivitySnapshotEvent: (OrderingMachine._activity_snapshot, _KEEP),
    ev.ActivityDeltaEvent: (OrderingMachine._activity_delta, _KEEP),
    ev.RawEvent: (OrderingMachine._nothing, _KEEP),
    ev.SubagentStartedEvent: (OrderingMachine._subagent_started, _KEEP),
    ev.SubagentFinishedEvent: (OrderingMachine._subagent_ended, _SUBAGENT),
    ev.SubagentErrorEvent: (OrderingMachine._subagent_ended, _SUBAGENT),
}
