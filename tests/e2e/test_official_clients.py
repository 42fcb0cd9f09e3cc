"""The official AG-UI TypeScript clients against the live server.

Each test serves an app with uvicorn on loopback and runs ``tests/node/run_client.mjs``, which drives
``HttpAgent.runAgent()`` from ``@ag-ui/client`` 1.0.0 (``v1``) or 0.0.59 (``v0``, the version CopilotKit
ships) and reports what the client made of the stream: whether the run resolved, every event its
subscriber saw, every ``console.warn``/``console.error`` it printed, and its assembled ``messages`` and
``state``. The tests hold the client to zero warnings: anything the official client complains about is a
server bug.

Needs ``node`` and ``(cd tests/node && npm ci)``; CI installs both, so their absence fails the tests.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import agui_server
from agui_server.agents.offline import example_for_schema, reply_for
from agui_server.protocol import (
    ReasoningEndEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    decode_input,
)
from tests.support.server import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server import RunAgentInput, RunContext

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
RUN_CLIENT = NODE_DIR / "run_client.mjs"
CLIENT_PACKAGES = {"v1": ("agui-client-v1", "1.0.0"), "v0": ("agui-client-v0", "0.0.59")}
CLIENT_TIMEOUT = 45.0  # seconds for one node process; run_client.mjs bounds the run itself at 20 s
SETUP_HINT = "install Node.js 20+ and npm (apt-get install nodejs npm); pytest then runs `npm ci` in tests/node"

WEATHER_TOOL: dict[str, Any] = {
    "name": "get_weather",
    "description": "Look up the weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city."},
            "days": {"type": "integer", "minimum": 1},
        },
        "required": ["city", "days"],
    },
}


# --- running the client ---------------------------------------------------------------------------


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"`node` is not on PATH, so the official @ag-ui/client tests cannot run: {SETUP_HINT}")
    return node


def _check_installed(version: str) -> None:
    package, expected = CLIENT_PACKAGES[version]
    manifest = NODE_DIR / "node_modules" / package / "package.json"
    if not manifest.is_file():
        pytest.fail(f"{package} (@ag-ui/client {expected}) is not installed in {NODE_DIR}: {SETUP_HINT}")
    installed = json.loads(manifest.read_text(encoding="utf-8"))["version"]
    if installed != expected:
        pytest.fail(f"{package} is @ag-ui/client {installed}, expected {expected}: {SETUP_HINT}")


@pytest.fixture(params=["v1", "v0"])
def client(request: pytest.FixtureRequest) -> str:
    """The official client to run: ``v1`` (@ag-ui/client 1.0.0) or ``v0`` (0.0.59, CopilotKit's)."""
    version: str = request.param
    return version


async def run_client(version: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Run ``HttpAgent.runAgent()`` of the chosen official client against ``url``; return its report.

    Fails the test (never skips it) when ``node`` or the installed clients are missing.
    """
    node = _node()
    _check_installed(version)
    process = await asyncio.create_subprocess_exec(
        node,
        str(RUN_CLIENT),
        version,
        url,
        "-",
        cwd=NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(json.dumps(payload).encode()), timeout=CLIENT_TIMEOUT
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"run_client.mjs {version} did not finish within {CLIENT_TIMEOUT:g} s")
    out = stdout.decode("utf-8")
    err = stderr.decode("utf-8", "replace")
    lines = out.splitlines()
    assert process.returncode == 0, f"run_client.mjs exited {process.returncode}\nstdout: {out}\nstderr: {err}"
    assert len(lines) == 1, f"run_client.mjs must print exactly one JSON line\nstdout: {out}\nstderr: {err}"
    report: dict[str, Any] = json.loads(lines[0])
    report["stderr"] = err
    return report


def user_input(text: str, **extra: Any) -> dict[str, Any]:
    """A request as a test gives it to run_client.mjs: one user message, fresh thread and run ids."""
    run_id = f"run-{uuid.uuid4().hex[:12]}"
    payload: dict[str, Any] = {
        "threadId": f"thread-{uuid.uuid4().hex[:12]}",
        "runId": run_id,
        "messages": [{"id": f"user-{run_id}", "role": "user", "content": text}],
    }
    payload.update(extra)
    return payload


def as_server_input(payload: dict[str, Any]) -> RunAgentInput:
    """The RunAgentInput the server decodes from what the client sends for ``payload``."""
    body = {
        "threadId": payload["threadId"],
        "runId": payload["runId"],
        "messages": payload["messages"],
        "tools": payload.get("tools", []),
        "context": payload.get("context", []),
        "state": payload.get("state", {}),
        "forwardedProps": payload.get("forwardedProps", {}),
    }
    return decode_input(json.dumps(body).encode())


def summary(report: dict[str, Any]) -> str:
    shown = {key: report.get(key) for key in ("client", "ok", "error", "warnings", "failed", "runErrors", "events")}
    return json.dumps(shown, ensure_ascii=False, indent=1)


def assert_clean_run(report: dict[str, Any]) -> None:
    """The client resolved the run, saw no error, printed nothing and saw exactly one successful run."""
    assert report["ok"] is True, summary(report)
    assert report["error"] is None, summary(report)
    assert report["warnings"] == [], summary(report)
    assert report["logs"] == [], summary(report)
    assert report["failed"] == [], summary(report)
    assert report["runErrors"] == [], summary(report)
    assert report["stderr"] == "", summary(report)
    assert report["events"][0] == "RUN_STARTED", summary(report)
    assert report["events"][-1] == "RUN_FINISHED", summary(report)
    assert report["events"].count("RUN_FINISHED") == 1, summary(report)
    assert report["runFinished"] is not None, summary(report)
    assert report["runFinished"]["outcome"] == "success", summary(report)


def new_messages(report: dict[str, Any], payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages the run added to the client's history; the request's own come back unchanged."""
    sent = payload["messages"]
    assert report["messages"][: len(sent)] == sent, summary(report)
    return list(report["messages"][len(sent) :])


def app_for(agent: Any = None) -> Any:
    return agui_server.create_app(agui_server.AGUIConfig(agent=agent, strict=True))


async def run_against(version: str, payload: dict[str, Any], agent: Any = None) -> dict[str, Any]:
    async with running_server(app_for(agent)) as base:
        return await run_client(version, f"{base}/ag-ui", payload)


# --- the built-in offline agent ---------------------------------------------------------------------


async def test_offline_agent_reply(client: str) -> None:
    payload = user_input("What can you do?")
    report = await run_against(client, payload)

    assert_clean_run(report)
    assert report["client"]["packageVersion"] == CLIENT_PACKAGES[client][1]
    added = new_messages(report, payload)
    assert len(added) == 1, added
    message = added[0]
    assert message["role"] == "assistant"
    assert message["content"] == reply_for(as_server_input(payload))
    assert not message.get("toolCalls")
    assert report["newMessages"] == added
    assert set(report["events"]) == {
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    }
    started = report["eventObjects"][0]
    assert (started["threadId"], started["runId"]) == (payload["threadId"], payload["runId"])


async def test_offline_agent_calls_frontend_tool(client: str) -> None:
    payload = user_input("What is the weather in Lisbon?", tools=[WEATHER_TOOL])
    report = await run_against(client, payload)

    assert_clean_run(report)
    added = new_messages(report, payload)
    assert len(added) == 1, added  # the tool call sits in the assistant text message (parentMessageId)
    message = added[0]
    assert message["role"] == "assistant"
    assert message["content"] == reply_for(as_server_input(payload))
    calls = message["toolCalls"]
    assert len(calls) == 1, calls
    call = calls[0]
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    arguments = json.loads(call["function"]["arguments"])
    assert arguments == example_for_schema(WEATHER_TOOL["parameters"])
    assert set(arguments) == {"city", "days"}
    # A frontend tool: the run ends for the client to run it, with no TOOL_CALL_RESULT.
    assert "TOOL_CALL_RESULT" not in report["events"]
    assert report["events"][-4:] == ["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_FINISHED"]
    start = next(e for e in report["eventObjects"] if e["type"] == "TOOL_CALL_START")
    assert start["parentMessageId"] == message["id"]
    assert start["toolCallId"] == call["id"]
    if client == "v1":  # 1.0 derives the calls left for the application from the stream
        assert report["runFinished"]["pendingToolCallIds"] == [call["id"]]
    else:  # 0.0.59 knows no pendingToolCallIds; the server must not have sent any
        finished = report["eventObjects"][-1]
        assert "pendingToolCallIds" not in json.dumps(finished)


async def test_offline_agent_reads_tool_result_next_turn(client: str) -> None:
    """The frontend-tool round trip: the client's history plus the tool's result, sent back."""
    first = user_input("Weather in Porto, please.", tools=[WEATHER_TOOL])
    async with running_server(app_for()) as base:
        report = await run_client(client, f"{base}/ag-ui", first)
        assert_clean_run(report)
        call = report["messages"][-1]["toolCalls"][0]
        run_id = f"run-{uuid.uuid4().hex[:12]}"
        tool_message = {"id": f"tool-{run_id}", "role": "tool", "toolCallId": call["id"], "content": "Sunny, 24 °C"}
        second = {
            "threadId": first["threadId"],
            "runId": run_id,
            "messages": [*report["messages"], tool_message],
            "tools": [WEATHER_TOOL],
        }
        follow_up = await run_client(client, f"{base}/ag-ui", second)

    assert_clean_run(follow_up)
    added = new_messages(follow_up, second)
    assert len(added) == 1, added
    expected = reply_for(as_server_input(second))
    assert expected.startswith("The tool get_weather returned: Sunny, 24 °C")
    assert added[0]["role"] == "assistant"
    assert added[0]["content"] == expected
    assert not added[0].get("toolCalls")  # answered: no second call
    assert "TOOL_CALL_START" not in follow_up["events"]


async def test_unicode_round_trip(client: str) -> None:
    text = "你好，世界！🌍🚀 Ünïcödé — 日本語テキスト 👩‍👩‍👧‍👦 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"  # noqa: RUF001 (full-width, Fraktur on purpose)
    payload = user_input(text)
    report = await run_against(client, payload)

    assert_clean_run(report)
    assert report["messages"][0]["content"] == text
    added = new_messages(report, payload)
    assert len(added) == 1, added
    assert added[0]["content"] == reply_for(as_server_input(payload))
    assert text in added[0]["content"]


# --- custom agents ------------------------------------------------------------------------------------


async def test_string_agent(client: str) -> None:
    seen: list[tuple[str | None, bool]] = []

    async def agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[str]:
        seen.append((input.protocol_version, ctx.legacy_client))
        yield "Hello"
        yield ", "
        yield "world"
        yield "!"

    payload = user_input("hi")
    report = await run_against(client, payload, agent)

    assert_clean_run(report)
    added = new_messages(report, payload)
    assert len(added) == 1, added
    assert added[0]["role"] == "assistant"
    assert added[0]["content"] == "Hello, world!"
    # 1.0 clients send protocolVersion; 0.0.59 does not, and the server treats it as a legacy client.
    assert seen == ([("1.0", False)] if client == "v1" else [(None, True)])
    started = report["eventObjects"][0]
    assert started.get("protocolVersion") == ("1.0" if client == "v1" else None)


async def test_string_agent_long_multibyte_text(client: str) -> None:
    """Many multi-byte pieces: the client's streaming UTF-8 decoding across network chunks."""
    pieces = [f"第{i}段：你好🌏🎉́ é ß ✓ — " for i in range(1500)]  # noqa: RUF001 (full-width colon on purpose)

    async def agent(input: RunAgentInput) -> AsyncIterator[str]:
        for piece in pieces:
            yield piece

    payload = user_input("long")
    report = await run_against(client, payload, agent)

    assert_clean_run(report)
    added = new_messages(report, payload)
    assert len(added) == 1, [m.get("role") for m in added]
    assert added[0]["content"] == "".join(pieces)


async def test_text_events_and_several_messages(client: str) -> None:
    async def agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[Any]:
        first, second = ctx.new_id("msg"), ctx.new_id("msg")
        yield TextMessageStartEvent(message_id=first, role="assistant")
        yield TextMessageContentEvent(message_id=first, delta="First ")
        yield TextMessageContentEvent(message_id=first, delta="message.")
        yield TextMessageEndEvent(message_id=first)
        yield "Second message."
        yield TextMessageStartEvent(message_id=second, role="assistant")
        yield TextMessageContentEvent(message_id=second, delta="Third message.")
        yield TextMessageEndEvent(message_id=second)

    payload = user_input("three please")
    report = await run_against(client, payload, agent)

    assert_clean_run(report)
    added = new_messages(report, payload)
    assert [(m["role"], m["content"]) for m in added] == [
        ("assistant", "First message."),
        ("assistant", "Second message."),
        ("assistant", "Third message."),
    ]
    assert len({m["id"] for m in added}) == 3


async def test_steps_and_state(client: str) -> None:
    async def agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[Any]:
        yield StepStartedEvent(step_name="plan")
        yield StateSnapshotEvent(snapshot={"count": input.state["count"], "items": [], "status": "planning"})
        yield StepFinishedEvent(step_name="plan")
        yield StepStartedEvent(step_name="act")
        yield StateDeltaEvent(
            delta=[
                {"op": "replace", "path": "/count", "value": input.state["count"] + 1},
                {"op": "add", "path": "/items/-", "value": "café ☕"},
                {"op": "replace", "path": "/status", "value": "done"},
                {"op": "add", "path": "/nested", "value": {"ok": True}},
            ]
        )
        yield "State updated."
        yield StepFinishedEvent(step_name="act")

    payload = user_input("count up", state={"count": 41, "before": "kept?"})
    report = await run_against(client, payload, agent)

    assert_clean_run(report)
    assert report["state"] == {"count": 42, "items": ["café ☕"], "status": "done", "nested": {"ok": True}}
    assert [e for e in report["events"] if e.startswith(("STEP", "STATE"))] == [
        "STEP_STARTED",
        "STATE_SNAPSHOT",
        "STEP_FINISHED",
        "STEP_STARTED",
        "STATE_DELTA",
        "STEP_FINISHED",
    ]
    added = new_messages(report, payload)
    assert [(m["role"], m["content"]) for m in added] == [("assistant", "State updated.")]


async def test_state_delta_on_request_state(client: str) -> None:
    """A delta with no snapshot in the run patches the state the request carried."""

    async def agent(input: RunAgentInput) -> AsyncIterator[Any]:
        yield StateDeltaEvent(delta=[{"op": "add", "path": "/seen", "value": input.state["greeting"]}])

    payload = user_input("hi", state={"greeting": "привет 👋"})
    report = await run_against(client, payload, agent)

    assert_clean_run(report)
    assert report["state"] == {"greeting": "привет 👋", "seen": "привет 👋"}
    assert new_messages(report, payload) == []


def _reasoning_agent() -> Any:
    async def agent(input: RunAgentInput, ctx: RunContext) -> AsyncIterator[Any]:
        span, message = ctx.new_id("reasoning"), ctx.new_id("thought")
        yield ReasoningStartEvent(message_id=span)
        yield ReasoningMessageStartEvent(message_id=message)
        yield ReasoningMessageContentEvent(message_id=message, delta="Let me think")
        yield ReasoningMessageContentEvent(message_id=message, delta=" about 🤔.")
        yield ReasoningMessageEndEvent(message_id=message)
        yield ReasoningEndEvent(message_id=span)
        yield "The answer is 42."

    return agent


async def test_reasoning(client: str) -> None:
    """REASONING_* events: 1.0 verifies their pairing; 0.0.59 knows the types too (it enforces pairing
    only for the old THINKING_* events) and assembles the same ``reasoning`` message, without warnings."""
    payload = user_input("think first")
    report = await run_against(client, payload, _reasoning_agent())

    assert_clean_run(report)
    assert report["events"] == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    added = new_messages(report, payload)
    assert [(m["role"], m["content"]) for m in added] == [
        ("reasoning", "Let me think about 🤔."),
        ("assistant", "The answer is 42."),
    ]


async def test_context_and_forwarded_props_reach_agent(client: str) -> None:
    async def agent(input: RunAgentInput) -> AsyncIterator[str]:
        assert input.context is not None
        described = ", ".join(f"{c.description}={c.value}" for c in input.context)
        yield f"context: {described}; forwarded: {json.dumps(input.forwarded_props, sort_keys=True)}"

    payload = user_input(
        "what do you know?",
        context=[{"description": "user", "value": "Ada"}, {"description": "locale", "value": "zh-CN"}],
        forwardedProps={"copilotkit": {"mode": "test"}, "n": 3},
    )
    report = await run_against(client, payload, agent)

    assert_clean_run(report)
    added = new_messages(report, payload)
    assert [m["content"] for m in added] == [
        'context: user=Ada, locale=zh-CN; forwarded: {"copilotkit": {"mode": "test"}, "n": 3}'
    ]


async def test_offline_agent_empty_history(client: str) -> None:
    payload = user_input("unused")
    payload["messages"] = []
    report = await run_against(client, payload)

    assert_clean_run(report)
    added = new_messages(report, payload)
    assert [(m["role"], m["content"]) for m in added] == [("assistant", reply_for(as_server_input(payload)))]


# --- the harness itself: a failing run or a client warning is seen --------------------------------


async def test_harness_reports_client_warnings(client: str) -> None:
    """A patch that cannot apply makes both clients warn ("Failed to apply state patch"); the harness
    must catch that, or the zero-warning assertions above would prove nothing."""

    async def agent(input: RunAgentInput) -> AsyncIterator[Any]:
        yield StateDeltaEvent(delta=[{"op": "replace", "path": "/missing/deep", "value": 1}])

    payload = user_input("warn", state={"present": True})
    report = await run_against(client, payload, agent)

    assert report["ok"] is True, summary(report)
    assert report["state"] == {"present": True}
    assert any("Failed to apply state patch" in w for w in report["warnings"]), summary(report)


async def test_harness_reports_failed_run(client: str) -> None:
    payload = user_input("nowhere")
    async with running_server(app_for()) as base:
        report = await run_client(client, f"{base}/no-such-endpoint", payload)

    assert report["ok"] is False, summary(report)
    assert report["error"] is not None
    assert "HTTP 404" in report["error"] or "HTTP 405" in report["error"], report["error"]
    assert report["failed"], summary(report)


# --- failures ----------------------------------------------------------------------------------------

SECRET = "db-password-hunter2-do-not-leak"


def _assert_agent_error(report: dict[str, Any]) -> None:
    """RUN_ERROR with the stable code reaches the client; the exception text does not."""
    # The official clients treat RUN_ERROR as the run's terminal event: onRunErrorEvent fires and
    # runAgent() resolves (it does not reject), with no warning.
    assert report["ok"] is True, summary(report)
    assert report["error"] is None, summary(report)
    assert report["warnings"] == [], summary(report)
    assert report["failed"] == [], summary(report)
    assert report["stderr"] == "", summary(report)
    assert report["events"][0] == "RUN_STARTED"
    assert report["events"][-1] == "RUN_ERROR"
    assert "RUN_FINISHED" not in report["events"]
    assert report["runFinished"] is None
    assert len(report["runErrors"]) == 1, summary(report)
    error = report["runErrors"][0]
    assert error["code"] == "AGENT_ERROR"
    assert error["message"]
    assert SECRET not in json.dumps(report, ensure_ascii=False)
    assert "RuntimeError" not in json.dumps(report, ensure_ascii=False)


async def test_agent_error_before_output(client: str, caplog: pytest.LogCaptureFixture) -> None:
    async def agent(input: RunAgentInput) -> AsyncIterator[str]:
        if input.run_id:  # always: the agent fails before its first output
            raise RuntimeError(SECRET)
        yield "never sent"

    payload = user_input("fail please")
    report = await run_against(client, payload, agent)

    _assert_agent_error(report)
    assert report["events"] == ["RUN_STARTED", "RUN_ERROR"]
    assert new_messages(report, payload) == []
    assert SECRET in caplog.text  # the exception goes to the server log, not to the client


async def test_agent_error_mid_message(client: str) -> None:
    async def agent(input: RunAgentInput) -> AsyncIterator[str]:
        yield "Partial answer "
        yield "before the crash"
        raise RuntimeError(SECRET)

    payload = user_input("fail halfway")
    report = await run_against(client, payload, agent)

    _assert_agent_error(report)
    added = new_messages(report, payload)
    assert [(m["role"], m["content"]) for m in added] == [("assistant", "Partial answer before the crash")]
