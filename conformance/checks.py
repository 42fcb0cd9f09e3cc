"""The checks on one stream: HTTP, framing, each event's schema, the ordering rules, and the run as a whole.

Like the official client, the event checks stop at the first fatal problem of a stream: what follows a
broken event would be judged against a state the client never reaches. Framing and HTTP problems and
warnings are all reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jsonpatch
import jsonschema
import msgspec

from agui_server.protocol import events as ev
from agui_server.protocol.ordering import OrderingMachine, OrderingViolation
from conformance.findings import Finding
from conformance.framing import split_frames
from conformance.schema import LEGACY_EVENT_TYPES, check_event

if TYPE_CHECKING:
    from conformance.capture import Capture
    from conformance.scenarios import Scenario

__all__ = ("check_stream",)


def _check_http(capture: Capture, name: str) -> list[Finding]:
    findings: list[Finding] = []
    content_type = capture.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "text/event-stream":
        findings.append(Finding("http.content-type", f"Content-Type is {content_type!r}", name))
    cache = capture.headers.get("cache-control", "").lower()
    if "no-cache" not in cache and "no-store" not in cache:
        findings.append(Finding("http.cache-control", f"Cache-Control is {cache or 'missing'!r}", name))
    if capture.headers.get("x-accel-buffering", "").lower() != "no":
        message = "X-Accel-Buffering: no is missing (recommended: a buffering proxy such as nginx holds events back)"
        findings.append(Finding("http.accel-buffering", message, name))
    return findings


_NOT_FATAL = frozenset({"schema.unknown-field", "legacy.unknown-field"})
"""Problems the official clients survive: the event goes on (without the field) and so do the checks."""


@dataclass
class _RunState:
    """What the checks remember while they walk the events of one stream."""

    state: Any
    tool_names: dict[str, str] = field(default_factory=dict)
    tool_args: dict[str, list[str]] = field(default_factory=dict)
    chunk_tool: str | None = None
    text: list[str] = field(default_factory=list)
    text_roles: dict[str, str] = field(default_factory=dict)
    terminal: str | None = None


def check_stream(
    capture: Capture, scenario: Scenario, body: dict[str, Any], *, keepalive_window: float | None = None
) -> list[Finding]:
    """Every finding on one captured answer to ``body`` (the scenario's request)."""
    name = scenario.name
    if capture.status != 200:
        return [Finding("http.status", f"answered {capture.status}: {capture.body[:200]!r}", name)]
    findings = _check_http(capture, name)
    if capture.error:
        findings.append(Finding("http.error", capture.error, name))
    if keepalive_window is not None and capture.longest_gap > keepalive_window:
        findings.append(
            Finding(
                "transport.keepalive",
                f"silent for {capture.longest_gap:.1f} s (window {keepalive_window:g} s) with no keepalive",
                name,
            )
        )
    frames, framing = split_frames(capture.body, name)
    findings += framing
    if not frames and not framing:
        findings.append(Finding("run.empty", "the stream carries no event", name))
        return findings
    findings += _check_events(frames, scenario, body, complete=capture.error is None)
    return findings


def _check_events(frames: list[Any], scenario: Scenario, body: dict[str, Any], *, complete: bool) -> list[Finding]:
    name = scenario.name
    findings: list[Finding] = []
    machine = OrderingMachine(strict=True, reasoning_rules=not scenario.legacy)
    run = _RunState(state=body.get("state") if body.get("state") is not None else {})
    for frame in frames:
        kind = frame.event.get("type")
        if scenario.legacy and kind not in LEGACY_EVENT_TYPES:
            message = f"{kind!r} is unknown to @ag-ui/client 0.0.59, which fails the run on it"
            findings.append(Finding("legacy.unknown-type", message, name, frame.index, frame.text))
            return findings
        event, problems = check_event(frame.event)
        fatal = False
        for rule, message in problems:
            if rule == "schema.unknown-field" and scenario.legacy:
                rule = "legacy.unknown-field"  # 0.0.59 keeps unknown event fields and drops message fields
            findings.append(Finding(rule, message, name, frame.index, frame.text))
            fatal = fatal or rule not in _NOT_FATAL
        if fatal or event is None:
            return findings
        problem = _check_one(event, frame.event, scenario, body, run, machine)
        if problem is not None:
            rule, message = problem
            findings.append(Finding(rule, message, name, frame.index, frame.text))
            return findings
    if not complete:
        return findings  # a cut stream: its end cannot be judged
    try:
        machine.finish()
    except OrderingViolation as violation:
        findings.append(Finding(f"order.{violation.rule}", violation.message, name, len(frames) - 1))
        return findings
    findings += _check_expectations(scenario, run, len(frames))
    return findings


def _check_one(
    event: ev.Event,
    raw: dict[str, Any],
    scenario: Scenario,
    body: dict[str, Any],
    run: _RunState,
    machine: OrderingMachine,
) -> tuple[str, str] | None:
    kind = raw["type"]
    if scenario.legacy:
        problem = _legacy_problem(event)
        if problem is not None:
            return problem
    try:
        machine.check(event)
    except OrderingViolation as violation:
        return f"order.{violation.rule}", violation.message
    if isinstance(event, ev.RunStartedEvent | ev.RunFinishedEvent) and (
        event.thread_id != body["threadId"] or event.run_id != body["runId"]
    ):
        return "run.echo", (
            f"{kind} carries threadId {event.thread_id!r} / runId {event.run_id!r}; "
            f"the request had {body['threadId']!r} / {body['runId']!r}"
        )
    if isinstance(event, ev.RunFinishedEvent | ev.RunErrorEvent):
        run.terminal = kind
    return _check_content(event, scenario, run)


def _legacy_problem(event: ev.Event) -> tuple[str, str] | None:
    if isinstance(event, ev.RunFinishedEvent):
        outcome = event.outcome
        if isinstance(outcome, ev.CancelledOutcome):
            return "legacy.outcome", "outcome {type: cancelled} is fatal on @ag-ui/client 0.0.59"
        if isinstance(outcome, ev.SuccessOutcome) and outcome.pending_tool_call_ids is not None:
            return "legacy.outcome", "outcome.pendingToolCallIds is fatal on @ag-ui/client 0.0.59"
    if isinstance(event, ev.ToolCallResultEvent) and not isinstance(event.content, str):
        return "legacy.tool-result-content", "TOOL_CALL_RESULT content must be a string for @ag-ui/client 0.0.59"
    return None


def _check_content(event: ev.Event, scenario: Scenario, run: _RunState) -> tuple[str, str] | None:
    if isinstance(event, ev.TextMessageStartEvent):
        run.text_roles[event.message_id] = event.role or "assistant"
    elif isinstance(event, ev.TextMessageContentEvent):
        if run.text_roles.get(event.message_id, "assistant") == "assistant":
            run.text.append(event.delta)
    elif isinstance(event, ev.TextMessageChunkEvent) and event.delta and (event.role or "assistant") == "assistant":
        run.text.append(event.delta)
    elif isinstance(event, ev.ToolCallStartEvent):
        run.tool_names[event.tool_call_id] = event.tool_call_name
        run.tool_args[event.tool_call_id] = []
    elif isinstance(event, ev.ToolCallArgsEvent):
        run.tool_args.setdefault(event.tool_call_id, []).append(event.delta)
    elif isinstance(event, ev.ToolCallChunkEvent):
        if event.tool_call_id is not None and event.tool_call_id != run.chunk_tool:
            if run.chunk_tool is not None:
                problem = _check_tool_args(run.chunk_tool, scenario, run)
                if problem:
                    return problem
            run.chunk_tool = event.tool_call_id
            run.tool_names[event.tool_call_id] = event.tool_call_name or ""
            run.tool_args[event.tool_call_id] = []
        if run.chunk_tool is not None and event.delta:
            run.tool_args[run.chunk_tool].append(event.delta)
    elif isinstance(event, ev.ToolCallEndEvent):
        if run.chunk_tool == event.tool_call_id:
            run.chunk_tool = None
        return _check_tool_args(event.tool_call_id, scenario, run)
    elif isinstance(event, ev.StateSnapshotEvent):
        run.state = event.snapshot
    elif isinstance(event, ev.StateDeltaEvent):
        try:
            run.state = jsonpatch.apply_patch(run.state, msgspec.to_builtins(event.delta))
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, KeyError, IndexError, TypeError) as exc:
            return "state.delta-apply", f"the patch does not apply to the current state: {exc}"
    elif isinstance(event, ev.RunFinishedEvent | ev.RunErrorEvent) and run.chunk_tool is not None:
        chunk_tool, run.chunk_tool = run.chunk_tool, None
        return _check_tool_args(chunk_tool, scenario, run)
    return None


def _check_tool_args(call_id: str, scenario: Scenario, run: _RunState) -> tuple[str, str] | None:
    text = "".join(run.tool_args.get(call_id, []))
    try:
        arguments = json.loads(text) if text.strip() else {}
    except ValueError as exc:
        return "tool.args-json", f"the arguments of tool call {call_id!r} are not valid JSON ({exc}): {text[:200]!r}"
    tool = scenario.tools.get(run.tool_names.get(call_id, ""))
    schema = tool.get("parameters") if tool else None
    if isinstance(schema, dict):
        try:
            jsonschema.validate(arguments, schema)
        except jsonschema.ValidationError as exc:
            return "tool.args-schema", f"the arguments of {tool['name']!r} break its JSON Schema: {exc.message}"  # type: ignore[index]
        except jsonschema.SchemaError:
            return None  # the scenario's own schema is broken; nothing to judge against
    return None


def _check_expectations(scenario: Scenario, run: _RunState, count: int) -> list[Finding]:
    expect = scenario.expect
    name = scenario.name
    problems: list[str] = []
    if expect.finished and run.terminal != "RUN_FINISHED":
        problems.append(f"the run ended with {run.terminal or 'no terminal event'}, not RUN_FINISHED")
    text = "".join(run.text)
    if expect.assistant_text and not text.strip():
        problems.append("no assistant text in the answer")
    problems += [
        f"the assistant text does not contain {needle!r}" for needle in expect.text_contains if needle not in text
    ]
    return [Finding("scenario.expectation", problem, name, count - 1) for problem in problems]
