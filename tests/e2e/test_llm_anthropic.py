"""The Anthropic agent against a loopback fake of Messages streaming.

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
from agui_server.agents._llm_anthropic_input import REDACTED_PREFIX
from agui_server.agents.anthropic import AnthropicAgent
from agui_server.agents.tools import tool
from tests.support import fake_anthropic as fa
from tests.support.fake_openai import run_guarded, types, user_input
from tests.support.server import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from tests.support.fake_openai import Script, ScriptedUpstream

CONFIRM_TOOL = {
    "name": "confirm",
    "description": "Ask the user to confirm an action.",
    "parameters": {"type": "object", "properties": {"action": {"type": "string"}}, "required": ["action"]},
}
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Look up the weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


class Upstream:
    def __init__(self, fake: ScriptedUpstream, base_url: str) -> None:
        self.fake = fake
        self.base_url = base_url

    def add(self, *scripts: Script) -> Upstream:
        self.fake.add(*scripts)
        return self

    def agent(self, **options: Any) -> AnthropicAgent:
        options.setdefault("retry_backoff", 0.01)
        return AnthropicAgent(fa.MODEL, api_key=fa.API_KEY, base_url=self.base_url, **options)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.fake.requests]


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    fake = fa.anthropic_upstream()
    async with running_server(fake) as base:
        yield Upstream(fake, base)
    assert fake.validation_errors == []


@tool
async def get_weather(city: str) -> dict[str, Any]:
    """The current weather in a city.

    Args:
        city: the city's name.
    """
    return {"city": city, "temperature": 21}


def by_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def args_of(events: list[dict[str, Any]], call_id: str) -> Any:
    return json.loads("".join(e["delta"] for e in by_type(events, "TOOL_CALL_ARGS") if e["toolCallId"] == call_id))


# --- text, usage, stop reasons -------------------------------------------------------------------


async def test_text_streams_with_usage_and_headers(upstream: Upstream) -> None:
    upstream.add(fa.text(["Hel", "lo"]))
    events = await run_guarded(upstream.agent(instructions="Be brief."), user_input("Hi"))
    assert types(events) == [
        "RUN_STARTED",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    assert events[-1]["usage"] == [
        {
            "provider": "anthropic",
            "model": fa.MODEL,
            "inputTokens": 25 + 10 + 5,
            "outputTokens": 15,
            "totalTokens": 55,
            "cachedInputTokens": 10,
            "cacheWriteInputTokens": 5,
        }
    ]
    request = upstream.fake.requests[0]
    assert request.headers["x-api-key"] == fa.API_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.body["system"] == "Be brief."
    assert request.body["max_tokens"] == 4096
    assert request.body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]


@pytest.mark.parametrize(
    ("script", "terminal", "code"),
    [
        ("stop_sequence", "RUN_FINISHED", None),
        ("stop_max_tokens", "RUN_FINISHED", None),
        ("stop_refusal", "RUN_ERROR", errors.CONTENT_FILTERED),
        ("truncated_tool_call", "RUN_ERROR", errors.OUTPUT_TRUNCATED),
    ],
)
async def test_every_stop_reason_ends_the_run_its_way(
    upstream: Upstream, script: str, terminal: str, code: str | None
) -> None:
    upstream.add(fa.SCRIPTS[script]())
    events = await run_guarded(upstream.agent(), user_input(tools=[WEATHER_TOOL]))
    assert events[-1]["type"] == terminal
    assert events[-1].get("code") == code
    if script == "stop_max_tokens":
        assert events[-1]["result"] == {"stopReason": "max_tokens"}


async def test_pause_turn_is_sent_back_for_the_model_to_go_on(upstream: Upstream) -> None:
    upstream.add(fa.pause_turn(), fa.text(["Found it."]))
    events = await run_guarded(upstream.agent(), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert [e["delta"] for e in by_type(events, "TEXT_MESSAGE_CONTENT")] == ["Searching.", "Found it."]
    assert "TOOL_CALL_START" not in types(events)  # server tools are the provider's business
    assert upstream.bodies[1]["messages"][-1] == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Searching."},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "weather"}},
        ],
    }


# --- thinking ------------------------------------------------------------------------------------


async def test_thinking_streams_as_reasoning_with_its_signature(upstream: Upstream) -> None:
    upstream.add(fa.thinking(["Let me", " think."], answer="42"))
    events = await run_guarded(upstream.agent(thinking_budget=1024), user_input())
    assert types(events) == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_ENCRYPTED_VALUE",
        "REASONING_END",
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    encrypted = by_type(events, "REASONING_ENCRYPTED_VALUE")[0]
    assert encrypted["subtype"] == "message"
    assert encrypted["entityId"] == events[1]["messageId"]
    assert encrypted["encryptedValue"] == fa.SIGNATURE
    assert upstream.bodies[0]["thinking"] == {"type": "enabled", "budget_tokens": 1024}


async def test_redacted_thinking_travels_as_an_encrypted_value(upstream: Upstream) -> None:
    upstream.add(fa.redacted_thinking())
    events = await run_guarded(upstream.agent(), user_input())
    assert types(events)[1:6] == [
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_END",
        "REASONING_ENCRYPTED_VALUE",
        "REASONING_END",
    ]
    assert by_type(events, "REASONING_ENCRYPTED_VALUE")[0]["encryptedValue"].startswith(REDACTED_PREFIX)


async def test_thinking_and_a_frontend_tool_round_trip_keeps_the_signature(upstream: Upstream) -> None:
    """Request 1: thinking + a frontend tool call. Request 2 carries the reasoning message (with the
    signature the client stored from REASONING_ENCRYPTED_VALUE), the assistant call and the result."""
    upstream.add(fa.thinking_then_tool(), fa.text(["Booked."]))
    agent = upstream.agent(thinking_budget=1024)
    first = user_input("Book it", tools=[CONFIRM_TOOL])
    events = await run_guarded(agent, first)
    assert events[-1]["outcome"] == {"type": "success", "pendingToolCallIds": ["toolu_think"]}
    reasoning_id = by_type(events, "REASONING_START")[0]["messageId"]
    thinking_text = "".join(e["delta"] for e in by_type(events, "REASONING_MESSAGE_CONTENT"))
    signature = by_type(events, "REASONING_ENCRYPTED_VALUE")[0]["encryptedValue"]
    start = by_type(events, "TOOL_CALL_START")[0]
    second = {
        **first,
        "runId": "run-2",
        "messages": [
            *first["messages"],
            {"id": reasoning_id, "role": "reasoning", "content": thinking_text, "encryptedValue": signature},
            {
                "id": start["parentMessageId"],
                "role": "assistant",
                "toolCalls": [
                    {
                        "id": "toolu_think",
                        "type": "function",
                        "function": {"name": "confirm", "arguments": json.dumps(args_of(events, "toolu_think"))},
                    }
                ],
            },
            {"id": "t1", "role": "tool", "toolCallId": "toolu_think", "content": "confirmed"},
        ],
    }
    events = await run_guarded(agent, second)
    assert events[-1]["type"] == "RUN_FINISHED"
    assert upstream.bodies[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "The user wants a booking.", "signature": fa.SIGNATURE},
                {"type": "tool_use", "id": "toolu_think", "name": "confirm", "input": {"action": "book"}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_think", "content": "confirmed"}]},
    ]


async def test_thinking_is_kept_within_the_backend_tool_loop(upstream: Upstream) -> None:
    upstream.add(fa.thinking_then_tool("get_weather", '{"city": "Paris"}'), fa.text(["21 degrees."]))
    events = await run_guarded(upstream.agent(tools=[get_weather], thinking_budget=1024), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    result = by_type(events, "TOOL_CALL_RESULT")[0]
    assert upstream.bodies[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "The user wants a booking.", "signature": fa.SIGNATURE},
                {"type": "tool_use", "id": "toolu_think", "name": "get_weather", "input": {"city": "Paris"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_think", "content": result["content"], "is_error": False}
            ],
        },
    ]


# --- tools -------------------------------------------------------------------------------------


async def test_parallel_tool_use_blocks_stream_as_tool_calls(upstream: Upstream) -> None:
    upstream.add(fa.parallel_tool_calls())
    events = await run_guarded(upstream.agent(), user_input(tools=[WEATHER_TOOL]))
    text_id = by_type(events, "TEXT_MESSAGE_START")[0]["messageId"]
    starts = by_type(events, "TOOL_CALL_START")
    assert [(s["toolCallId"], s["parentMessageId"]) for s in starts] == [
        ("toolu_paris", text_id),
        ("toolu_rome", text_id),
    ]
    assert args_of(events, "toolu_paris") == {"city": "Paris"}
    assert args_of(events, "toolu_rome") == {"city": "Rome"}
    assert events[-1]["outcome"]["pendingToolCallIds"] == ["toolu_paris", "toolu_rome"]
    assert upstream.bodies[0]["tools"] == [
        {"name": "get_weather", "description": WEATHER_TOOL["description"], "input_schema": WEATHER_TOOL["parameters"]}
    ]


async def test_backend_and_frontend_calls_in_one_turn(upstream: Upstream) -> None:
    """The backend call runs and gets its result; the run then ends with the frontend call pending."""
    upstream.add(fa.mixed_tool_calls())
    events = await run_guarded(upstream.agent(tools=[get_weather]), user_input(tools=[CONFIRM_TOOL]))
    assert [r["toolCallId"] for r in by_type(events, "TOOL_CALL_RESULT")] == ["toolu_backend"]
    assert types(events)[-2:] == ["TOOL_CALL_RESULT", "RUN_FINISHED"]
    assert events[-1]["outcome"] == {"type": "success", "pendingToolCallIds": ["toolu_frontend"]}
    assert len(upstream.bodies) == 1


# --- failures ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "code", "phrase"),
    [
        ("unauthorized", errors.UPSTREAM_AUTH_FAILED, "HTTP 401, authentication_error"),
        ("rate_limited", errors.UPSTREAM_RATE_LIMITED, "Retry after 7 seconds."),
        ("overloaded", errors.UPSTREAM_UNAVAILABLE, "overloaded (HTTP 529"),
        ("context_too_long", errors.CONTEXT_TOO_LONG, "too long for the model's context window"),
        ("malformed", errors.UPSTREAM_MALFORMED_STREAM, "could not be read"),
        ("cut_off", errors.UPSTREAM_MALFORMED_STREAM, "ended before the answer was complete"),
        ("stream_error", errors.UPSTREAM_UNAVAILABLE, "overloaded (overloaded_error)"),
    ],
)
async def test_each_failure_has_its_code_and_no_secret(upstream: Upstream, script: str, code: str, phrase: str) -> None:
    upstream.add(fa.SCRIPTS[script]())
    events = await run_guarded(upstream.agent(max_retries=0), user_input())
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == code
    assert phrase in events[-1]["message"]
    text = json.dumps(events)
    assert fa.API_KEY not in text
    assert "prompt is too long" not in text
    assert "invalid x-api-key" not in text


async def test_a_silent_upstream_times_out(upstream: Upstream) -> None:
    upstream.add(fa.slow(1.0))
    events = await run_guarded(upstream.agent(read_timeout=0.2, max_retries=0), user_input())
    assert events[-1]["code"] == errors.UPSTREAM_TIMEOUT
    await asyncio.wait_for(upstream.fake.disconnected.wait(), 2)


async def test_overloaded_is_retried_before_the_first_token(upstream: Upstream) -> None:
    upstream.add(fa.overloaded(), fa.stream_error(), fa.text())
    events = await run_guarded(upstream.agent(max_retries=2), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert len(upstream.bodies) == 3


async def test_an_error_after_text_is_not_retried(upstream: Upstream) -> None:
    upstream.add(fa.cut_off(), fa.text())
    events = await run_guarded(upstream.agent(max_retries=2), user_input())
    assert events[-1]["code"] == errors.UPSTREAM_MALFORMED_STREAM
    assert len(upstream.bodies) == 1


# --- the conversation sent upstream --------------------------------------------------------------


async def test_every_ag_ui_role_maps_to_messages(upstream: Upstream) -> None:
    upstream.add(fa.text())
    body = user_input(
        messages=[
            {"id": "s", "role": "system", "content": "Be brief."},
            {
                "id": "u1",
                "role": "user",
                "content": [
                    {"type": "text", "text": "Read this."},
                    {
                        "type": "document",
                        "source": {"type": "data", "value": "JVBERi0=", "mimeType": "application/pdf"},
                    },
                    {"type": "image", "source": {"type": "url", "value": "https://example.com/cat.png"}},
                ],
            },
            {
                "id": "a1",
                "role": "assistant",
                "content": "Checking.",
                "toolCalls": [
                    {"id": "t_a", "type": "function", "function": {"name": "lookup", "arguments": '{"q": 1}'}},
                    {"id": "t_b", "type": "function", "function": {"name": "lookup", "arguments": "{}"}},
                ],
            },
            {"id": "m1", "role": "tool", "toolCallId": "t_a", "content": "one"},
            {"id": "m2", "role": "tool", "toolCallId": "t_b", "content": "", "error": "timed out"},
            {"id": "d", "role": "developer", "content": "Answer in French."},
            {"id": "u2", "role": "user", "content": "Merci"},
        ],
        context=[{"description": "Locale", "value": "fr-FR"}],
    )
    await run_guarded(upstream.agent(), body)
    sent = upstream.bodies[0]
    assert sent["system"] == "Be brief.\n\nAnswer in French.\n\nContext provided by the application:\n\nLocale:\nfr-FR"
    assert sent["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Read this."},
                {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "t_a", "name": "lookup", "input": {"q": 1}},
                {"type": "tool_use", "id": "t_b", "name": "lookup", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t_a", "content": "one"},
                {"type": "tool_result", "tool_use_id": "t_b", "content": "Error: timed out\n", "is_error": True},
                {"type": "text", "text": "Merci"},
            ],
        },
    ]


# --- cancellation --------------------------------------------------------------------------------


async def test_a_client_disconnect_closes_the_upstream_request(
    upstream: Upstream, record_property: Callable[[str, object], None]
) -> None:
    """Real sockets end to end: the browser goes away, the fake upstream sees its own client go."""

    upstream.add(fa.hang_after_text())
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
        print(f"\n[llm-disconnect] anthropic over HTTP: upstream saw the client go {elapsed_ms:.1f} ms after it left")
        for _ in range(100):
            if not {t for t in asyncio.all_tasks() - before if not t.done()}:
                break
            await asyncio.sleep(0.02)
        assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()
    assert upstream.fake.active == 0
