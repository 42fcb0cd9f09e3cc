"""The OpenAI-compatible agent against a loopback fake of Chat Completions streaming.

Every run goes through the strict guard and a strict ordering machine (``run_guarded``); every request
the adapter sends is validated by the fake against the official SDK's request types.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agui_server import AGUIConfig, create_app
from agui_server.agents import errors
from agui_server.agents.base import RunContext
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.tools import ToolContext, ToolError, tool
from agui_server.protocol.encoding import decode_input
from agui_server.runs.guard import Guard
from tests.support import fake_openai as fo
from tests.support.fake_openai import run_guarded, types, user_input
from tests.support.server import free_port, running_server
from tests.support.sse import collect_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from tests.support.fake_openai import ScriptedUpstream

WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Look up the weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Upstream:
    def __init__(self, fake: ScriptedUpstream, base_url: str) -> None:
        self.fake = fake
        self.base_url = base_url

    def add(self, *scripts: fo.Script) -> Upstream:
        self.fake.add(*scripts)
        return self

    def agent(self, **options: Any) -> OpenAIAgent:
        options.setdefault("retry_backoff", 0.01)
        return OpenAIAgent(fo.MODEL, api_key=fo.API_KEY, base_url=self.base_url, **options)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.fake.requests]


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    fake = fo.openai_upstream()
    async with running_server(fake) as base:
        yield Upstream(fake, base + "/v1")
    assert fake.validation_errors == []


@tool
async def get_weather(city: str) -> dict[str, Any]:
    """The current weather in a city.

    Args:
        city: the city's name.
    """
    return {"city": city, "temperature": 21, "unit": "celsius"}


def by_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def args_of(events: list[dict[str, Any]], call_id: str) -> Any:
    return json.loads("".join(e["delta"] for e in by_type(events, "TOOL_CALL_ARGS") if e["toolCallId"] == call_id))


# --- text, reasoning, usage ------------------------------------------------------------------------


async def test_text_streams_as_one_assistant_message_with_usage(upstream: Upstream) -> None:
    upstream.add(fo.text(["Hel", "lo", "!"]))
    events = await run_guarded(upstream.agent(), user_input("Hi"))
    assert types(events) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert [e["delta"] for e in by_type(events, "TEXT_MESSAGE_CONTENT")] == ["Hel", "lo", "!"]
    assert events[1]["role"] == "assistant"
    assert events[-1]["usage"] == [
        {
            "provider": "openai",
            "model": fo.MODEL,
            "inputTokens": 12,
            "outputTokens": 5,
            "totalTokens": 17,
            "reasoningTokens": 0,
            "cachedInputTokens": 2,
        }
    ]
    body = upstream.bodies[0]
    assert body["model"] == fo.MODEL
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [{"role": "user", "content": "Hi"}]
    assert "tools" not in body


async def test_reasoning_content_streams_as_a_reasoning_span_before_the_answer(upstream: Upstream) -> None:
    upstream.add(fo.reasoning(["Let me", " think."], answer="42"))
    events = await run_guarded(upstream.agent(), user_input())
    assert types(events) == [
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
    reasoning_id = events[1]["messageId"]
    assert {e["messageId"] for e in events[1:7]} == {reasoning_id}
    assert reasoning_id != events[7]["messageId"]
    assert events[2]["role"] == "reasoning"
    assert events[-1]["usage"][0]["reasoningTokens"] == 6


async def test_a_server_without_usage_or_done_still_finishes(upstream: Upstream) -> None:
    upstream.add(fo.no_usage_no_done())
    events = await run_guarded(upstream.agent(stream_usage=False), user_input())
    assert types(events)[-1] == "RUN_FINISHED"
    assert "usage" not in events[-1]
    assert "stream_options" not in upstream.bodies[0]


# --- tool calls ----------------------------------------------------------------------------------


async def test_parallel_frontend_tool_calls_end_the_run_pending(upstream: Upstream) -> None:
    upstream.add(fo.parallel_tool_calls())
    events = await run_guarded(upstream.agent(), user_input(tools=[WEATHER_TOOL]))
    text_id = by_type(events, "TEXT_MESSAGE_START")[0]["messageId"]
    starts = by_type(events, "TOOL_CALL_START")
    assert [(s["toolCallId"], s["toolCallName"], s["parentMessageId"]) for s in starts] == [
        ("call_paris", "get_weather", text_id),
        ("call_rome", "get_weather", text_id),
    ]
    assert args_of(events, "call_paris") == {"city": "Paris"}
    assert args_of(events, "call_rome") == {"city": "Rome"}
    assert "TOOL_CALL_RESULT" not in types(events)
    assert types(events)[-3:] == ["TOOL_CALL_END", "TOOL_CALL_END", "RUN_FINISHED"]
    assert events[-1]["outcome"] == {"type": "success", "pendingToolCallIds": ["call_paris", "call_rome"]}
    assert upstream.bodies[0]["tools"] == [{"type": "function", "function": WEATHER_TOOL}]


async def test_a_pre_1_0_client_gets_no_pending_tool_call_ids(upstream: Upstream) -> None:
    upstream.add(fo.tool_call())
    body = user_input(tools=[WEATHER_TOOL])
    del body["protocolVersion"]
    events = await run_guarded(upstream.agent(), body)
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["outcome"] == {"type": "success"}


async def test_backend_tool_runs_on_the_server_and_the_loop_goes_on(upstream: Upstream) -> None:
    upstream.add(fo.tool_call("get_weather", '{"city": "Paris"}', "call_w"), fo.text(["It is 21 degrees."]))
    events = await run_guarded(upstream.agent(tools=[get_weather]), user_input())
    assert types(events) == [
        "RUN_STARTED",
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    result = by_type(events, "TOOL_CALL_RESULT")[0]
    assert result["toolCallId"] == "call_w"
    assert json.loads(result["content"]) == {"city": "Paris", "temperature": 21, "unit": "celsius"}
    assert result["messageId"] not in {e.get("messageId") for e in events if e is not result}
    assert (
        by_type(events, "TOOL_CALL_START")[0]["parentMessageId"]
        != by_type(events, "TEXT_MESSAGE_START")[0]["messageId"]
    )  # one assistant message per model turn
    assert "outcome" not in events[-1]
    assert events[-1]["usage"][0]["inputTokens"] == 20 + 12  # both turns counted
    first, second = upstream.bodies
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert first["tools"][0]["function"]["parameters"]["properties"]["city"] == {
        "type": "string",
        "description": "the city's name.",
    }
    assert second["messages"][1:] == [
        {
            "role": "assistant",  # no "content": null beside tool calls (llama-cpp-python's server refuses it)
            "tool_calls": [
                {
                    "id": "call_w",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_w", "name": "get_weather", "content": result["content"]},
    ]


async def test_a_tool_that_raises_becomes_a_result_the_model_sees(upstream: Upstream) -> None:
    @tool
    def flaky(city: str) -> str:
        raise ToolError(f"no weather station in {city}")

    @tool
    async def broken(city: str) -> str:
        raise RuntimeError("database down")

    upstream.add(
        fo.tool_call("flaky", '{"city": "Atlantis"}', "call_f"),
        fo.tool_call("broken", '{"city": "Rome"}', "call_b"),
        fo.tool_call("missing", "{}", "call_m"),
        fo.tool_call("flaky", '{"town": 3}', "call_bad"),
        fo.text(["Sorry."]),
    )
    events = await run_guarded(upstream.agent(tools=[flaky, broken]), user_input())
    results = {e["toolCallId"]: e["content"] for e in by_type(events, "TOOL_CALL_RESULT")}
    assert results["call_f"] == "Error: no weather station in Atlantis"
    assert results["call_b"] == "Error: The tool broken failed: RuntimeError: database down"
    assert results["call_m"].startswith("Error: There is no tool named 'missing'. Available tools: broken, flaky")
    assert results["call_bad"].startswith("Error: Invalid arguments for the tool flaky")
    assert events[-1]["type"] == "RUN_FINISHED"
    tool_messages = [m for m in upstream.bodies[-1]["messages"] if m["role"] == "tool"]
    assert tool_messages[0] == {
        "role": "tool",
        "tool_call_id": "call_f",
        "name": "flaky",
        "content": "Error: no weather station in Atlantis",
    }


async def test_a_long_tool_reports_progress_and_steps(upstream: Upstream) -> None:
    @tool
    async def forecast(city: str, ctx: ToolContext) -> str:
        async with ctx.step("download"):
            ctx.progress("fetching", fraction=0.5)
        ctx.progress("done", fraction=1.0)
        return "sunny"

    upstream.add(fo.tool_call("forecast", '{"city": "Paris"}', "call_p"), fo.text(["Sunny."]))
    events = await run_guarded(upstream.agent(tools=[forecast]), user_input())
    middle = types(events)[types(events).index("TOOL_CALL_END") + 1 : types(events).index("TOOL_CALL_RESULT")]
    assert middle == ["STEP_STARTED", "ACTIVITY_SNAPSHOT", "STEP_FINISHED", "ACTIVITY_SNAPSHOT"]
    activities = by_type(events, "ACTIVITY_SNAPSHOT")
    assert activities[0]["activityType"] == "tool-progress"
    assert activities[0]["messageId"] == activities[1]["messageId"]
    assert activities[1]["content"] == {
        "toolCallId": "call_p",
        "toolName": "forecast",
        "message": "done",
        "fraction": 1.0,
    }
    assert by_type(events, "STEP_STARTED")[0]["stepName"] == "download"
    assert "ctx" not in upstream.bodies[0]["tools"][0]["function"]["parameters"]["properties"]


async def test_the_tool_loop_is_bounded(upstream: Upstream) -> None:
    upstream.add(fo.tool_call(call_id="c1"), fo.tool_call(call_id="c2"))
    events = await run_guarded(upstream.agent(tools=[get_weather], max_tool_turns=1), user_input())
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == errors.TOOL_TURNS_EXCEEDED
    assert len(by_type(events, "TOOL_CALL_RESULT")) == 1
    assert events[-1]["usage"][0]["inputTokens"] == 40


async def test_the_legacy_function_call_is_a_tool_call(upstream: Upstream) -> None:
    upstream.add(fo.legacy_function_call())
    events = await run_guarded(upstream.agent(), user_input(tools=[WEATHER_TOOL]))
    start = by_type(events, "TOOL_CALL_START")[0]
    assert start["toolCallName"] == "get_weather"
    assert args_of(events, start["toolCallId"]) == {"city": "Oslo"}
    assert events[-1]["outcome"]["pendingToolCallIds"] == [start["toolCallId"]]


# --- finish reasons ----------------------------------------------------------------------------


async def test_length_ends_the_run_with_the_stop_reason(upstream: Upstream) -> None:
    upstream.add(fo.finish("length"))
    events = await run_guarded(upstream.agent(), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"] == {"stopReason": "length"}


async def test_length_inside_a_tool_call_fails_the_run(upstream: Upstream) -> None:
    upstream.add(fo.truncated_tool_call())
    events = await run_guarded(upstream.agent(), user_input(tools=[WEATHER_TOOL]))
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == errors.OUTPUT_TRUNCATED
    assert "TOOL_CALL_END" not in types(events)  # its arguments are not JSON: the call is never completed


async def test_content_filter_fails_the_run(upstream: Upstream) -> None:
    upstream.add(fo.finish("content_filter"))
    events = await run_guarded(upstream.agent(), user_input())
    assert types(events)[-2:] == ["TEXT_MESSAGE_END", "RUN_ERROR"]
    assert events[-1]["code"] == errors.CONTENT_FILTERED


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "code", "phrase"),
    [
        ("unauthorized", errors.UPSTREAM_AUTH_FAILED, "rejected the server's credentials (HTTP 401"),
        ("rate_limited", errors.UPSTREAM_RATE_LIMITED, "Retry after 7 seconds."),
        ("unavailable", errors.UPSTREAM_UNAVAILABLE, "unavailable (HTTP 503"),
        ("context_too_long", errors.CONTEXT_TOO_LONG, "too long for the model's context window"),
        ("malformed", errors.UPSTREAM_MALFORMED_STREAM, "could not be read"),
        ("cut_off", errors.UPSTREAM_MALFORMED_STREAM, "ended before the answer was complete"),
        ("stream_error", errors.UPSTREAM_UNAVAILABLE, "its stream reported an error"),
    ],
)
async def test_each_failure_has_its_code_and_no_secret(upstream: Upstream, script: str, code: str, phrase: str) -> None:
    upstream.add(fo.SCRIPTS[script]())
    events = await run_guarded(upstream.agent(max_retries=0), user_input())
    error = events[-1]
    assert error["type"] == "RUN_ERROR"
    assert error["code"] == code
    assert phrase in error["message"]
    text = json.dumps(events)
    assert fo.API_KEY not in text
    assert fo.API_KEY[-4:] not in text
    assert "Incorrect API key" not in text
    assert "maximum context length" not in text
    if script == "rate_limited":
        assert error["metadata"] == {"retryAfterSeconds": 7}


async def test_a_silent_upstream_times_out(upstream: Upstream) -> None:
    upstream.add(fo.slow(1.0))
    events = await run_guarded(upstream.agent(read_timeout=0.2, max_retries=0), user_input())
    assert events[-1]["code"] == errors.UPSTREAM_TIMEOUT
    assert "0.2 seconds" in events[-1]["message"]
    await asyncio.wait_for(upstream.fake.disconnected.wait(), 2)  # the abandoned request was closed


async def test_the_whole_run_has_a_time_limit(upstream: Upstream) -> None:
    upstream.add(fo.slow(1.0))
    events = await run_guarded(upstream.agent(run_timeout=0.2), user_input())
    assert events[-1]["code"] == errors.RUN_TIMEOUT


async def test_an_unreachable_upstream_is_unavailable() -> None:
    agent = OpenAIAgent(
        fo.MODEL, api_key=fo.API_KEY, base_url=f"http://127.0.0.1:{free_port()}/v1", max_retries=1, retry_backoff=0.01
    )
    events = await run_guarded(agent, user_input())
    assert events[-1]["code"] == errors.UPSTREAM_UNAVAILABLE
    assert events[-1]["message"] == "Could not connect to the model provider. Retry later."


# --- retries -------------------------------------------------------------------------------------


async def test_rate_limits_and_5xx_are_retried_before_the_first_token(upstream: Upstream) -> None:
    upstream.add(fo.rate_limited(retry_after="0"), fo.unavailable(), fo.text())
    events = await run_guarded(upstream.agent(max_retries=2), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert len(upstream.bodies) == 3
    assert types(events).count("TEXT_MESSAGE_START") == 1


async def test_a_retry_after_longer_than_the_limit_is_not_waited_for(upstream: Upstream) -> None:
    upstream.add(fo.rate_limited(retry_after="120"))
    events = await run_guarded(upstream.agent(max_retries=2, max_retry_wait=5), user_input())
    assert events[-1]["code"] == errors.UPSTREAM_RATE_LIMITED
    assert "Retry after 120 seconds." in events[-1]["message"]
    assert len(upstream.bodies) == 1


async def test_no_retry_once_a_token_reached_the_client(upstream: Upstream) -> None:
    upstream.add(fo.cut_off(), fo.text())
    events = await run_guarded(upstream.agent(max_retries=2), user_input())
    assert events[-1]["code"] == errors.UPSTREAM_MALFORMED_STREAM
    assert len(upstream.bodies) == 1
    assert "I was about to" in [e.get("delta") for e in events]


async def test_an_early_stream_error_is_retried(upstream: Upstream) -> None:
    upstream.add(fo.stream_error(), fo.text())
    events = await run_guarded(upstream.agent(max_retries=1), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert len(upstream.bodies) == 2


# --- the conversation sent upstream --------------------------------------------------------------


async def test_every_ag_ui_role_maps_to_chat_completions(upstream: Upstream) -> None:
    upstream.add(fo.text())
    body = user_input(
        messages=[
            {"id": "s", "role": "system", "content": "Be brief."},
            {"id": "d", "role": "developer", "content": "Use metric units."},
            {
                "id": "u1",
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image", "source": {"type": "url", "value": "https://example.com/cat.png"}},
                    {"type": "image", "source": {"type": "data", "value": "aGVsbG8=", "mimeType": "image/png"}},
                ],
            },
            {"id": "r", "role": "reasoning", "content": "private thoughts"},
            {
                "id": "a1",
                "role": "assistant",
                "content": "Let me check.",
                "toolCalls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
            },
            {"id": "x", "role": "activity", "activityType": "progress", "content": {"n": 1}},
            {"id": "t1", "role": "tool", "toolCallId": "c1", "content": "a cat"},
            {"id": "u2", "role": "user", "content": "Thanks"},
        ],
        context=[{"description": "User's city", "value": "Paris"}],
    )
    await run_guarded(upstream.agent(instructions="You are helpful."), body)
    assert upstream.bodies[0]["messages"] == [
        {"role": "system", "content": "You are helpful."},
        {"role": "system", "content": "Context provided by the application:\n\nUser's city:\nParis"},
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use metric units."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGVsbG8="}},
            ],
        },
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "lookup", "content": "a cat"},
        {"role": "user", "content": "Thanks"},
    ]


# --- over HTTP: the frontend tool round trip, and a disconnect -----------------------------------


async def _collect(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    response, events, _ = await collect_events(client, url, body)
    assert response.status_code == 200
    return events


async def test_frontend_tool_round_trip_over_two_requests(upstream: Upstream) -> None:
    upstream.add(fo.tool_call("get_weather", '{"city": "Paris"}', "call_fe"), fo.text(["It is sunny in Paris."]))
    app = create_app(AGUIConfig(agent=upstream.agent(), strict=True))
    first = user_input(tools=[WEATHER_TOOL], threadId="thread-rt", runId="run-a")
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        events = await _collect(client, base + "/ag-ui", first)
        assert types(events)[-1] == "RUN_FINISHED"
        start = by_type(events, "TOOL_CALL_START")[0]
        assert "TOOL_CALL_RESULT" not in types(events)
        second = {
            **first,
            "runId": "run-b",
            "messages": [
                *first["messages"],
                {
                    "id": start["parentMessageId"],
                    "role": "assistant",
                    "toolCalls": [
                        {
                            "id": start["toolCallId"],
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": json.dumps(args_of(events, "call_fe"))},
                        }
                    ],
                },
                {"id": "tool-1", "role": "tool", "toolCallId": "call_fe", "content": '{"sky": "sunny"}'},
            ],
        }
        events = await _collect(client, base + "/ag-ui", second)
    assert [e["delta"] for e in by_type(events, "TEXT_MESSAGE_CONTENT")] == ["It is sunny in Paris."]
    assert events[-1]["type"] == "RUN_FINISHED"
    sent = upstream.bodies[1]["messages"]
    assert sent[-2]["tool_calls"][0]["id"] == "call_fe"
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_fe", "name": "get_weather", "content": '{"sky": "sunny"}'}


async def test_cancelling_the_run_closes_the_upstream_request_at_once(
    upstream: Upstream, record_property: Callable[[str, object], None]
) -> None:
    """The run's task is cancelled (what a client disconnect does): the fake upstream sees its client go,
    and the shared httpx client keeps no connection."""
    upstream.add(fo.hang_after_text())
    http_client = httpx.AsyncClient(timeout=httpx.Timeout(10, connect=5))
    agent = upstream.agent(http_client=http_client)
    run_input = decode_input(json.dumps(user_input()).encode())
    first_text = asyncio.Event()
    out: list[dict[str, Any]] = []

    def sink(data: bytes, event_type: str) -> None:
        out.append(json.loads(data))
        if event_type == "TEXT_MESSAGE_CONTENT":
            first_text.set()

    guard = Guard(run_input, RunContext(thread_id="thread-1", run_id="run-1"), sink, strict=True)
    before = asyncio.all_tasks()
    task = asyncio.create_task(guard.run(agent))
    await asyncio.wait_for(first_text.wait(), 5)
    started = time.perf_counter()
    task.cancel()
    await asyncio.wait_for(upstream.fake.disconnected.wait(), 2)  # generous for CI; measured: well under 1 ms
    elapsed_ms = (upstream.fake.disconnect_times[0] - started) * 1000
    record_property("upstream_close_ms", round(elapsed_ms, 2))
    print(f"\n[llm-disconnect] openai: upstream saw the client go {elapsed_ms:.1f} ms after the run was cancelled")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert out[-1]["type"] == "RUN_FINISHED"
    assert out[-1]["outcome"] == {"type": "cancelled"}
    assert http_client._transport._pool.connections == []  # type: ignore[attr-defined]
    await http_client.aclose()
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()


async def test_a_client_disconnect_closes_the_upstream_request(
    upstream: Upstream, record_property: Callable[[str, object], None]
) -> None:
    """Real sockets end to end: the browser goes away, the fake upstream sees its own client go."""

    upstream.add(fo.hang_after_text())
    app = create_app(AGUIConfig(agent=upstream.agent(), strict=True))
    async with running_server(app) as base:
        before = asyncio.all_tasks()
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("POST", base + "/ag-ui", json=user_input()) as response:
                async for line in response.aiter_lines():
                    if "TEXT_MESSAGE_CONTENT" in line:
                        break
                started = time.perf_counter()
        await asyncio.wait_for(upstream.fake.disconnected.wait(), 2)  # generous for CI; measured: ~1 ms
        elapsed_ms = (upstream.fake.disconnect_times[0] - started) * 1000
        record_property("upstream_close_ms", round(elapsed_ms, 2))
        print(
            f"\n[llm-disconnect] openai over HTTP: upstream saw the client go {elapsed_ms:.1f} ms after the disconnect"
        )
        for _ in range(100):  # the server's tasks for that request wind down
            if not {t for t in asyncio.all_tasks() - before if not t.done()}:
                break
            await asyncio.sleep(0.02)
        assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()
    assert upstream.fake.active == 0
