"""A corpus of broken AG-UI streams, one defect each, served by a raw ASGI app over loopback.

``POST /case/<name>`` answers with case ``<name>``; ``T`` and ``R`` in the events are replaced by the
request's ``threadId`` and ``runId`` so that only the intended defect is in the stream.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from ag_ui import core as sdk
from ag_ui.encoder import EventEncoder

T, R = "{T}", "{R}"
START = {"type": "RUN_STARTED", "threadId": T, "runId": R}
FINISH = {"type": "RUN_FINISHED", "threadId": T, "runId": R}


def text(mid: str = "m1", delta: str = "Hi there") -> list[dict[str, Any]]:
    return [
        {"type": "TEXT_MESSAGE_START", "messageId": mid, "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": mid, "delta": delta},
        {"type": "TEXT_MESSAGE_END", "messageId": mid},
    ]


def run(*middle: dict[str, Any]) -> list[dict[str, Any]]:
    return [START, *middle, FINISH]


@dataclass
class Case:
    rule: str | None
    """The one rule the runner must report (None: a correct stream)."""
    events: list[dict[str, Any] | bytes] = field(default_factory=list)
    scenario: str = "corpus"
    status: int = 200
    headers: dict[str, str] = field(
        default_factory=lambda: {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
        }
    )
    separator: bytes = b"\n\n"
    pause: float = 0.0
    """Seconds of silence between frames."""
    cut: bool = False
    """Drop the connection after the frames instead of ending the response."""


SUB = {"type": "SUBAGENT_STARTED", "subagentRunId": "sub", "name": "helper"}

ORDERING_CASES: dict[str, Case] = {
    "run.first-event": Case("order.run.first-event", [*text(), FINISH]),
    "run.after-error": Case("order.run.after-error", [START, {"type": "RUN_ERROR", "message": "x"}, *text()]),
    "run.after-finished": Case("order.run.after-finished", [START, FINISH, *text()]),
    "run.started-while-active": Case("order.run.started-while-active", [START, START, FINISH]),
    "run.finished-open-steps": Case("order.run.finished-open-steps", run({"type": "STEP_STARTED", "stepName": "s"})),
    "run.finished-open-text": Case("order.run.finished-open-text", run(text()[0])),
    "run.finished-open-reasoning-messages": Case(
        "order.run.finished-open-reasoning-messages",
        run({"type": "REASONING_MESSAGE_START", "messageId": "r", "role": "reasoning"}),
    ),
    "run.finished-open-reasoning-spans": Case(
        "order.run.finished-open-reasoning-spans", run({"type": "REASONING_START", "messageId": "r"})
    ),
    "run.finished-open-tool-calls": Case(
        "order.run.finished-open-tool-calls",
        run({"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"}),
    ),
    "run.finished-open-subagents": Case("order.run.finished-open-subagents", run(SUB)),
    "run.error-after-finished": Case(
        "order.run.error-after-finished", [*run(*text()), {"type": "RUN_ERROR", "message": "late"}]
    ),
    "run.no-terminal": Case("order.run.no-terminal", [START, *text()]),
    "text.start-duplicate": Case("order.text.start-duplicate", run(text()[0], text()[0])),
    "text.content-not-started": Case("order.text.content-not-started", run(text()[1])),
    "text.end-not-started": Case("order.text.end-not-started", run(text()[2])),
    "tool.start-duplicate": Case(
        "order.tool.start-duplicate",
        run(*[{"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"}] * 2),
    ),
    "tool.args-not-started": Case(
        "order.tool.args-not-started", run({"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": "{}"})
    ),
    "tool.end-not-started": Case("order.tool.end-not-started", run({"type": "TOOL_CALL_END", "toolCallId": "c"})),
    "step.start-duplicate": Case("order.step.start-duplicate", run(*[{"type": "STEP_STARTED", "stepName": "a"}] * 2)),
    "step.finish-not-started": Case("order.step.finish-not-started", run({"type": "STEP_FINISHED", "stepName": "a"})),
    "step.finish-wrong-owner": Case(
        "order.step.finish-wrong-owner",
        run(
            SUB,
            {"type": "STEP_STARTED", "stepName": "a", "subagentRunId": "sub"},
            {"type": "STEP_FINISHED", "stepName": "a"},
        ),
    ),
    "reasoning.start-duplicate": Case(
        "order.reasoning.start-duplicate", run(*[{"type": "REASONING_START", "messageId": "r"}] * 2)
    ),
    "reasoning.message-start-duplicate": Case(
        "order.reasoning.message-start-duplicate",
        run(*[{"type": "REASONING_MESSAGE_START", "messageId": "r", "role": "reasoning"}] * 2),
    ),
    "reasoning.end-not-started": Case(
        "order.reasoning.end-not-started", run({"type": "REASONING_END", "messageId": "r"})
    ),
    "reasoning.message-not-started": Case(
        "order.reasoning.message-not-started",
        run({"type": "REASONING_MESSAGE_CONTENT", "messageId": "r", "delta": "hmm"}),
    ),
    "chunk.text-missing-id": Case("order.chunk.text-missing-id", run({"type": "TEXT_MESSAGE_CHUNK", "delta": "x"})),
    "chunk.tool-missing-id": Case(
        "order.chunk.tool-missing-id", run({"type": "TOOL_CALL_CHUNK", "toolCallName": "f", "delta": "{}"})
    ),
    "chunk.tool-missing-name": Case(
        "order.chunk.tool-missing-name", run({"type": "TOOL_CALL_CHUNK", "toolCallId": "c", "delta": "{}"})
    ),
    "chunk.reasoning-missing-id": Case(
        "order.chunk.reasoning-missing-id", run({"type": "REASONING_MESSAGE_CHUNK", "delta": "x"})
    ),
    "chunk.ambiguous": Case(
        "order.chunk.ambiguous",
        run(
            {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m1", "delta": "a", "subagentRunId": "s1"},
            {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m2", "delta": "b", "subagentRunId": "s2"},
            {"type": "TEXT_MESSAGE_CHUNK", "delta": "whose?"},
        ),
    ),
    "chunk.owner-mismatch": Case(
        "order.chunk.owner-mismatch",
        run(
            {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m1", "delta": "a", "subagentRunId": "s1"},
            {"type": "TEXT_MESSAGE_CHUNK", "messageId": "m1", "delta": "b", "subagentRunId": "s2"},
        ),
    ),
    "chunk.field-mismatch": Case(
        "order.chunk.field-mismatch",
        run(
            {"type": "TOOL_CALL_CHUNK", "toolCallId": "c", "toolCallName": "f", "delta": "{"},
            {"type": "TOOL_CALL_CHUNK", "toolCallName": "g", "delta": "}"},
        ),
    ),
    "subagent.already-active": Case("order.subagent.already-active", run(SUB, SUB)),
    "subagent.reused": Case(
        "order.subagent.reused", run(SUB, {"type": "SUBAGENT_FINISHED", "subagentRunId": "sub"}, SUB)
    ),
    "subagent.unknown-parent": Case(
        "order.subagent.unknown-parent",
        run({"type": "SUBAGENT_STARTED", "subagentRunId": "s", "name": "x", "parentSubagentRunId": "nope"}),
    ),
    "subagent.not-active": Case(
        "order.subagent.not-active", run({"type": "SUBAGENT_FINISHED", "subagentRunId": "sub"})
    ),
    "owner.mismatch": Case(
        "order.owner.mismatch",
        run(text()[0], {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "x", "subagentRunId": "other"}),
    ),
}

_VALID = run(*text())


def _frame(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


OTHER_CASES: dict[str, Case] = {
    "frame.crlf": Case("frame.crlf", list(_VALID), separator=b"\r\n\r\n"),
    "frame.utf8": Case(
        "frame.utf8",
        [
            START,
            text()[0],
            b'data: {"type":"TEXT_MESSAGE_CONTENT","messageId":"m1","delta":"caf\xe9"}\n\n',
            text()[2],
            FINISH,
        ],
    ),
    "frame.replacement-char": Case("frame.replacement-char", run(*text(delta="broken \ufffd text"))),
    "frame.stray-line": Case(
        "frame.stray-line", [START, b'{"type":"CUSTOM","name":"x","value":1}\n\n', *text(), FINISH]
    ),
    "frame.json": Case("frame.json", [START, b"data: {not json\n\n", *text(), FINISH]),
    "frame.not-object": Case("frame.not-object", [START, b"data: [1, 2]\n\n", *text(), FINISH]),
    "frame.unterminated": Case("frame.unterminated", [*_VALID, b'data: {"type":"CUSTOM"']),
    "schema.unknown-type": Case("schema.unknown-type", run({"type": "FOO_BAR"}, *text())),
    "schema.invalid": Case("schema.invalid", run(text()[0], {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1"})),
    "schema.null-optional": Case(
        "schema.null-optional",
        run({"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f", "parentMessageId": None}),
    ),
    "schema.snake-case": Case("schema.snake-case", [{"type": "RUN_STARTED", "thread_id": T, "run_id": R}, FINISH]),
    "schema.timestamp": Case("schema.timestamp", [{**START, "timestamp": 1712.5}, FINISH]),
    "schema.json-pointer": Case(
        "schema.json-pointer", run({"type": "STATE_DELTA", "delta": [{"op": "add", "path": "a", "value": 1}]})
    ),
    "schema.unknown-field": Case("schema.unknown-field", run({**text()[0], "mood": "cheerful"}, *text()[1:])),
    "schema.unknown-field-in-message": Case(
        "schema.unknown-field",
        run(
            {
                "type": "MESSAGES_SNAPSHOT",
                "messages": [{"id": "u1", "role": "user", "content": "hi", "mood": "cheerful"}],
            }
        ),
    ),
    "legacy.unknown-field": Case(
        "legacy.unknown-field", run({**text()[0], "mood": "cheerful"}, *text()[1:]), scenario="corpus-legacy"
    ),
    "run.empty": Case("run.empty", []),
    "run.echo": Case("run.echo", [{**START, "runId": "someone-else"}, FINISH]),
    "tool.args-json": Case(
        "tool.args-json",
        run(
            {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "f"},
            {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": '{"city": '},
            {"type": "TOOL_CALL_END", "toolCallId": "c"},
        ),
    ),
    "tool.args-schema": Case(
        "tool.args-schema",
        run(
            {"type": "TOOL_CALL_START", "toolCallId": "c", "toolCallName": "get_weather"},
            {"type": "TOOL_CALL_ARGS", "toolCallId": "c", "delta": '{"city": 5}'},
            {"type": "TOOL_CALL_END", "toolCallId": "c"},
        ),
        scenario="corpus-tools",
    ),
    "state.delta-apply": Case(
        "state.delta-apply",
        run({"type": "STATE_DELTA", "delta": [{"op": "replace", "path": "/missing/deep", "value": 1}]}),
        scenario="corpus-state",
    ),
    "legacy.outcome": Case(
        "legacy.outcome", [*run(*text())[:-1], {**FINISH, "outcome": {"type": "cancelled"}}], "corpus-legacy"
    ),
    "legacy.tool-result-content": Case(
        "legacy.tool-result-content",
        run(
            {
                "type": "TOOL_CALL_RESULT",
                "messageId": "tm",
                "toolCallId": "c",
                "content": [{"type": "text", "text": "sunny"}],
            }
        ),
        scenario="corpus-legacy",
    ),
    "legacy.unknown-type": Case("legacy.unknown-type", run({"type": "FOO_BAR"}), scenario="corpus-legacy"),
    "transport.keepalive": Case("transport.keepalive", list(_VALID), pause=0.5),
    "scenario.expectation": Case("scenario.expectation", [START, FINISH], scenario="plain-chat"),
    "http.status": Case(
        "http.status", [b'{"error": "boom"}'], status=500, headers={"content-type": "application/json"}
    ),
    "http.content-type": Case(
        "http.content-type",
        list(_VALID),
        headers={"content-type": "application/json", "cache-control": "no-cache", "x-accel-buffering": "no"},
    ),
    "http.cache-control": Case(
        "http.cache-control", list(_VALID), headers={"content-type": "text/event-stream", "x-accel-buffering": "no"}
    ),
    "http.accel-buffering": Case(
        "http.accel-buffering", list(_VALID), headers={"content-type": "text/event-stream", "cache-control": "no-cache"}
    ),
    "http.error": Case("http.error", [START, *text()], cut=True),
}


def _sdk_stream() -> list[bytes]:
    """A correct run encoded by the official Python SDK's EventEncoder."""
    encoder = EventEncoder()
    events: list[Any] = [
        sdk.RunStartedEvent(thread_id=T, run_id=R),
        sdk.StepStartedEvent(step_name="plan"),
        sdk.ReasoningStartEvent(message_id="r1"),
        sdk.ReasoningMessageStartEvent(message_id="r1", role="reasoning"),
        sdk.ReasoningMessageContentEvent(message_id="r1", delta="thinking"),
        sdk.ReasoningMessageEndEvent(message_id="r1"),
        sdk.ReasoningEndEvent(message_id="r1"),
        sdk.StepFinishedEvent(step_name="plan"),
        sdk.StateSnapshotEvent(snapshot={"count": 1, "items": []}),
        sdk.StateDeltaEvent(delta=[{"op": "replace", "path": "/count", "value": 2}]),
        sdk.TextMessageStartEvent(message_id="m1", role="assistant"),
        sdk.TextMessageContentEvent(message_id="m1", delta="Checking the weather in 東京 🌧"),
        sdk.TextMessageEndEvent(message_id="m1"),
        sdk.ToolCallStartEvent(tool_call_id="c1", tool_call_name="get_weather", parent_message_id="m1"),
        sdk.ToolCallArgsEvent(tool_call_id="c1", delta='{"city": '),
        sdk.ToolCallArgsEvent(tool_call_id="c1", delta='"Tokyo"}'),
        sdk.ToolCallEndEvent(tool_call_id="c1"),
        sdk.ToolCallResultEvent(message_id="t1", tool_call_id="c1", content="rain", role="tool"),
        sdk.TextMessageChunkEvent(message_id="m2", role="assistant", delta="It rains."),
        sdk.CustomEvent(name="app.done", value=None),
        sdk.RunFinishedEvent(thread_id=T, run_id=R),
    ]
    return [encoder.encode(event).encode() for event in events]


VALID_CASES: dict[str, Case] = {
    "sdk-encoder": Case(None, list(_sdk_stream()), scenario="corpus-tools"),
    # The client checks `typeof … !== "string"`: the empty string is a legal subagent id, name and message.
    # (Only an in-process producer can omit them: on the wire the schema requires all three.)
    "subagent-empty-strings": Case(
        None,
        run(
            {"type": "SUBAGENT_STARTED", "subagentRunId": "", "name": ""},
            {"type": "TEXT_MESSAGE_START", "messageId": "m1", "role": "assistant", "subagentRunId": ""},
            {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m1", "delta": "Hi", "subagentRunId": ""},
            {"type": "TEXT_MESSAGE_END", "messageId": "m1"},
            {"type": "SUBAGENT_ERROR", "subagentRunId": "", "message": ""},
        ),
    ),
}

CASES: dict[str, Case] = {**ORDERING_CASES, **OTHER_CASES, **VALID_CASES}


def _render(item: dict[str, Any] | bytes, thread_id: str, run_id: str, separator: bytes) -> bytes:
    raw = _frame(item) if isinstance(item, dict) else item
    raw = raw.replace(T.encode(), thread_id.encode()).replace(R.encode(), run_id.encode())
    if separator != b"\n\n" and raw.endswith(b"\n\n"):
        raw = raw[:-2] + separator
    return raw


async def corpus_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The broken server."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    case = CASES[scope["path"].rsplit("/", 1)[-1]]
    request = json.loads(body) if body else {}
    thread_id, run_id = str(request.get("threadId", "")), str(request.get("runId", ""))
    headers = [(k.encode(), v.encode()) for k, v in case.headers.items()]
    await send({"type": "http.response.start", "status": case.status, "headers": headers})
    for item in case.events:
        if case.pause:
            await asyncio.sleep(case.pause)
        chunk = _render(item, thread_id, run_id, case.separator)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    if case.cut:
        raise ConnectionAbortedError("the corpus cuts this stream on purpose")
    await send({"type": "http.response.body", "body": b"", "more_body": False})
