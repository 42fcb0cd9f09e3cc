"""Downgrades for pre-1.0 clients (PROTOCOL.md §8 item 6).

``@ag-ui/client`` 0.0.59 (what CopilotKit 1.75 ships) rejects a ``cancelled`` outcome, ``pendingToolCallIds``
and tool results whose content is a list of parts. ``downgrade`` rewrites those and leaves every other
event untouched.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import msgspec
import pytest

from agui_server.protocol import events as ev
from agui_server.protocol import types as ty
from agui_server.protocol.compat import CANCELLED_CODE, downgrade, is_legacy_client, parts_to_text
from agui_server.protocol.encoding import decode_event, encode_event
from tests.unit.test_protocol_sdk import EVENT_CASES

EVENT_TYPES: tuple[type[Any], ...] = typing.get_args(ev.Event)
REWRITTEN = (ev.RunFinishedEvent, ev.ToolCallResultEvent, ev.MessagesSnapshotEvent)

# --- is_legacy_client ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "legacy"),
    [
        (None, True),  # 0.0.x clients send no protocolVersion at all (PROTOCOL.md §1.1)
        ("0.0", True),
        ("0.9", True),
        ("", True),
        ("1.0", False),
        ("1.1", False),
        ("1", False),
        ("2.0", False),
    ],
)
def test_is_legacy_client(version: str | None, legacy: bool) -> None:
    assert is_legacy_client(version) is legacy


# --- RUN_FINISHED ----------------------------------------------------------------------------------


def test_cancelled_outcome_becomes_run_error_cancelled() -> None:
    usage = [ty.TokenUsage(input_tokens=3, output_tokens=4)]
    event = ev.RunFinishedEvent(
        thread_id="t", run_id="r", outcome=ev.CancelledOutcome(), usage=usage, timestamp=1_700_000_000_000
    )
    out = downgrade(event)
    assert isinstance(out, ev.RunErrorEvent)
    assert out.code == CANCELLED_CODE == "CANCELLED"
    assert isinstance(out.message, str)
    assert out.message
    assert out.usage == usage
    assert out.timestamp == 1_700_000_000_000
    data = json.loads(encode_event(out))
    assert data["type"] == "RUN_ERROR"
    assert data["code"] == "CANCELLED"
    assert "outcome" not in data


def test_cancelled_without_usage_has_no_usage_key() -> None:
    out = downgrade(ev.RunFinishedEvent(thread_id="t", run_id="r", outcome=ev.CancelledOutcome()))
    assert set(json.loads(encode_event(out))) == {"type", "message", "code"}


def test_pending_tool_call_ids_are_dropped() -> None:
    event = ev.RunFinishedEvent(
        thread_id="t",
        run_id="r",
        result={"a": 1},
        outcome=ev.SuccessOutcome(pending_tool_call_ids=["tc-1", "tc-2"]),
        usage=[ty.TokenUsage(total_tokens=1)],
        metadata={"k": "v"},
        timestamp=5,
    )
    out = downgrade(event)
    assert isinstance(out, ev.RunFinishedEvent)
    assert out.outcome == ev.SuccessOutcome()
    assert (out.thread_id, out.run_id, out.result, out.usage, out.metadata, out.timestamp) == (
        "t",
        "r",
        {"a": 1},
        [ty.TokenUsage(total_tokens=1)],
        {"k": "v"},
        5,
    )
    data = json.loads(encode_event(out))
    assert data["outcome"] == {"type": "success"}
    # The original is not mutated.
    assert event.outcome == ev.SuccessOutcome(pending_tool_call_ids=["tc-1", "tc-2"])


def test_empty_pending_list_is_dropped_too() -> None:
    out = downgrade(ev.RunFinishedEvent(thread_id="t", run_id="r", outcome=ev.SuccessOutcome(pending_tool_call_ids=[])))
    assert json.loads(encode_event(out))["outcome"] == {"type": "success"}


@pytest.mark.parametrize(
    "event",
    [
        ev.RunFinishedEvent(thread_id="t", run_id="r"),
        ev.RunFinishedEvent(thread_id="t", run_id="r", outcome=ev.SuccessOutcome()),
        ev.RunFinishedEvent(
            thread_id="t",
            run_id="r",
            outcome=ev.InterruptOutcome(interrupts=[ty.Interrupt(id="i", reason="approval")]),
        ),
    ],
    ids=["no-outcome", "success", "interrupt"],
)
def test_outcomes_0_0_59_accepts_are_unchanged(event: ev.RunFinishedEvent) -> None:
    assert downgrade(event) is event


# --- TOOL_CALL_RESULT ------------------------------------------------------------------------------


def test_tool_result_text_parts_become_a_string() -> None:
    event = ev.ToolCallResultEvent(
        message_id="m",
        tool_call_id="tc",
        content=[ty.TextPart(text="first"), ty.TextPart(text="second")],
        role="tool",
        subagent_run_id="sub-1",
        timestamp=9,
    )
    out = downgrade(event)
    assert isinstance(out, ev.ToolCallResultEvent)
    assert out.content == "first\nsecond"
    assert (out.message_id, out.tool_call_id, out.role, out.subagent_run_id, out.timestamp) == (
        "m",
        "tc",
        "tool",
        "sub-1",
        9,
    )
    assert isinstance(json.loads(encode_event(out))["content"], str)


def test_tool_result_media_parts_become_a_string() -> None:
    image = ty.ImagePart(source=ty.UrlSource(value="https://example.com/a.png"))
    out = downgrade(ev.ToolCallResultEvent(message_id="m", tool_call_id="tc", content=[ty.TextPart(text="see"), image]))
    assert isinstance(out, ev.ToolCallResultEvent)
    assert isinstance(out.content, str)
    assert out.content.startswith("see\n")
    assert "https://example.com/a.png" in out.content


def test_decoded_tool_result_parts_become_a_string() -> None:
    decoded = decode_event(
        b'{"type":"TOOL_CALL_RESULT","messageId":"m","toolCallId":"tc","content":[{"type":"text","text":"hi"}]}'
    )
    out = downgrade(decoded)
    assert isinstance(out, ev.ToolCallResultEvent)
    assert out.content == "hi"


def test_string_tool_result_is_unchanged() -> None:
    event = ev.ToolCallResultEvent(message_id="m", tool_call_id="tc", content="plain")
    assert downgrade(event) is event


def test_parts_to_text() -> None:
    assert parts_to_text("x") == "x"
    assert parts_to_text([]) == ""
    assert parts_to_text([{"type": "text", "text": "a"}, ty.TextPart(text="b")]) == "a\nb"


# --- MESSAGES_SNAPSHOT -----------------------------------------------------------------------------


def test_snapshot_tool_message_parts_become_strings() -> None:
    user = ty.UserMessage(id="u", content=[ty.TextPart(text="user parts stay")])
    assistant = ty.AssistantMessage(id="a", content="ok")
    tool_parts = ty.ToolMessage(id="t1", tool_call_id="tc-1", content=[ty.TextPart(text="r1"), ty.TextPart(text="r2")])
    tool_text = ty.ToolMessage(id="t2", tool_call_id="tc-2", content="already text")
    event = ev.MessagesSnapshotEvent(messages=[user, assistant, tool_parts, tool_text], timestamp=3)

    out = downgrade(event)
    assert isinstance(out, ev.MessagesSnapshotEvent)
    assert out.timestamp == 3
    assert out.messages[0] is user  # a user message keeps its parts: 0.0.x accepts them there
    assert out.messages[1] is assistant
    assert out.messages[3] is tool_text
    converted = out.messages[2]
    assert isinstance(converted, ty.ToolMessage)
    assert converted == ty.ToolMessage(id="t1", tool_call_id="tc-1", content="r1\nr2")
    # The original is not mutated.
    assert tool_parts.content == [ty.TextPart(text="r1"), ty.TextPart(text="r2")]


def test_snapshot_without_tool_parts_is_unchanged() -> None:
    event = ev.MessagesSnapshotEvent(
        messages=[ty.UserMessage(id="u", content="hi"), ty.ToolMessage(id="t", tool_call_id="tc", content="x")]
    )
    assert downgrade(event) is event


# --- everything else -------------------------------------------------------------------------------


def test_cases_cover_the_whole_union() -> None:
    assert set(EVENT_CASES) == set(EVENT_TYPES)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(build, id=f"{cls.__name__}-{variant}")
        for cls, variants in EVENT_CASES.items()
        if cls not in REWRITTEN
        for variant, build in variants.items()
    ],
)
def test_other_events_are_returned_as_is(build: Any) -> None:
    event = build()
    assert downgrade(event) is event


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(build, id=f"{cls.__name__}-{variant}")
        for cls, variants in EVENT_CASES.items()
        for variant, build in variants.items()
    ],
)
def test_downgraded_events_carry_no_1_0_only_shapes(build: Any) -> None:
    out = downgrade(build())
    data = json.loads(encode_event(out))
    assert "pendingToolCallIds" not in json.dumps(data)
    outcome = data.get("outcome")
    if data["type"] == "RUN_FINISHED" and outcome is not None:
        assert outcome["type"] in ("success", "interrupt")
        if outcome["type"] == "success":
            assert outcome == {"type": "success"}
    if data["type"] == "TOOL_CALL_RESULT":
        assert isinstance(data["content"], str)
    for message in data.get("messages", []) if data["type"] == "MESSAGES_SNAPSHOT" else []:
        if message["role"] == "tool":
            assert isinstance(message["content"], str)
    # Still a valid event after the rewrite.
    assert msgspec.to_builtins(decode_event(encode_event(out))) == data
