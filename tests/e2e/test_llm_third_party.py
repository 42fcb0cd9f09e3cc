"""The LLM adapters end to end through agui-server against LLM servers written by others, run offline on
127.0.0.1 as subprocesses:

- **aimock** (``@copilotkit/aimock``, npm, tests/node): OpenAI Chat Completions, the OpenAI Responses API
  (``/v1/responses``, its own stream writer, reasoning summaries included) and Anthropic Messages,
  streamed from the fixtures in ``tests/fixtures/llm/aimock-fixtures.json`` (text, parallel tool calls,
  a tool loop, cut-off tool arguments, a 429);
- **LiteLLM proxy** (``litellm[proxy]``, PyPI, the dev group): its own ``mock_response`` models on
  ``/v1/chat/completions`` (text, a rate-limit error), and as a gateway in front of aimock on both
  ``/v1/chat/completions`` and ``/v1/messages`` (which it translates from the OpenAI stream itself).

Each request goes client → agui-server (``create_app``, strict) → agent → third-party server; the tests
assert on the AG-UI events the client reads.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agui_server import AGUIConfig, create_app
from agui_server.agents import errors
from agui_server.agents.anthropic import AnthropicAgent
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.openai_responses import OpenAIResponsesAgent
from agui_server.agents.tools import tool
from tests.support.server import ROOT, free_port, running_server, served
from tests.support.sse import collect_events, types

if TYPE_CHECKING:
    from collections.abc import Iterator

    from agui_server.agents._llm_loop import LLMAgent

AIMOCK_CLI = ROOT / "tests" / "node" / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
AIMOCK_FIXTURES = ROOT / "tests" / "fixtures" / "llm" / "aimock-fixtures.json"
LITELLM = Path(sys.executable).parent / "litellm"
LITELLM_KEY = "sk-litellm-test-0123456789abcdef"
LITELLM_TEXT = "Hello from the LiteLLM mock."
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Look up the weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def aimock() -> Iterator[str]:
    """aimock on a free loopback port; yields its root URL."""
    node = shutil.which("node")
    if node is None or not AIMOCK_CLI.exists():
        pytest.fail("aimock needs Node.js and `npm ci` in tests/node")
    port = free_port()
    command = [node, str(AIMOCK_CLI), "-p", str(port), "-h", "127.0.0.1", "-f", str(AIMOCK_FIXTURES), "-c", "7"]
    with served([*command, "--log-level", "warn"], port, "aimock") as base:
        yield base


@pytest.fixture(scope="module")
def litellm(aimock: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The LiteLLM proxy on a free loopback port (mock models, and aimock behind it); yields its root URL."""
    if not LITELLM.exists():
        pytest.fail("the LiteLLM proxy is missing: `uv sync` installs the dev group")
    folder = tmp_path_factory.mktemp("litellm")
    config = {
        "model_list": [
            {"model_name": "mock-text", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-none",
                                                           "mock_response": LITELLM_TEXT}},
            {"model_name": "mock-rate-limited", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "sk-none",
                                                                   "mock_response": "litellm.RateLimitError"}},
            {"model_name": "via-aimock", "litellm_params": {"model": "openai/gpt-4o", "api_key": "sk-none",
                                                            "api_base": f"{aimock}/v1"}},
        ]
    }  # fmt: skip
    (folder / "config.json").write_text(json.dumps(config))  # YAML is a superset of JSON
    port = free_port()
    command = [str(LITELLM), "--config", str(folder / "config.json"), "--host", "127.0.0.1", "--port", str(port)]
    env = {"LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    with served(command, port, "litellm", env, folder, startup_timeout=60) as base:
        yield base


def openai_agent(base_url: str, model: str = "gpt-4o-mini", key: str = "sk-none", **options: Any) -> OpenAIAgent:
    return OpenAIAgent(model, api_key=key, base_url=base_url + "/v1", max_retries=0, **options)


def anthropic_agent(base_url: str, model: str = "claude-mock", key: str = "sk-none", **options: Any) -> AnthropicAgent:
    return AnthropicAgent(model, api_key=key, base_url=base_url, max_retries=0, **options)


def responses_agent(
    base_url: str, model: str = "gpt-4o-mini", key: str = "sk-none", **options: Any
) -> OpenAIResponsesAgent:
    return OpenAIResponsesAgent(model, api_key=key, base_url=base_url + "/v1", max_retries=0, **options)


SERVERS = [
    "aimock-openai",
    "aimock-responses",
    "aimock-anthropic",
    "litellm-openai",
    "litellm-responses",
    "litellm-anthropic",
]


@pytest.fixture
def make_agent(request: pytest.FixtureRequest) -> Any:
    """Builds the agent for the parametrized ``server`` (the proxy only starts for the tests that use it)."""

    def make(server: str, **options: Any) -> LLMAgent[Any]:
        if server.startswith("aimock"):
            base = request.getfixturevalue("aimock")
            if server.endswith("responses"):
                return responses_agent(base, **options)
            return openai_agent(base, **options) if server.endswith("openai") else anthropic_agent(base, **options)
        base = request.getfixturevalue("litellm")
        if server.endswith("responses"):
            return responses_agent(base, "via-aimock", LITELLM_KEY, **options)
        if server.endswith("openai"):
            return openai_agent(base, "via-aimock", LITELLM_KEY, **options)
        return anthropic_agent(base, "via-aimock", LITELLM_KEY, **options)

    return make


async def run(agent: LLMAgent[Any], text: str, **extra: Any) -> list[dict[str, Any]]:
    """One run through agui-server over HTTP; the events the client read."""
    body = {
        "threadId": "thread-3p",
        "runId": "run-3p",
        "protocolVersion": "1.0",
        "messages": [{"id": "u1", "role": "user", "content": text}],
        **extra,
    }
    app = create_app(AGUIConfig(agent=agent, strict=True))
    async with running_server(app) as base, httpx.AsyncClient(timeout=30) as client:
        response, events, _ = await collect_events(client, base + "/ag-ui", body)
    assert response.status_code == 200
    assert not any(e.get("code") == "AGENT_PROTOCOL_ERROR" for e in events), events
    return events


def by_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in by_type(events, "TEXT_MESSAGE_CONTENT"))


def args_of(events: list[dict[str, Any]], call_id: str) -> Any:
    return json.loads("".join(e["delta"] for e in by_type(events, "TOOL_CALL_ARGS") if e["toolCallId"] == call_id))


@pytest.mark.parametrize("server", SERVERS)
async def test_text_streams_in_pieces(make_agent: Any, server: str) -> None:
    events = await run(make_agent(server), "hello")
    assert text_of(events) == "Hello from aimock, in chunks."
    assert len(by_type(events, "TEXT_MESSAGE_CONTENT")) > 1
    assert types(events)[-1] == "RUN_FINISHED"


@pytest.mark.parametrize("server", SERVERS)
async def test_parallel_frontend_tool_calls_end_the_run_pending(make_agent: Any, server: str) -> None:
    events = await run(make_agent(server), "weather?", tools=[WEATHER_TOOL])
    assert text_of(events) == "Checking both cities."
    starts = by_type(events, "TOOL_CALL_START")
    ids = [s["toolCallId"] for s in starts]
    assert len(set(ids)) == 2
    assert {s["toolCallName"] for s in starts} == {"get_weather"}
    assert [args_of(events, i) for i in ids] == [{"city": "Paris"}, {"city": "Rome"}]
    assert [e["toolCallId"] for e in by_type(events, "TOOL_CALL_END")] == ids
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["outcome"] == {"type": "success", "pendingToolCallIds": ids}


@pytest.mark.parametrize("server", SERVERS)
async def test_backend_tools_run_and_the_loop_finishes(make_agent: Any, server: str) -> None:
    cities: list[str] = []

    @tool
    async def get_weather(city: str) -> dict[str, Any]:
        """The current weather in a city.

        Args:
            city: the city's name.
        """
        cities.append(city)
        return {"city": city, "temperature": 21}

    events = await run(make_agent(server, tools=[get_weather]), "weather?")
    assert sorted(cities) == ["Paris", "Rome"]
    assert len(by_type(events, "TOOL_CALL_RESULT")) == 2
    assert text_of(events).endswith("21 degrees in both.")
    assert events[-1]["type"] == "RUN_FINISHED"
    assert "outcome" not in events[-1] or "pendingToolCallIds" not in events[-1]["outcome"]


@pytest.mark.parametrize("server", ["aimock-openai", "aimock-responses", "litellm-anthropic"])
async def test_cut_off_tool_arguments_fail_the_run(make_agent: Any, server: str) -> None:
    events = await run(make_agent(server), "broken", tools=[WEATHER_TOOL])
    assert "TOOL_CALL_END" not in types(events)
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == errors.TOOL_ARGUMENTS_INVALID


@pytest.mark.parametrize("server", ["aimock-openai", "aimock-responses", "aimock-anthropic"])
async def test_a_rate_limit_is_upstream_rate_limited(make_agent: Any, server: str) -> None:
    events = await run(make_agent(server), "limit")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == errors.UPSTREAM_RATE_LIMITED


async def test_aimock_responses_reasoning_summary_streams_as_reasoning(aimock: str) -> None:
    events = await run(responses_agent(aimock, "o4-mini", reasoning_effort="low"), "ponder")
    reasoning = "".join(e["delta"] for e in by_type(events, "REASONING_MESSAGE_CONTENT"))
    assert reasoning == "Weighing it up."
    assert types(events).index("REASONING_END") < types(events).index("TEXT_MESSAGE_START")
    assert text_of(events) == "The answer is 42."
    assert by_type(events, "TEXT_MESSAGE_END")[0]["metadata"]["finishReason"] == "stop"
    assert events[-1]["type"] == "RUN_FINISHED"


async def test_litellm_mock_response_streams_as_text(litellm: str) -> None:
    events = await run(openai_agent(litellm, "mock-text", LITELLM_KEY), "hi")
    assert text_of(events) == LITELLM_TEXT
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["usage"][0]["outputTokens"] > 0


async def test_litellm_mock_rate_limit_is_upstream_rate_limited(litellm: str) -> None:
    events = await run(openai_agent(litellm, "mock-rate-limited", LITELLM_KEY), "hi")
    assert types(events) == ["RUN_STARTED", "RUN_ERROR"]
    assert events[-1]["code"] == errors.UPSTREAM_RATE_LIMITED


async def test_a_key_litellm_does_not_know_is_refused_without_echoing_it(litellm: str) -> None:
    """Without a database the proxy knows only its master key; another one is answered HTTP 400
    ``no_db_connection`` (not 401), so the code is ``UPSTREAM_BAD_REQUEST``."""
    events = await run(openai_agent(litellm, "mock-text", "sk-wrong-key-0000"), "hi")
    assert events[-1]["code"] == errors.UPSTREAM_BAD_REQUEST
    assert "sk-wrong-key-0000" not in events[-1]["message"]
