"""The guard: RUN_STARTED first, one terminal, open things closed, errors and cancellation mapped."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from ag_ui import core as sdk

from agui_server.agents.base import RunContext, as_agent
from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_event
from agui_server.protocol.ordering import OrderingMachine
from agui_server.protocol.types import RunAgentInput, UserMessage
from agui_server.runs.guard import Guard


def make_input(protocol_version: str | None = "1.0") -> RunAgentInput:
    return RunAgentInput(
        thread_id="t",
        run_id="r",
        messages=[UserMessage(id="u", content="hi")],
        protocol_version=protocol_version,
    )


async def run_guard(
    agent: Any, *, strict: bool = False, legacy: bool = False, run_timeout: float | None = None
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    input = make_input(None if legacy else "1.0")
    ctx = RunContext(thread_id="t", run_id="r", legacy_client=legacy)
    guard = Guard(input, ctx, lambda data, _t: out.append(json.loads(data)), strict=strict, run_timeout=run_timeout)
    await guard.run(as_agent(agent))
    return out


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def assert_valid(events: list[dict[str, Any]]) -> None:
    machine = OrderingMachine(strict=True)
    for event in events:
        machine.check(decode_event(json.dumps(event)))
    machine.finish()


async def test_run_started_first_and_run_finished_last_echo_ids() -> None:
    async def agent(input, ctx):
        yield "Hello"

    events = await run_guard(agent)
    assert events[0] == {**events[0], "type": "RUN_STARTED", "threadId": "t", "runId": "r", "protocolVersion": "1.0"}
    assert events[-1]["type"] == "RUN_FINISHED"
    assert (events[-1]["threadId"], events[-1]["runId"]) == ("t", "r")
    assert "outcome" not in events[-1]
    assert all(isinstance(e["timestamp"], int) for e in events)
    assert_valid(events)


async def test_strings_become_one_assistant_message() -> None:
    async def agent(input, ctx):
        yield "Hel"
        yield "lo"

    events = await run_guard(agent)
    assert types(events) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert events[1]["role"] == "assistant"
    assert "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT") == "Hello"


async def test_string_message_closes_before_the_next_event() -> None:
    async def agent(input, ctx):
        yield "thinking about it"
        yield ev.StepStartedEvent(step_name="lookup")
        yield ev.StepFinishedEvent(step_name="lookup")
        yield "done"

    events = await run_guard(agent, strict=True)
    assert types(events)[1:5] == ["TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_END", "STEP_STARTED"]
    starts = [e["messageId"] for e in events if e["type"] == "TEXT_MESSAGE_START"]
    assert len(starts) == 2
    assert len(set(starts)) == 2
    assert_valid(events)


async def test_what_the_agent_left_open_is_closed_innermost_first() -> None:
    async def agent(input, ctx):
        yield ev.SubagentStartedEvent(subagent_run_id="sub", name="helper")
        yield ev.StepStartedEvent(step_name="outer")
        yield ev.ReasoningStartEvent(message_id="rs")
        yield ev.ReasoningMessageStartEvent(message_id="rm")
        yield ev.TextMessageStartEvent(message_id="m")
        yield ev.ToolCallStartEvent(tool_call_id="c", tool_call_name="f", parent_message_id="m")

    events = await run_guard(agent, strict=True)
    assert types(events)[-7:] == [
        "TOOL_CALL_END",
        "TEXT_MESSAGE_END",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "STEP_FINISHED",
        "SUBAGENT_FINISHED",
        "RUN_FINISHED",
    ]
    assert_valid(events)


async def test_exception_becomes_one_run_error_that_leaks_nothing(caplog: pytest.LogCaptureFixture) -> None:
    async def agent(input, ctx):
        yield ev.TextMessageStartEvent(message_id="m")
        yield ev.TextMessageContentEvent(message_id="m", delta="partial")
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="agui_server.runs"):
        events = await run_guard(agent)
    terminal = [e for e in events if e["type"] in ("RUN_ERROR", "RUN_FINISHED")]
    assert terminal == [events[-1]]
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == "AGENT_ERROR"
    assert "hunter2" not in events[-1]["message"]
    assert "RuntimeError" not in events[-1]["message"]
    reference = events[-1]["message"].split("Reference: ")[1].rstrip(".")
    assert any(reference in r.getMessage() and r.exc_info for r in caplog.records)
    assert_valid(events)


async def test_strict_mode_ends_the_run_on_a_protocol_violation() -> None:
    async def agent(input, ctx):
        yield ev.TextMessageContentEvent(message_id="nope", delta="x")
        yield "never sent"

    events = await run_guard(agent, strict=True)
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == "AGENT_PROTOCOL_ERROR"
    assert "No active text message found with ID 'nope'" in events[-1]["message"]


async def test_lenient_mode_drops_the_violating_event(caplog: pytest.LogCaptureFixture) -> None:
    async def agent(input, ctx):
        yield ev.TextMessageContentEvent(message_id="nope", delta="x")
        yield "kept"

    with caplog.at_level(logging.WARNING, logger="agui_server.runs"):
        events = await run_guard(agent, strict=False)
    assert "nope" not in json.dumps(events)
    assert types(events)[-1] == "RUN_FINISHED"
    assert any("text.content-not-started" in r.getMessage() for r in caplog.records)
    assert_valid(events)


async def test_agents_own_run_started_is_not_doubled_and_its_run_finished_ends_the_run() -> None:
    cleaned_up = asyncio.Event()

    async def agent(input, ctx):
        try:
            yield ev.RunStartedEvent(thread_id="other", run_id="other")
            yield ev.TextMessageStartEvent(message_id="m")
            yield ev.RunFinishedEvent(thread_id="wrong", run_id="wrong", result={"answer": 42})
            yield "after the end"
        finally:
            cleaned_up.set()

    events = await run_guard(agent, strict=True)
    assert types(events) == ["RUN_STARTED", "TEXT_MESSAGE_START", "TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert (events[-1]["threadId"], events[-1]["runId"], events[-1]["result"]) == ("t", "r", {"answer": 42})
    assert cleaned_up.is_set()


async def test_agents_run_error_is_the_terminal_event() -> None:
    async def agent(input, ctx):
        yield ev.RunErrorEvent(message="quota exceeded", code="QUOTA")
        yield "after the end"

    events = await run_guard(agent)
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == "QUOTA"


async def test_cancellation_ends_with_the_cancelled_outcome_and_runs_cleanup() -> None:
    started = asyncio.Event()
    cleaned_up = asyncio.Event()
    out: list[dict[str, Any]] = []

    async def agent(input, ctx):
        try:
            yield "working"
            started.set()
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits still completes
            cleaned_up.set()

    ctx = RunContext(thread_id="t", run_id="r")
    guard = Guard(make_input(), ctx, lambda data, _t: out.append(json.loads(data)))
    task = asyncio.create_task(guard.run(as_agent(agent)))
    await asyncio.wait_for(started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned_up.is_set()
    assert types(out)[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert out[-1]["outcome"] == {"type": "cancelled"}


async def test_cancellation_for_a_legacy_client_is_a_run_error() -> None:
    out: list[dict[str, Any]] = []
    working = asyncio.Event()

    async def agent(input, ctx):
        yield "working"
        working.set()
        await asyncio.sleep(3600)

    ctx = RunContext(thread_id="t", run_id="r", legacy_client=True)
    guard = Guard(make_input(None), ctx, lambda data, _t: out.append(json.loads(data)))
    task = asyncio.create_task(guard.run(as_agent(agent)))
    await asyncio.wait_for(working.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "protocolVersion" not in out[0]
    assert out[-1]["type"] == "RUN_ERROR"
    assert out[-1]["code"] == "CANCELLED"


async def test_run_timeout() -> None:
    async def agent(input, ctx):
        yield "slow"
        await asyncio.sleep(3600)

    events = await run_guard(agent, run_timeout=0.05)
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == "RUN_TIMEOUT"


async def test_sdk_events_and_dicts_are_accepted() -> None:
    async def agent(input, ctx):
        yield sdk.TextMessageStartEvent(message_id="m", role="assistant")
        yield {"type": "TEXT_MESSAGE_CONTENT", "messageId": "m", "delta": "from a dict"}
        yield sdk.TextMessageEndEvent(message_id="m")

    events = await run_guard(agent, strict=True)
    assert types(events) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert events[2]["delta"] == "from a dict"


async def test_something_that_is_not_an_event_is_a_protocol_error() -> None:
    async def agent(input, ctx):
        yield 42

    events = await run_guard(agent)
    assert events[-1]["code"] == "AGENT_PROTOCOL_ERROR"
    assert "not int" in events[-1]["message"]


async def test_agent_that_never_awaits_still_lets_other_tasks_run() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def agent(input, ctx):
        for _ in range(1000):
            yield "x"

    task = asyncio.create_task(ticker())
    await run_guard(agent)
    task.cancel()
    assert ticks > 5


async def test_an_agent_whose_run_fails_before_returning_its_stream_ends_the_run_with_agent_error() -> None:
    class Broken:
        def run(self, input: Any, ctx: Any) -> Any:
            raise RuntimeError("no stream for you")

    out: list[dict[str, Any]] = []
    guard = Guard(make_input(), RunContext(thread_id="t", run_id="r"), lambda data, _t: out.append(json.loads(data)))
    await guard.run(Broken())  # type: ignore[arg-type]
    assert types(out) == ["RUN_STARTED", "RUN_ERROR"]
    assert out[-1]["code"] == "AGENT_ERROR"
