"""The Responses API agent against a loopback fake of ``/v1/responses`` streaming.

Every run goes through the strict guard and a strict ordering machine (``run_guarded``); every request
the agent sends is validated by the fake against the official SDK's ``ResponseCreateParamsStreaming``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agui_server import AGUIConfig, create_app
from agui_server.agents import errors
from agui_server.agents.openai_responses import OpenAIResponsesAgent
from agui_server.agents.tools import tool
from tests.support import fake_openai_responses as fr
from tests.support.fake_openai import run_guarded, types, user_input
from tests.support.server import running_server
from tests.support.sse import collect_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.support.fake_openai import Script, ScriptedUpstream

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

    def agent(self, **options: Any) -> OpenAIResponsesAgent:
        options.setdefault("retry_backoff", 0.01)
        return OpenAIResponsesAgent(fr.MODEL, api_key=fr.API_KEY, base_url=self.base_url, **options)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [r.body for r in self.fake.requests]


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    fake = fr.responses_upstream()
    async with running_server(fake) as base:
        yield Upstream(fake, base + "/v1")
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


# --- text, reasoning, usage, metadata --------------------------------------------------------------


async def test_text_streams_with_usage_and_the_finish_reason_in_metadata(upstream: Upstream) -> None:
    upstream.add(fr.text(["Hel", "lo", "!"]))
    events = await run_guarded(upstream.agent(instructions="Be brief."), user_input("Hi"))
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
    usage = {
        "provider": "openai",
        "model": fr.MODEL,
        "inputTokens": 12,
        "outputTokens": 5,
        "totalTokens": 17,
        "reasoningTokens": 0,
        "cachedInputTokens": 2,
    }
    assert events[-1]["usage"] == [usage]
    assert events[-2]["metadata"] == {"finishReason": "stop", "providerFinishReason": "completed", "usage": usage}
    assert events[-1]["metadata"] == {"finishReason": "stop", "providerFinishReason": "completed"}
    body = upstream.bodies[0]
    assert (body["model"], body["stream"], body["store"]) == (fr.MODEL, True, False)
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"role": "user", "content": "Hi"}]
    assert "previous_response_id" not in body
    assert "tools" not in body


async def test_reasoning_summaries_stream_as_reasoning(upstream: Upstream) -> None:
    upstream.add(fr.reasoning())
    events = await run_guarded(upstream.agent(reasoning_effort="low"), user_input())
    assert types(events)[:8] == [
        "RUN_STARTED",
        "REASONING_START",
        "REASONING_MESSAGE_START",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_CONTENT",
        "REASONING_MESSAGE_END",
        "REASONING_END",
    ]
    assert "".join(e["delta"] for e in by_type(events, "REASONING_MESSAGE_CONTENT")) == "Let me think.\n\nDone."
    assert by_type(events, "TEXT_MESSAGE_CONTENT")[0]["delta"] == "42"
    assert events[-1]["usage"][0]["reasoningTokens"] == 6
    body = upstream.bodies[0]
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["include"] == ["reasoning.encrypted_content"]


# --- tool calls ----------------------------------------------------------------------------------


async def test_parallel_frontend_calls_end_the_run_pending(upstream: Upstream) -> None:
    upstream.add(fr.parallel_tool_calls())
    events = await run_guarded(upstream.agent(), user_input(tools=[WEATHER_TOOL]))
    text_id = by_type(events, "TEXT_MESSAGE_START")[0]["messageId"]
    starts = by_type(events, "TOOL_CALL_START")
    assert [(s["toolCallId"], s["toolCallName"], s["parentMessageId"]) for s in starts] == [
        ("call_paris", "get_weather", text_id),
        ("call_rome", "get_weather", text_id),
    ]
    assert args_of(events, "call_paris") == {"city": "Paris"}
    assert args_of(events, "call_rome") == {"city": "Rome"}
    assert events[-1]["outcome"] == {"type": "success", "pendingToolCallIds": ["call_paris", "call_rome"]}
    assert events[-1]["metadata"]["finishReason"] == "tool-calls"
    assert upstream.bodies[0]["tools"] == [{"type": "function", **WEATHER_TOOL, "strict": False}]


async def test_backend_tools_loop_with_input_items_and_the_reasoning_sent_back(upstream: Upstream) -> None:
    upstream.add(fr.reasoning_then_call(), fr.text(["21 degrees in Oslo."]))
    events = await run_guarded(upstream.agent(tools=[get_weather], reasoning_effort="low"), user_input())
    result = by_type(events, "TOOL_CALL_RESULT")[0]
    assert result["toolCallId"] == "call_r"
    assert json.loads(result["content"]) == {"city": "Oslo", "temperature": 21}
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["usage"][0]["inputTokens"] == 24
    assert upstream.bodies[1]["input"] == [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Need the weather."}],
            "encrypted_content": "gAAAA-secret",
        },
        {"type": "function_call", "call_id": "call_r", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "call_r", "output": result["content"]},
    ]


async def test_a_call_that_needs_approval_ends_the_run_asking(upstream: Upstream) -> None:
    ran: list[str] = []

    @tool(requires_approval=True)
    async def send_email(to: str) -> str:
        """Send an email."""
        ran.append(to)
        return "sent"

    upstream.add(fr.tool_call("send_email", '{"to": "a@b.c"}', "call_mail"))
    events = await run_guarded(upstream.agent(tools=[send_email]), user_input("Mail a@b.c"))
    assert events[-1]["outcome"]["interrupts"][0]["id"] == "approve-call_mail"
    assert ran == []


# --- how a response ends -------------------------------------------------------------------------


async def test_incomplete_for_the_output_limit_ends_with_the_stop_reason(upstream: Upstream) -> None:
    upstream.add(fr.incomplete("max_output_tokens"))
    events = await run_guarded(upstream.agent(), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["result"] == {"stopReason": "max_output_tokens"}
    assert events[-2]["metadata"]["finishReason"] == "length"


@pytest.mark.parametrize(
    ("script", "code", "phrase"),
    [
        ("incomplete_content_filter", errors.CONTENT_FILTERED, "safety system"),
        ("truncated_tool_call", errors.OUTPUT_TRUNCATED, "output limit"),
        ("failed", errors.UPSTREAM_UNAVAILABLE, "its stream reported an error"),
        ("stream_error", errors.UPSTREAM_RATE_LIMITED, "rate limiting"),
        ("cut_off", errors.UPSTREAM_MALFORMED_STREAM, "ended before the answer was complete"),
        ("malformed", errors.UPSTREAM_MALFORMED_STREAM, "could not be read"),
        ("rate_limited", errors.UPSTREAM_RATE_LIMITED, "Retry after 7 seconds."),
        ("unavailable", errors.UPSTREAM_UNAVAILABLE, "HTTP 503"),
        ("unauthorized", errors.UPSTREAM_AUTH_FAILED, "HTTP 401"),
    ],
)
async def test_each_failure_has_its_code(upstream: Upstream, script: str, code: str, phrase: str) -> None:
    upstream.add(fr.SCRIPTS[script]())
    events = await run_guarded(upstream.agent(max_retries=0), user_input(tools=[WEATHER_TOOL]))
    assert events[-1]["type"] == "RUN_ERROR"
    assert (events[-1]["code"], phrase in events[-1]["message"]) == (code, True), events[-1]
    if script == "truncated_tool_call":
        assert "TOOL_CALL_END" not in types(events)


async def test_failures_before_the_first_token_are_retried(upstream: Upstream) -> None:
    upstream.add(fr.failed(), fr.stream_error(), fr.text())
    events = await run_guarded(upstream.agent(max_retries=2), user_input())
    assert events[-1]["type"] == "RUN_FINISHED"
    assert len(upstream.bodies) == 3


# --- media ---------------------------------------------------------------------------------------


async def test_images_and_documents_are_sent_as_input_parts(upstream: Upstream) -> None:
    upstream.add(fr.text())
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image", "source": {"type": "data", "value": "aGVsbG8=", "mimeType": "image/png"}},
        {"type": "document", "source": {"type": "url", "value": "https://example.com/a.pdf"}},
    ]
    await run_guarded(upstream.agent(), user_input(content))  # type: ignore[arg-type]
    assert upstream.bodies[0]["input"][0]["content"] == [
        {"type": "input_text", "text": "What is this?"},
        {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,aGVsbG8="},
        {"type": "input_file", "file_url": "https://example.com/a.pdf"},
    ]


async def test_audio_is_unsupported_content_and_nothing_is_sent(upstream: Upstream) -> None:
    content = [{"type": "audio", "source": {"type": "data", "value": "UklGRg==", "mimeType": "audio/wav"}}]
    events = await run_guarded(upstream.agent(), user_input(content))  # type: ignore[arg-type]
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == errors.UNSUPPORTED_CONTENT
    assert events[-1]["message"].startswith("The audio (audio/wav) part #1 of message u1, given as inline data")
    assert upstream.bodies == []


# --- over HTTP: the frontend round trip, and metadata kept with the thread -------------------------


async def test_frontend_round_trip_and_the_thread_keeps_the_metadata(upstream: Upstream) -> None:
    upstream.add(fr.tool_call("get_weather", '{"city": "Paris"}', "call_fe"), fr.text(["Sunny in Paris."]))
    app = create_app(AGUIConfig(agent=upstream.agent(), strict=True))
    first = user_input(tools=[WEATHER_TOOL], threadId="thread-rsp", runId="run-a")
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        _, events, _ = await collect_events(client, base + "/ag-ui", first)
        start = by_type(events, "TOOL_CALL_START")[0]
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
                            "id": "call_fe",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"id": "tool-1", "role": "tool", "toolCallId": "call_fe", "content": '{"sky": "sunny"}'},
            ],
        }
        _, events, _ = await collect_events(client, base + "/ag-ui", second)
        thread = (await client.get(base + "/ag-ui/threads/thread-rsp")).json()
    assert events[-1]["type"] == "RUN_FINISHED"
    assert upstream.bodies[1]["input"][1:] == [
        {"type": "function_call", "call_id": "call_fe", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_fe", "output": '{"sky": "sunny"}'},
    ]
    answer = by_type(events, "TEXT_MESSAGE_END")[0]["messageId"]
    stored = next(m for m in thread["messages"] if m["id"] == answer)
    assert stored["content"] == "Sunny in Paris."
    assert stored["metadata"]["finishReason"] == "stop"
    assert stored["metadata"]["usage"]["outputTokens"] == 5
