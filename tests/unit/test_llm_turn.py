"""One model turn as AG-UI events: the ordering the providers' readers rely on."""

from __future__ import annotations

from typing import Any

from agui_server.agents._llm_emit import Turn
from agui_server.agents.base import RunContext
from agui_server.protocol import events as ev
from agui_server.protocol.ordering import OrderingMachine


def feed(events: list[ev.Event]) -> list[str]:
    machine = OrderingMachine(strict=True)
    machine.check(ev.RunStartedEvent(thread_id="t", run_id="r"))
    for event in events:
        machine.check(event)
    machine.check(ev.RunFinishedEvent(thread_id="t", run_id="r"))
    return [str(e.__struct_config__.tag) for e in events]


def test_reasoning_closes_when_text_starts_and_text_reopens_after_a_call() -> None:
    turn = Turn(RunContext(thread_id="t", run_id="r"))
    out: list[Any] = []
    out += turn.reasoning_delta("hmm")
    out += turn.text_delta("")  # empty deltas open nothing
    out += turn.text_delta("Hi")
    out += turn.tool_start("0", "c1", "f")
    out += turn.text_delta(" again")
    out += turn.finish()
    assert feed(out) == [
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_START",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
    ]
    assert turn.text == "Hi again"
    assert turn.reasoning_text == ["hmm"]
    assert out[-2].delta == "{}"  # a call without arguments still gets JSON
    assert [c.arguments for c in turn.tool_calls] == ["{}"]
    assert {e.parent_message_id for e in out if isinstance(e, ev.ToolCallStartEvent)} == {turn.message_id}


def test_an_encrypted_value_without_text_is_a_whole_reasoning_span() -> None:
    turn = Turn(RunContext(thread_id="t", run_id="r"))
    out = turn.end_reasoning(encrypted_value="opaque")
    assert feed(out) == [
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_END",
        "REASONING_ENCRYPTED_VALUE",
        "REASONING_END",
    ]
    assert turn.emitted


def test_reset_forgets_a_failed_attempt() -> None:
    turn = Turn(RunContext(thread_id="t", run_id="r"))
    turn.tool_start("0", "c1", "f")
    turn.reset()
    assert (turn.tool_calls, turn.emitted, turn.text) == ([], False, "")
