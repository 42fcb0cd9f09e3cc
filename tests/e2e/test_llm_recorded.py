"""Wire traffic recorded from servers written by others, replayed byte for byte to the adapters.

Each file under ``tests/fixtures/llm/`` is a response body as a third-party server sent it (the README
there says which server, which version, how it was recorded and what, if anything, was edited). A
loopback :class:`~tests.support.fake_openai.ScriptedUpstream` plays the files in order, one per request,
and checks every request against the official SDK's request types; ``run_guarded`` checks every event
against the strict ordering rules and the official ``ag-ui-protocol`` models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agui_server.agents import errors
from agui_server.agents.anthropic import AnthropicAgent
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.tools import tool
from tests.support import fake_anthropic as fa
from tests.support import fake_openai as fo
from tests.support.fake_openai import Script, run_guarded, types, user_input
from tests.support.server import running_server

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.support.fake_openai import ScriptedUpstream

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "llm"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Look up the weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def recorded(name: str) -> Script:
    """A fixture file as one response body, sent as it was recorded."""
    return Script([(FIXTURES / name).read_bytes()])


def by_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def args_of(events: list[dict[str, Any]], call_id: str) -> str:
    return "".join(e["delta"] for e in by_type(events, "TOOL_CALL_ARGS") if e["toolCallId"] == call_id)


class Counted:
    """A backend ``get_weather`` that remembers every call it got."""

    def __init__(self) -> None:
        self.cities: list[str] = []

        @tool
        async def get_weather(city: str) -> dict[str, Any]:
            """The current weather in a city.

            Args:
                city: the city's name.
            """
            self.cities.append(city)
            return {"city": city, "temperature": 21}

        self.tool = get_weather


@pytest.fixture
async def openai() -> AsyncIterator[tuple[ScriptedUpstream, str]]:
    fake = fo.openai_upstream()
    async with running_server(fake) as base:
        yield fake, base + "/v1"
    assert fake.validation_errors == []


@pytest.fixture
async def anthropic() -> AsyncIterator[tuple[ScriptedUpstream, str]]:
    fake = fa.anthropic_upstream()
    async with running_server(fake) as base:
        yield fake, base
    assert fake.validation_errors == []


def openai_agent(base: str, **options: Any) -> OpenAIAgent:
    return OpenAIAgent(fo.MODEL, api_key=fo.API_KEY, base_url=base, max_retries=0, **options)


def anthropic_agent(base: str, **options: Any) -> AnthropicAgent:
    return AnthropicAgent(fa.MODEL, api_key=fa.API_KEY, base_url=base, max_retries=0, **options)


# --- (1) the legacy function_call beside tool_calls in the same delta ------------------------------

BOTH_FIELDS = [
    "litellm-1.108.7_chat_function_call_and_tool_calls.sse",
    "llama-cpp-python-shaped_chat_forced_tool_call.upstream.sse",
]


@pytest.mark.parametrize("fixture", BOTH_FIELDS)
async def test_function_call_beside_tool_calls_is_one_call(openai: tuple[ScriptedUpstream, str], fixture: str) -> None:
    fake, base = openai
    fake.add(recorded(fixture))
    events = await run_guarded(openai_agent(base), user_input(tools=[WEATHER_TOOL]))
    starts = by_type(events, "TOOL_CALL_START")
    assert [s["toolCallId"] for s in starts] == ["call__0_get_weather_cmpl-3f1c2a9e-llama"]
    assert json.loads(args_of(events, starts[0]["toolCallId"])) == {"city": "Paris"}
    assert events[-1]["outcome"]["pendingToolCallIds"] == [starts[0]["toolCallId"]]


@pytest.mark.parametrize("fixture", BOTH_FIELDS)
async def test_function_call_beside_tool_calls_runs_the_backend_tool_once(
    openai: tuple[ScriptedUpstream, str], fixture: str
) -> None:
    fake, base = openai
    fake.add(recorded(fixture), recorded("aimock-1.43.0_chat_text.sse"))
    weather = Counted()
    events = await run_guarded(openai_agent(base, tools=[weather.tool]), user_input())
    assert weather.cities == ["Paris"]
    assert len(by_type(events, "TOOL_CALL_RESULT")) == 1
    assert events[-1]["type"] == "RUN_FINISHED"
    assert len(fake.requests[1].body["messages"][1]["tool_calls"]) == 1


# --- (2) the assistant message sent back beside tool calls ---------------------------------------


async def test_the_tool_loop_sends_what_llama_cpp_python_accepts(openai: tuple[ScriptedUpstream, str]) -> None:
    """llama-cpp-python's server validates messages with its own types (``llama_cpp/llama_types.py``):
    an assistant message's ``content`` is ``NotRequired[str]`` (``null`` fails, HTTP 500) and a tool
    message's ``name`` is a required key. The second request must satisfy both."""
    fake, base = openai
    fake.add(recorded("aimock-1.43.0_chat_tool_call.sse"), recorded("aimock-1.43.0_chat_text.sse"))
    weather = Counted()
    events = await run_guarded(openai_agent(base, tools=[weather.tool]), user_input())
    assert "".join(e["delta"] for e in by_type(events, "TEXT_MESSAGE_CONTENT")) == "It is 21 degrees in Paris."
    assistant, result = fake.requests[1].body["messages"][1:]
    assert assistant["role"] == "assistant"
    assert "content" not in assistant
    assert assistant["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert result == {
        "role": "tool",
        "tool_call_id": assistant["tool_calls"][0]["id"],
        "name": "get_weather",
        "content": '{"city":"Paris","temperature":21}',
    }


# --- (3) tool arguments that are not JSON when the call ends ---------------------------------------


async def test_a_client_tool_with_invalid_arguments_fails_the_run(openai: tuple[ScriptedUpstream, str]) -> None:
    fake, base = openai
    fake.add(recorded("aimock-1.43.0_chat_invalid_arguments.sse"))
    events = await run_guarded(openai_agent(base), user_input(tools=[WEATHER_TOOL]))
    assert "TOOL_CALL_END" not in types(events)  # never completed: the client must not run it
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == errors.TOOL_ARGUMENTS_INVALID
    assert "get_weather" in events[-1]["message"]


async def test_a_backend_tool_with_invalid_arguments_gets_an_error_result(openai: tuple[ScriptedUpstream, str]) -> None:
    fake, base = openai
    fake.add(recorded("aimock-1.43.0_chat_invalid_arguments.sse"), recorded("aimock-1.43.0_chat_text.sse"))
    weather = Counted()
    events = await run_guarded(openai_agent(base, tools=[weather.tool]), user_input())
    assert weather.cities == []
    (result,) = by_type(events, "TOOL_CALL_RESULT")
    assert result["content"].startswith("Error: Invalid arguments for the tool get_weather")
    assert events[-1]["type"] == "RUN_FINISHED"
    assert fake.requests[1].body["messages"][-1]["content"] == result["content"]  # the model sees it


async def test_an_anthropic_client_tool_with_invalid_input_fails_the_run(
    anthropic: tuple[ScriptedUpstream, str],
) -> None:
    fake, base = anthropic
    fake.add(recorded("litellm-1.108.7_messages_invalid_arguments.sse"))
    events = await run_guarded(anthropic_agent(base), user_input(tools=[WEATHER_TOOL]))
    assert "TOOL_CALL_END" not in types(events)
    assert events[-1]["code"] == errors.TOOL_ARGUMENTS_INVALID


# --- (4) a tool_use block that repeats an id already opened ----------------------------------------


async def test_a_repeated_tool_use_id_continues_the_call(anthropic: tuple[ScriptedUpstream, str]) -> None:
    fake, base = anthropic
    fake.add(recorded("litellm-1.108.7_messages_repeated_tool_use_id.edited.sse"))
    events = await run_guarded(anthropic_agent(base), user_input(tools=[WEATHER_TOOL]))
    starts = [s["toolCallId"] for s in by_type(events, "TOOL_CALL_START")]
    assert starts == ["call_BMaIAUogSDJUIPid", "call_7W8DvTJTxsxXNw1F"]
    assert json.loads(args_of(events, starts[0])) == {"city": "Paris"}
    assert json.loads(args_of(events, starts[1])) == {"city": "Rome"}
    assert [e["toolCallId"] for e in by_type(events, "TOOL_CALL_END")] == starts
    assert events[-1]["outcome"]["pendingToolCallIds"] == starts


async def test_a_repeated_tool_use_id_runs_the_backend_tool_once(anthropic: tuple[ScriptedUpstream, str]) -> None:
    fake, base = anthropic
    fake.add(
        recorded("litellm-1.108.7_messages_repeated_tool_use_id.edited.sse"),
        recorded("aimock-1.43.0_messages_text.sse"),
    )
    weather = Counted()
    events = await run_guarded(anthropic_agent(base, tools=[weather.tool]), user_input())
    assert sorted(weather.cities) == ["Paris", "Rome"]
    assert events[-1]["type"] == "RUN_FINISHED"
    blocks = fake.requests[1].body["messages"][1]["content"]
    assert [(b["type"], b.get("input")) for b in blocks] == [
        ("text", None),
        ("tool_use", {"city": "Paris"}),
        ("tool_use", {"city": "Rome"}),
    ]


async def test_the_unedited_recording_streams_two_calls(anthropic: tuple[ScriptedUpstream, str]) -> None:
    fake, base = anthropic
    fake.add(recorded("litellm-1.108.7_messages_parallel_tool_use.sse"))
    events = await run_guarded(anthropic_agent(base), user_input(tools=[WEATHER_TOOL]))
    assert [s["toolCallId"] for s in by_type(events, "TOOL_CALL_START")] == [
        "call_BMaIAUogSDJUIPid",
        "call_7W8DvTJTxsxXNw1F",
    ]
