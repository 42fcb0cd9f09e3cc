"""The ordering machine (``agui_server.protocol.ordering``) against the client's rules.

PROTOCOL.md §3.2 lists ``verifyEvents`` of ``@ag-ui/client`` 1.0.0 with its exact messages, and §3.3 the
chunk expansion. Every rule id in ``RULES`` has at least one sequence here that triggers exactly it;
where §3.2 gives the client's wording, the message is asserted verbatim.

The last section pins behaviour that PROTOCOL.md leaves as "…" or does not spell out, to what the real
client does: every expected message there was observed by running ``verifyEvents(transformChunks(...))``
of ``@ag-ui/client`` 1.0.0 (``tests/node/node_modules/agui-client-v1``; sources ``src/verify/verify.ts`` and
``src/chunks/transform.ts`` in its ``dist/index.js.map``) on the same sequences. The triggering cases and
the valid sequences above were replayed through it as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest

from agui_server.protocol import events as ev
from agui_server.protocol import types as ty
from agui_server.protocol.ordering import RULES, OrderingMachine, OrderingViolation

T = "thread-1"

# --- little builders -------------------------------------------------------------------------------


def started(run_id: str = "run-1") -> ev.RunStartedEvent:
    return ev.RunStartedEvent(thread_id=T, run_id=run_id)


def finished(run_id: str = "run-1") -> ev.RunFinishedEvent:
    return ev.RunFinishedEvent(thread_id=T, run_id=run_id)


def error(message: str = "boom") -> ev.RunErrorEvent:
    return ev.RunErrorEvent(message=message)


def tms(mid: str, sub: str | None = None) -> ev.TextMessageStartEvent:
    return ev.TextMessageStartEvent(message_id=mid, subagent_run_id=sub)


def tmc(mid: str, sub: str | None = None, delta: str = "x") -> ev.TextMessageContentEvent:
    return ev.TextMessageContentEvent(message_id=mid, delta=delta, subagent_run_id=sub)


def tme(mid: str, sub: str | None = None) -> ev.TextMessageEndEvent:
    return ev.TextMessageEndEvent(message_id=mid, subagent_run_id=sub)


def tcs(tid: str, sub: str | None = None, parent: str | None = None) -> ev.ToolCallStartEvent:
    return ev.ToolCallStartEvent(tool_call_id=tid, tool_call_name="f", parent_message_id=parent, subagent_run_id=sub)


def tca(tid: str, sub: str | None = None) -> ev.ToolCallArgsEvent:
    return ev.ToolCallArgsEvent(tool_call_id=tid, delta="{}", subagent_run_id=sub)


def tce(tid: str, sub: str | None = None) -> ev.ToolCallEndEvent:
    return ev.ToolCallEndEvent(tool_call_id=tid, subagent_run_id=sub)


def step_on(name: str, sub: str | None = None) -> ev.StepStartedEvent:
    return ev.StepStartedEvent(step_name=name, subagent_run_id=sub)


def step_off(name: str, sub: str | None = None) -> ev.StepFinishedEvent:
    return ev.StepFinishedEvent(step_name=name, subagent_run_id=sub)


def rs(mid: str, sub: str | None = None) -> ev.ReasoningStartEvent:
    return ev.ReasoningStartEvent(message_id=mid, subagent_run_id=sub)


def re_(mid: str, sub: str | None = None) -> ev.ReasoningEndEvent:
    return ev.ReasoningEndEvent(message_id=mid, subagent_run_id=sub)


def rms(mid: str, sub: str | None = None) -> ev.ReasoningMessageStartEvent:
    return ev.ReasoningMessageStartEvent(message_id=mid, subagent_run_id=sub)


def rmc(mid: str, sub: str | None = None) -> ev.ReasoningMessageContentEvent:
    return ev.ReasoningMessageContentEvent(message_id=mid, delta="hmm", subagent_run_id=sub)


def rme(mid: str, sub: str | None = None) -> ev.ReasoningMessageEndEvent:
    return ev.ReasoningMessageEndEvent(message_id=mid, subagent_run_id=sub)


def sub_on(sid: Any, name: Any = "agent", parent: str | None = None) -> ev.SubagentStartedEvent:
    return ev.SubagentStartedEvent(subagent_run_id=sid, name=name, parent_subagent_run_id=parent)


def sub_off(sid: Any) -> ev.SubagentFinishedEvent:
    return ev.SubagentFinishedEvent(subagent_run_id=sid)


def sub_err(sid: Any, message: Any = "failed") -> ev.SubagentErrorEvent:
    return ev.SubagentErrorEvent(subagent_run_id=sid, message=message)


def text_chunk(
    mid: str | None = None, delta: str | None = "x", sub: str | None = None, role: Any = None
) -> ev.TextMessageChunkEvent:
    return ev.TextMessageChunkEvent(message_id=mid, delta=delta, subagent_run_id=sub, role=role)


def tool_chunk(
    tid: str | None = None, name: str | None = None, delta: str | None = "{}", sub: str | None = None
) -> ev.ToolCallChunkEvent:
    return ev.ToolCallChunkEvent(tool_call_id=tid, tool_call_name=name, delta=delta, subagent_run_id=sub)


def reasoning_chunk(
    mid: str | None = None, delta: str | None = "x", sub: str | None = None
) -> ev.ReasoningMessageChunkEvent:
    return ev.ReasoningMessageChunkEvent(message_id=mid, delta=delta, subagent_run_id=sub)


def custom() -> ev.CustomEvent:
    return ev.CustomEvent(name="acme:x", value=None)


FINISH = object()
"""Stands for ``OrderingMachine.finish()`` (the end of the stream) in a sequence."""


def run_ok(events: list[Any], **options: Any) -> OrderingMachine:
    machine = OrderingMachine(**options)
    for event in events:
        if event is FINISH:
            machine.finish()
        else:
            machine.check(event)
    return machine


def violation(events: list[Any], **options: Any) -> OrderingViolation:
    """Feed all but the last event (which must pass) and return the violation the last one raises."""
    machine = run_ok(events[:-1], **options)
    last = events[-1]
    step = machine.finish if last is FINISH else partial(machine.check, last)
    with pytest.raises(OrderingViolation) as caught:
        step()
    return caught.value


# --- one triggering sequence (at least) per rule ---------------------------------------------------


@dataclass
class Case:
    events: list[Any]
    message: str | None = None  # the exact client wording (PROTOCOL.md §3.2/§3.3), when it gives one
    pattern: str | None = None  # a regex, where PROTOCOL.md leaves part of the wording open
    options: dict[str, Any] = field(default_factory=dict)


RULE_CASES: dict[str, dict[str, Case]] = {
    "run.first-event": {
        "text-first": Case([tms("m1")], "First event must be 'RUN_STARTED'"),
        "finished-first": Case([finished()], "First event must be 'RUN_STARTED'"),
        "snapshot-first": Case([ev.StateSnapshotEvent(snapshot={})], "First event must be 'RUN_STARTED'"),
    },
    "run.after-error": {
        "text": Case(
            [started(), error(), tms("m1")],
            "Cannot send event type 'TEXT_MESSAGE_START': The run has already errored with 'RUN_ERROR'. "
            "No further events can be sent.",
        ),
        "second-error": Case(
            [started(), error(), error()],
            "Cannot send event type 'RUN_ERROR': The run has already errored with 'RUN_ERROR'. "
            "No further events can be sent.",
        ),
        "after-error-as-first-event": Case(
            [error(), finished()],
            "Cannot send event type 'RUN_FINISHED': The run has already errored with 'RUN_ERROR'. "
            "No further events can be sent.",
        ),
    },
    "run.after-finished": {
        "custom": Case(
            [started(), finished(), custom()],
            "Cannot send event type 'CUSTOM': The run has already finished with 'RUN_FINISHED'. "
            "Start a new run with 'RUN_STARTED'.",
        ),
        "second-finished": Case(
            [started(), finished(), finished()],
            "Cannot send event type 'RUN_FINISHED': The run has already finished with 'RUN_FINISHED'. "
            "Start a new run with 'RUN_STARTED'.",
        ),
    },
    "run.started-while-active": {
        "twice": Case(
            [started(), started("run-2")],
            "Cannot send 'RUN_STARTED' while a run is still active. The previous run must be finished with "
            "'RUN_FINISHED' before starting a new run.",
        ),
    },
    "run.finished-open-steps": {
        "parent-and-subagent": Case(
            [started(), step_on("plan"), step_on("act", "sub-1"), finished()],
            "Cannot send 'RUN_FINISHED' while steps are still active: plan, act (subagent 'sub-1')",
        ),
    },
    "run.finished-open-text": {
        "two": Case(
            [started(), tms("m1"), tms("m2"), finished()],
            "Cannot send 'RUN_FINISHED' while text messages are still active: m1, m2",
        ),
    },
    "run.finished-open-reasoning-messages": {
        "one": Case(
            [started(), rms("r1"), finished()],
            "Cannot send 'RUN_FINISHED' while reasoning messages are still active: r1",
        ),
    },
    "run.finished-open-reasoning-spans": {
        "one": Case(
            [started(), rs("r1"), finished()],
            "Cannot send 'RUN_FINISHED' while reasoning spans are still active: r1",
        ),
    },
    "run.finished-open-tool-calls": {
        "one": Case(
            [started(), tcs("tc1"), finished()],
            "Cannot send 'RUN_FINISHED' while tool calls are still active: tc1",
        ),
    },
    "run.finished-open-subagents": {
        "one": Case(
            [started(), sub_on("sa"), finished()],
            "Cannot send 'RUN_FINISHED' while subagents are still active: sa",
        ),
    },
    "run.error-after-finished": {
        "strict": Case([started(), finished(), error()], options={"strict": True}),
    },
    "run.no-terminal": {
        "open-run": Case([started(), tms("m1"), tme("m1"), FINISH], options={"strict": True}),
        "after-second-start": Case([started(), finished(), started("run-2"), FINISH], options={"strict": True}),
    },
    "text.start-duplicate": {
        "twice": Case(
            [started(), tms("m1"), tms("m1")],
            "Cannot send 'TEXT_MESSAGE_START' event: A text message with ID 'm1' is already in progress. "
            "Complete it with 'TEXT_MESSAGE_END' first.",
        ),
    },
    "text.content-not-started": {
        "never-opened": Case(
            [started(), tmc("m1")],
            "Cannot send 'TEXT_MESSAGE_CONTENT' event: No active text message found with ID 'm1'. "
            "Start a text message with 'TEXT_MESSAGE_START' first.",
        ),
        "after-end": Case(
            [started(), tms("m1"), tme("m1"), tmc("m1")],
            "Cannot send 'TEXT_MESSAGE_CONTENT' event: No active text message found with ID 'm1'. "
            "Start a text message with 'TEXT_MESSAGE_START' first.",
        ),
    },
    "text.end-not-started": {
        "never-opened": Case(
            [started(), tme("m1")],
            "Cannot send 'TEXT_MESSAGE_END' event: No active text message found with ID 'm1'. "
            "A 'TEXT_MESSAGE_START' event must be sent first.",
        ),
    },
    "tool.start-duplicate": {
        "twice": Case(
            [started(), tcs("tc1"), tcs("tc1")],
            "Cannot send 'TOOL_CALL_START' event: A tool call with ID 'tc1' is already in progress. "
            "Complete it with 'TOOL_CALL_END' first.",
        ),
    },
    "tool.args-not-started": {
        "never-opened": Case(
            [started(), tca("tc1")],
            "Cannot send 'TOOL_CALL_ARGS' event: No active tool call found with ID 'tc1'. "
            "Start a tool call with 'TOOL_CALL_START' first.",
        ),
    },
    "tool.end-not-started": {
        "twice": Case(
            [started(), tcs("tc1"), tce("tc1"), tce("tc1")],
            "Cannot send 'TOOL_CALL_END' event: No active tool call found with ID 'tc1'. "
            "A 'TOOL_CALL_START' event must be sent first.",
        ),
    },
    "step.start-duplicate": {
        "parent": Case(
            [started(), step_on("plan"), step_on("plan")],
            "Step \"plan\" is already active for 'STEP_STARTED'",
        ),
        "subagent": Case(
            [started(), step_on("plan", "sub-1"), step_on("plan", "sub-1")],
            "Step \"plan\" is already active for 'STEP_STARTED' in subagent 'sub-1'",
        ),
    },
    "step.finish-not-started": {
        "never-opened": Case(
            [started(), step_off("plan")],
            "Cannot send 'STEP_FINISHED' for step \"plan\" that was not started",
        ),
    },
    "step.finish-wrong-owner": {
        "subagent-closes-parent-step": Case(
            [started(), step_on("plan"), step_off("plan", "sub-1")],
            pattern=r"^Cannot send 'STEP_FINISHED' for step \"plan\" attributed to .+: that step is open under .+\. "
            r"A step must be finished by whoever started it\.$",
        ),
        "parent-closes-subagent-step": Case(
            [started(), step_on("plan", "sub-1"), step_off("plan")],
            pattern=r"^Cannot send 'STEP_FINISHED' for step \"plan\" attributed to .+: that step is open under .+\. "
            r"A step must be finished by whoever started it\.$",
        ),
    },
    "reasoning.start-duplicate": {
        "twice": Case(
            [started(), rs("r1"), rs("r1")],
            "Cannot send 'REASONING_START' event: A reasoning span with ID 'r1' is already in progress. "
            "Complete it with 'REASONING_END' first.",
        ),
    },
    "reasoning.message-start-duplicate": {
        "twice": Case(
            [started(), rms("r1"), rms("r1")],
            "Cannot send 'REASONING_MESSAGE_START' event: A reasoning message with ID 'r1' is already in "
            "progress. Complete it with 'REASONING_MESSAGE_END' first.",
        ),
    },
    "reasoning.end-not-started": {
        "never-opened": Case(
            [started(), re_("r1")],
            "Cannot send 'REASONING_END' event: No active reasoning span found with ID 'r1'. "
            "A 'REASONING_START' event must be sent first.",
        ),
        "message-is-not-a-span": Case(
            [started(), rms("r1"), re_("r1")],
            "Cannot send 'REASONING_END' event: No active reasoning span found with ID 'r1'. "
            "A 'REASONING_START' event must be sent first.",
        ),
    },
    "reasoning.message-not-started": {
        "content": Case(
            [started(), rmc("r1")],
            "Cannot send 'REASONING_MESSAGE_CONTENT' event: No active reasoning message found with ID 'r1'. "
            "Start a reasoning message with 'REASONING_MESSAGE_START' first.",
        ),
        "end": Case(
            [started(), rme("r1")],
            "Cannot send 'REASONING_MESSAGE_END' event: No active reasoning message found with ID 'r1'. "
            "Start a reasoning message with 'REASONING_MESSAGE_START' first.",
        ),
        "span-is-not-a-message": Case(
            [started(), rs("r1"), rmc("r1")],
            "Cannot send 'REASONING_MESSAGE_CONTENT' event: No active reasoning message found with ID 'r1'. "
            "Start a reasoning message with 'REASONING_MESSAGE_START' first.",
        ),
    },
    "chunk.text-missing-id": {
        "first": Case([started(), text_chunk()], "First TEXT_MESSAGE_CHUNK must have a messageId"),
        "after-lane-closed-by-terminal": Case(
            [started(), text_chunk("m1"), finished(), started("run-2"), text_chunk()],
            "First TEXT_MESSAGE_CHUNK must have a messageId",
        ),
    },
    "chunk.tool-missing-id": {
        "first": Case([started(), tool_chunk(name="f")], "First TOOL_CALL_CHUNK must have a toolCallId"),
    },
    "chunk.tool-missing-name": {
        "first": Case([started(), tool_chunk("tc1")], "First TOOL_CALL_CHUNK must have a toolCallName"),
        "new-id-without-name": Case(
            [started(), tool_chunk("tc1", "f"), tool_chunk("tc2")],
            "First TOOL_CALL_CHUNK must have a toolCallName",
        ),
    },
    "chunk.reasoning-missing-id": {
        "first": Case([started(), reasoning_chunk()], "First REASONING_MESSAGE_CHUNK must have a messageId"),
    },
    # transform.ts resolveLane / requireOpenerAgreement; wording observed with agui-client-v1.
    "chunk.ambiguous": {
        "text": Case(
            [started(), text_chunk("m1", sub="sa"), text_chunk("m2", sub="sb"), text_chunk(None, "x")],
            "Ambiguous TEXT_MESSAGE_CHUNK: it carries neither a messageId nor a subagentRunId, but 2 lanes have an "
            "open text message. Attribute the chunk to the subagent it belongs to.",
        ),
        "tool": Case(
            [started(), tool_chunk("tc1", "f", sub="sa"), tool_chunk("tc2", "g", sub="sb"), tool_chunk()],
            "Ambiguous TOOL_CALL_CHUNK: it carries neither a toolCallId nor a subagentRunId, but 2 lanes have an "
            "open tool call. Attribute the chunk to the subagent it belongs to.",
        ),
    },
    "chunk.owner-mismatch": {
        "named-id-in-another-lane": Case(
            [started(), text_chunk("m1", sub="sa"), text_chunk("m1", "x", sub="sb")],
            "Cannot continue text message 'm1': chunk subagentRunId 'sb' does not match the open stream's "
            "subagent 'sa'.",
        ),
        "parent-lane": Case(
            [started(), reasoning_chunk("r1"), reasoning_chunk("r1", sub="sa")],
            "Cannot continue reasoning message 'r1': chunk subagentRunId 'sa' does not match the open stream's "
            "subagent '(the parent agent)'.",
        ),
    },
    "chunk.field-mismatch": {
        "role": Case(
            [started(), text_chunk("m1", role="assistant"), text_chunk(None, "x", role="user")],
            "Cannot continue text message 'm1': chunk role 'user' does not match the open stream's role 'assistant'.",
        ),
        "absent-name": Case(
            [started(), text_chunk("m1"), ev.TextMessageChunkEvent(delta="x", name="bob")],
            "Cannot continue text message 'm1': chunk name 'bob' does not match the open stream's name (absent).",
        ),
        "tool-call-name": Case(
            [started(), tool_chunk("tc1", "f"), tool_chunk(None, "g")],
            "Cannot continue tool call 'tc1': chunk toolCallName 'g' does not match the open stream's "
            "toolCallName 'f'.",
        ),
    },
    "subagent.missing-id": {
        "started": Case([started(), sub_on(None)], "Cannot send 'SUBAGENT_STARTED' without a 'subagentRunId'."),
        "finished": Case([started(), sub_off(None)], "Cannot send 'SUBAGENT_FINISHED' without a 'subagentRunId'."),
        "error": Case([started(), sub_err(None)], "Cannot send 'SUBAGENT_ERROR' without a 'subagentRunId'."),
    },
    "subagent.missing-name": {
        "started": Case([started(), sub_on("sa", None)], "Cannot send 'SUBAGENT_STARTED' without a 'name'."),
    },
    "subagent.missing-message": {
        "error": Case(
            [started(), sub_on("sa"), sub_err("sa", None)], "Cannot send 'SUBAGENT_ERROR' without a 'message'."
        ),
    },
    "subagent.already-active": {
        "twice": Case(
            [started(), sub_on("sa"), sub_on("sa")],
            "Cannot send 'SUBAGENT_STARTED': subagent 'sa' is already active. Finish it with 'SUBAGENT_FINISHED' "
            "first.",
        ),
    },
    "subagent.reused": {
        "after-finished": Case(
            [started(), sub_on("sa"), sub_off("sa"), sub_on("sa")],
            "Cannot send 'SUBAGENT_STARTED': subagent 'sa' has already finished in this run. Subagent IDs are "
            "per-invocation and cannot be reused.",
        ),
        "after-error": Case(
            [started(), sub_on("sa"), sub_err("sa"), sub_on("sa")],
            "Cannot send 'SUBAGENT_STARTED': subagent 'sa' has already finished in this run. Subagent IDs are "
            "per-invocation and cannot be reused.",
        ),
    },
    "subagent.unknown-parent": {
        "never-started": Case(
            [started(), sub_on("sb", parent="sa")],
            "Cannot send 'SUBAGENT_STARTED': parentSubagentRunId 'sa' has not been started in this run.",
        ),
        "started-in-an-earlier-run": Case(
            [started(), sub_on("sa"), sub_off("sa"), finished(), started("run-2"), sub_on("sb", parent="sa")],
            "Cannot send 'SUBAGENT_STARTED': parentSubagentRunId 'sa' has not been started in this run.",
        ),
    },
    "subagent.not-active": {
        "finished": Case(
            [started(), sub_off("sa")],
            "Cannot send 'SUBAGENT_FINISHED': no active subagent found with ID 'sa'. A 'SUBAGENT_STARTED' event "
            "must be sent first.",
        ),
        "error-twice": Case(
            [started(), sub_on("sa"), sub_err("sa"), sub_err("sa")],
            "Cannot send 'SUBAGENT_ERROR': no active subagent found with ID 'sa'. A 'SUBAGENT_STARTED' event "
            "must be sent first.",
        ),
    },
    "owner.mismatch": {
        # PROTOCOL.md §3.2 #29: "Cannot send '${t}': subagentRunId '${x}' does not match the ${kind} '${id}'
        # opener's subagent '${owner or (the parent agent)}'." The kind is left open there.
        "text-content": Case(
            [started(), tms("m1", "sa"), tmc("m1", "sb")],
            pattern=r"^Cannot send 'TEXT_MESSAGE_CONTENT': subagentRunId 'sb' does not match the [a-z ]+ 'm1' "
            r"opener's subagent 'sa'\.$",
        ),
        "text-end": Case(
            [started(), tms("m1", "sa"), tme("m1", "sb")],
            pattern=r"^Cannot send 'TEXT_MESSAGE_END': subagentRunId 'sb' does not match the [a-z ]+ 'm1' "
            r"opener's subagent 'sa'\.$",
        ),
        "tool-args": Case(
            [started(), tcs("tc1", "sa"), tca("tc1", "sb")],
            pattern=r"^Cannot send 'TOOL_CALL_ARGS': subagentRunId 'sb' does not match the [a-z ]+ 'tc1' "
            r"opener's subagent 'sa'\.$",
        ),
        "tool-end": Case(
            [started(), tcs("tc1", "sa"), tce("tc1", "sb")],
            pattern=r"^Cannot send 'TOOL_CALL_END': subagentRunId 'sb' does not match the [a-z ]+ 'tc1' "
            r"opener's subagent 'sa'\.$",
        ),
        "reasoning-content": Case(
            [started(), rms("r1", "sa"), rmc("r1", "sb")],
            pattern=r"^Cannot send 'REASONING_MESSAGE_CONTENT': subagentRunId 'sb' does not match the [a-z ]+ "
            r"'r1' opener's subagent 'sa'\.$",
        ),
        "reasoning-message-end": Case(
            [started(), rms("r1", "sa"), rme("r1", "sb")],
            pattern=r"^Cannot send 'REASONING_MESSAGE_END': subagentRunId 'sb' does not match the [a-z ]+ "
            r"'r1' opener's subagent 'sa'\.$",
        ),
        "reasoning-end": Case(
            [started(), rs("r1", "sa"), re_("r1", "sb")],
            pattern=r"^Cannot send 'REASONING_END': subagentRunId 'sb' does not match the [a-z ]+ "
            r"'r1' opener's subagent 'sa'\.$",
        ),
    },
}


def test_every_rule_has_a_triggering_case() -> None:
    assert set(RULE_CASES) == set(RULES)
    for rule, cases in RULE_CASES.items():
        assert cases, rule


def test_every_rule_has_a_description() -> None:
    for rule, description in RULES.items():
        assert re.fullmatch(r"[a-z]+\.[a-z-]+", rule), rule
        assert description.strip(), rule


@pytest.mark.parametrize(
    ("rule", "case"),
    [
        pytest.param(rule, case, id=f"{rule}:{name}")
        for rule, cases in RULE_CASES.items()
        for name, case in cases.items()
    ],
)
def test_rule_is_triggered(rule: str, case: Case) -> None:
    exc = violation(case.events, **case.options)
    assert exc.rule == rule
    assert exc.message == str(exc)
    if case.message is not None:
        assert exc.message == case.message
    if case.pattern is not None:
        assert re.fullmatch(case.pattern, exc.message), exc.message


# --- PROTOCOL.md §3.2 wording that the cases above leave open ----------------------------------------


def test_owner_mismatch_names_the_parent_agent_in_quotes() -> None:
    """§3.2 #29: the owner is quoted, ``'${owner or (the parent agent)}'``."""
    exc = violation([started(), tms("m1"), tmc("m1", "sa")])
    assert exc.rule == "owner.mismatch"
    assert re.fullmatch(
        r"Cannot send 'TEXT_MESSAGE_CONTENT': subagentRunId 'sa' does not match the [a-z ]+ 'm1' "
        r"opener's subagent '\(the parent agent\)'\.",
        exc.message,
    ), exc.message


def test_run_finished_checks_run_in_the_documented_order() -> None:
    """§3.2 #5: steps, text, reasoning messages, reasoning spans, tool calls, subagents."""
    opened = [started(), sub_on("sa"), tcs("tc1"), rs("rs1"), rms("rm1"), tms("m1"), step_on("s1")]
    closers = [step_off("s1"), tme("m1"), rme("rm1"), re_("rs1"), tce("tc1"), sub_off("sa")]
    expected = [
        "run.finished-open-steps",
        "run.finished-open-text",
        "run.finished-open-reasoning-messages",
        "run.finished-open-reasoning-spans",
        "run.finished-open-tool-calls",
        "run.finished-open-subagents",
    ]
    for i, rule in enumerate(expected):
        assert violation([*opened, *closers[:i], finished()]).rule == rule
    run_ok([*opened, *closers, finished()])


# --- PROTOCOL.md §3.2 #29: every continuation is checked, and tool calls belong to their message ---


def test_activity_delta_must_not_contradict_the_snapshot_owner() -> None:
    exc = violation(
        [
            started(),
            ev.ActivitySnapshotEvent(message_id="a1", activity_type="plan", content={}, subagent_run_id="sa"),
            ev.ActivityDeltaEvent(message_id="a1", activity_type="plan", patch=[], subagent_run_id="sb"),
        ]
    )
    assert exc.rule == "owner.mismatch"
    assert exc.message == (
        "Cannot send 'ACTIVITY_DELTA': subagentRunId 'sb' does not match the activity 'a1' opener's subagent 'sa'."
    )


def test_reasoning_encrypted_value_must_not_contradict_its_tool_call_owner() -> None:
    exc = violation(
        [
            started(),
            tcs("tc1", "sa"),
            ev.ReasoningEncryptedValueEvent(
                subtype="tool-call", entity_id="tc1", encrypted_value="x", subagent_run_id="sb"
            ),
        ]
    )
    assert exc.rule == "owner.mismatch"
    assert exc.message == (
        "Cannot send 'REASONING_ENCRYPTED_VALUE': subagentRunId 'sb' does not match the tool call 'tc1' "
        "opener's subagent 'sa'."
    )


def test_reasoning_encrypted_value_must_not_contradict_its_message_owner() -> None:
    exc = violation(
        [
            started(),
            rms("r1", "sa"),
            ev.ReasoningEncryptedValueEvent(
                subtype="message", entity_id="r1", encrypted_value="x", subagent_run_id="sb"
            ),
        ]
    )
    assert exc.rule == "owner.mismatch"
    assert exc.message == (
        "Cannot send 'REASONING_ENCRYPTED_VALUE': subagentRunId 'sb' does not match the message 'r1' "
        "opener's subagent 'sa'."
    )


def test_tool_call_start_must_match_its_parent_message_owner() -> None:
    exc = violation([started(), tms("m1", "sa"), tcs("tc1", "sb", parent="m1")])
    assert exc.rule == "owner.mismatch"
    assert exc.message == (
        "Cannot send 'TOOL_CALL_START': subagentRunId 'sb' does not match its parent message 'm1' owner 'sa'. "
        "A tool call belongs to the message that carries it."
    )


# --- valid sequences -------------------------------------------------------------------------------


@dataclass
class Valid:
    events: list[Any]
    options: dict[str, Any] = field(default_factory=dict)


_ONE_RUN = [tms("m1"), tmc("m1"), tme("m1"), tcs("tc1"), tce("tc1"), sub_on("sa"), sub_off("sa")]

VALID_SEQUENCES: dict[str, Valid] = {
    "complete-run": Valid(
        [
            started(),
            step_on("plan"),
            tms("m1"),
            tmc("m1"),
            tmc("m1", delta=""),  # empty deltas are allowed since #1419
            tme("m1"),
            tcs("tc1", parent="m1"),
            tca("tc1"),
            tce("tc1"),
            ev.ToolCallResultEvent(message_id="m2", tool_call_id="tc1", content="ok"),
            ev.StateSnapshotEvent(snapshot={}),
            ev.StateDeltaEvent(delta=[]),
            ev.MessagesSnapshotEvent(messages=[]),
            ev.ActivitySnapshotEvent(message_id="a1", activity_type="plan", content={}),
            ev.ActivityDeltaEvent(message_id="a1", activity_type="plan", patch=[]),
            ev.RawEvent(event={}),
            custom(),
            rs("r1"),
            rms("r1"),
            rmc("r1"),
            rme("r1"),
            re_("r1"),
            ev.ReasoningEncryptedValueEvent(subtype="message", entity_id="r1", encrypted_value="x"),
            step_off("plan"),
            finished(),
            FINISH,
        ],
        {"strict": True},
    ),
    # #290: several runs one after the other in one stream; ids and subagent ids are per run.
    "sequential-runs": Valid(
        [started("run-1"), *_ONE_RUN, finished("run-1"), started("run-2"), *_ONE_RUN, finished("run-2"), FINISH],
        {"strict": True},
    ),
    # PR #2409: RUN_STARTED after RUN_ERROR starts a new run with a clean slate.
    "new-run-after-run-error": Valid(
        [started(), tms("m1"), tcs("tc1"), error(), started("run-2"), tms("m1"), tme("m1"), finished("run-2")]
    ),
    "run-error-first": Valid([error("setup failed"), FINISH], {"strict": True}),
    "run-error-first-then-a-run": Valid([error("setup failed"), started(), finished(), FINISH], {"strict": True}),
    "run-error-with-everything-open": Valid(
        [started(), step_on("s"), tms("m1"), tcs("tc1"), rs("r1"), rms("r2"), sub_on("sa"), text_chunk("m9"), error()]
    ),
    "run-error-after-run-finished-not-strict": Valid([started(), finished(), error()]),
    "no-terminal-not-strict": Valid([started(), tms("m1"), FINISH]),
    "nothing-at-all-strict": Valid([FINISH], {"strict": True}),
    "interleaved-text-messages": Valid(
        [started(), tms("m1"), tms("m2"), tmc("m1"), tmc("m2"), tme("m2"), tmc("m1"), tme("m1"), finished()]
    ),
    "interleaved-tool-calls": Valid(
        [started(), tcs("a"), tcs("b"), tca("b"), tca("a"), tce("a"), tce("b"), finished()]
    ),
    "reopen-closed-ids": Valid(
        [
            started(),
            tms("m1"),
            tme("m1"),
            tms("m1"),
            tmc("m1"),
            tme("m1"),
            tcs("tc1"),
            tce("tc1"),
            tcs("tc1"),
            tce("tc1"),
            rms("r1"),
            rme("r1"),
            rms("r1"),
            rme("r1"),
            rs("r1"),
            re_("r1"),
            rs("r1"),
            re_("r1"),
            finished(),
        ]
    ),
    "reasoning-span-and-message-share-an-id": Valid(
        [started(), rs("r1"), rms("r1"), rmc("r1"), rme("r1"), re_("r1"), finished()]
    ),
    "text-chunks-expand": Valid(
        [
            started(),
            text_chunk("m1", "Hel"),
            text_chunk(None, "lo"),  # continues m1
            text_chunk("m1", "!"),  # the same id continues too
            text_chunk("m2", "new"),  # a new id closes m1 and opens m2
            text_chunk(None, None),
            finished(),  # the terminal closes m2
        ]
    ),
    "tool-call-chunks-expand": Valid(
        [
            started(),
            tool_chunk("tc1", "search", '{"q":'),
            tool_chunk(None, None, '"x"}'),
            tool_chunk("tc2", "g"),
            finished(),
        ]
    ),
    "reasoning-chunks-expand": Valid(
        [started(), reasoning_chunk("r1", "a"), reasoning_chunk(None, "b"), reasoning_chunk("r2"), finished()]
    ),
    "chunk-closed-id-reopened": Valid(
        [started(), text_chunk("m1"), text_chunk("m2"), tms("m1"), tmc("m1"), tme("m1"), finished()]
    ),
    "run-error-closes-chunk-lanes": Valid(
        [started(), text_chunk("m1"), tool_chunk("tc1", "f"), error(), started("run-2"), finished("run-2")]
    ),
    "steps-keyed-by-owner": Valid(
        [
            started(),
            sub_on("sa"),
            step_on("tools"),
            step_on("tools", "sa"),
            step_on("tools", "sb"),
            step_off("tools", "sa"),
            step_off("tools", "sb"),
            step_off("tools"),
            sub_off("sa"),
            finished(),
        ]
    ),
    "subagents-with-parents": Valid(
        [
            started(),
            sub_on("sa"),
            sub_on("sb", parent="sa"),
            sub_on("sc", parent="sb"),
            sub_err("sc"),
            sub_off("sb"),
            sub_on("sd", parent="sb"),  # a parent that already finished in this run is fine
            sub_off("sd"),
            sub_off("sa"),
            finished(),
        ]
    ),
    "subagent-id-reused-in-a-later-run": Valid(
        [
            started(),
            sub_on("sa"),
            sub_off("sa"),
            finished(),
            started("run-2"),
            sub_on("sa"),
            sub_off("sa"),
            finished("run-2"),
        ]
    ),
    "continuations-omit-or-repeat-the-owner": Valid(
        [
            started(),
            tms("m1", "sa"),
            tmc("m1"),
            tmc("m1", "sa"),
            tme("m1", "sa"),
            tcs("tc1", "sa"),
            tca("tc1"),
            tce("tc1", "sa"),
            rms("r1", "sa"),
            rmc("r1"),
            rme("r1", "sa"),
            rs("r2", "sa"),
            re_("r2"),
            finished(),
        ]
    ),
    # TOOL_CALL_RESULT is not checked against known tool call ids (it may answer an earlier run's call).
    "tool-call-result-for-an-unknown-id": Valid(
        [
            started(),
            ev.ToolCallResultEvent(message_id="m9", tool_call_id="from-an-earlier-run", content="x"),
            finished(),
        ]
    ),
    # 0.0.59 has no REASONING_* pairing rules (§3.2: the reasoning rules are 1.0 only).
    "legacy-mode-skips-reasoning-rules": Valid(
        [started(), rmc("r1"), rme("r1"), re_("r2"), rs("r3"), rms("r4"), finished()],
        {"reasoning_rules": False},
    ),
}


@pytest.mark.parametrize("valid", VALID_SEQUENCES.values(), ids=list(VALID_SEQUENCES))
def test_valid_sequence_passes(valid: Valid) -> None:
    run_ok(valid.events, **valid.options)


def test_run_error_after_run_finished_is_a_violation_only_when_strict() -> None:
    assert violation([started(), finished(), error()], strict=True).rule == "run.error-after-finished"


def test_terminated_tracks_the_phase() -> None:
    machine = OrderingMachine()
    assert not machine.terminated
    machine.check(started())
    assert not machine.terminated
    machine.check(finished())
    assert machine.terminated
    machine.check(started("run-2"))
    assert not machine.terminated
    machine.check(error())
    assert machine.terminated


# --- against the client's own source: wording and behaviour PROTOCOL.md does not spell out ----------


class TestClientSourceParity:
    """What ``@ag-ui/client`` 1.0.0 does (observed), where PROTOCOL.md says "…" or nothing."""

    def test_owner_mismatch_kind_for_text_is_message(self) -> None:
        # verify.ts: subagentTagError(eventType, tag, owners.message.get(id), "message", messageId)
        exc = violation([started(), tms("m1", "sa"), tmc("m1", "sb")])
        assert exc.message == (
            "Cannot send 'TEXT_MESSAGE_CONTENT': subagentRunId 'sb' does not match the message 'm1' "
            "opener's subagent 'sa'."
        )

    def test_owner_mismatch_kind_for_tool_call(self) -> None:
        exc = violation([started(), tcs("tc1", "sa"), tca("tc1", "sb")])
        assert exc.message == (
            "Cannot send 'TOOL_CALL_ARGS': subagentRunId 'sb' does not match the tool call 'tc1' "
            "opener's subagent 'sa'."
        )

    def test_owner_mismatch_kind_for_a_reasoning_span_is_reasoning_message(self) -> None:
        # verify.ts checks REASONING_END against owners.reasoning with the kind "reasoning message".
        exc = violation([started(), rs("r1", "sa"), re_("r1", "sb")])
        assert exc.message == (
            "Cannot send 'REASONING_END': subagentRunId 'sb' does not match the reasoning message 'r1' "
            "opener's subagent 'sa'."
        )

    def test_owner_mismatch_parent_agent_exact(self) -> None:
        exc = violation([started(), tms("m1"), tmc("m1", "sa")])
        assert exc.message == (
            "Cannot send 'TEXT_MESSAGE_CONTENT': subagentRunId 'sa' does not match the message 'm1' "
            "opener's subagent '(the parent agent)'."
        )

    def test_step_finished_wrong_owner_exact(self) -> None:
        exc = violation([started(), step_on("plan"), step_off("plan", "sa")])
        assert exc.message == (
            "Cannot send 'STEP_FINISHED' for step \"plan\" attributed to subagent 'sa': that step is open under "
            "the parent agent. A step must be finished by whoever started it."
        )
        exc = violation([started(), step_on("plan", "sa"), step_off("plan")])
        assert exc.message == (
            "Cannot send 'STEP_FINISHED' for step \"plan\" attributed to the parent agent: that step is open "
            "under subagent 'sa'. A step must be finished by whoever started it."
        )

    def test_open_steps_are_listed_grouped_by_owner(self) -> None:
        # verify.ts iterates activeSteps: owner -> names, owners in first-seen order.
        exc = violation([started(), step_on("a"), step_on("b", "sa"), step_on("c"), finished()])
        assert exc.message == "Cannot send 'RUN_FINISHED' while steps are still active: a, c, b (subagent 'sa')"

    def test_an_untagged_tool_call_inherits_its_parent_message_owner(self) -> None:
        # verify.ts: "An untagged call inherits the parent message's owner".
        run_ok(
            [
                started(),
                tms("m1", "sa"),
                tcs("tc1", parent="m1"),
                tca("tc1", "sa"),
                tce("tc1", "sa"),
                tme("m1", "sa"),
                finished(),
            ]
        )

    def test_owners_outlive_the_close(self) -> None:
        # verify.ts: owners are "retained for the whole run"; reopening under another owner contradicts it.
        exc = violation([started(), tms("m1", "sa"), tme("m1"), tms("m1", "sb")])
        assert exc.rule == "owner.mismatch"
        assert exc.message == (
            "Cannot send 'TEXT_MESSAGE_START': subagentRunId 'sb' does not match the message 'm1' "
            "opener's subagent 'sa'."
        )

    def test_a_reasoning_span_and_its_message_share_one_owner(self) -> None:
        exc = violation([started(), rs("r1", "sa"), rms("r1", "sb")])
        assert exc.rule == "owner.mismatch"
        assert exc.message == (
            "Cannot send 'REASONING_MESSAGE_START': subagentRunId 'sb' does not match the reasoning message 'r1' "
            "opener's subagent 'sa'."
        )

    def test_tool_call_reopened_under_a_message_of_another_owner(self) -> None:
        exc = violation([started(), tcs("tc1", "sa"), tce("tc1"), tms("m1"), tcs("tc1", parent="m1")])
        assert exc.rule == "owner.mismatch"
        assert exc.message == (
            "Cannot send 'TOOL_CALL_START': tool call 'tc1' is owned by 'sa' but its parent message 'm1' is owned "
            "by '(the parent agent)'. A tool call belongs to the message that carries it."
        )

    def test_messages_snapshot_seeds_owners(self) -> None:
        snapshot = ev.MessagesSnapshotEvent(messages=[ty.AssistantMessage(id="m1", content="hi", subagent_run_id="sa")])
        exc = violation([started(), snapshot, tms("m1", "sb")])
        assert exc.rule == "owner.mismatch"

    def test_empty_string_subagent_id_is_a_legal_id(self) -> None:
        # verify.ts: "Empty string is NOT rejected: it is a legal opaque id".
        run_ok([started(), sub_on(""), tms("m1", ""), tme("m1", ""), sub_off(""), finished()])

    def test_an_explicit_end_after_a_chunk_finds_the_message_closed(self) -> None:
        # transform.ts closes the lane before any non-chunk event of the same owner, so the synthetic END
        # comes first and the explicit one has nothing to close.
        exc = violation([started(), text_chunk("m1"), tme("m1")])
        assert exc.rule == "text.end-not-started"

    def test_a_non_chunk_event_closes_the_chunk_lane(self) -> None:
        exc = violation([started(), text_chunk("m1"), custom(), text_chunk(None, "more")])
        assert exc.rule == "chunk.text-missing-id"

    def test_a_lane_holds_one_stream_of_any_kind(self) -> None:
        exc = violation([started(), text_chunk("m1"), tool_chunk("tc1", "f"), text_chunk(None, "more")])
        assert exc.rule == "chunk.text-missing-id"

    def test_chunk_lanes_are_per_subagent(self) -> None:
        run_ok(
            [
                started(),
                text_chunk("m1", sub="sa"),
                text_chunk("m2", sub="sb"),
                text_chunk(None, "more", sub="sa"),
                text_chunk(None, "more", sub="sb"),
                text_chunk("m1", "again", sub="sa"),
                finished(),
            ]
        )
        # m1 was never closed by m2 (another lane), so explicitly reopening it is a duplicate start.
        exc = violation([started(), text_chunk("m1", sub="sa"), text_chunk("m2", sub="sb"), tms("m1", "sb")])
        assert exc.rule == "text.start-duplicate"

    def test_an_unattributed_continuation_with_two_open_lanes_is_ambiguous(self) -> None:
        # PROTOCOL.md §3.3: "Ambiguous ${type}: it carries neither a messageId nor a subagentRunId, but N lanes
        # have an open …"
        exc = violation([started(), text_chunk("m1", sub="sa"), text_chunk("m2", sub="sb"), text_chunk(None, "x")])
        assert exc.rule == "chunk.ambiguous"
        assert exc.message == (
            "Ambiguous TEXT_MESSAGE_CHUNK: it carries neither a messageId nor a subagentRunId, but 2 lanes have an "
            "open text message. Attribute the chunk to the subagent it belongs to."
        )

    def test_a_continuation_chunk_must_agree_with_its_opener(self) -> None:
        # PROTOCOL.md §3.3: "Cannot continue ${kind} '${id}': chunk ${field} '${v}' does not match the open
        # stream's ${field} …"
        exc = violation([started(), text_chunk("m1", role="assistant"), text_chunk(None, "x", role="user")])
        assert exc.rule == "chunk.field-mismatch"
        assert exc.message == (
            "Cannot continue text message 'm1': chunk role 'user' does not match the open stream's role 'assistant'."
        )

    def test_legacy_mode_still_needs_a_message_id_on_the_first_reasoning_chunk(self) -> None:
        # 0.0.59 has no REASONING_* pairing in verifyEvents, but its transformChunks still throws
        # "First REASONING_MESSAGE_CHUNK must have a messageId" (observed with agui-client-v0).
        exc = violation([started(), reasoning_chunk(None, "x")], reasoning_rules=False)
        assert exc.rule == "chunk.reasoning-missing-id"
        assert exc.message == "First REASONING_MESSAGE_CHUNK must have a messageId"

    def test_a_continuation_chunk_must_agree_with_its_lane_owner(self) -> None:
        exc = violation([started(), text_chunk("m1", sub="sa"), text_chunk("m1", "x", sub="sb")])
        assert exc.rule == "chunk.owner-mismatch"
        assert exc.message == (
            "Cannot continue text message 'm1': chunk subagentRunId 'sb' does not match the open stream's "
            "subagent 'sa'."
        )
