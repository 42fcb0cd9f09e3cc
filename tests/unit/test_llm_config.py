"""LLM adapter configuration: constructor checks and ``from_env``."""

from __future__ import annotations

import pytest

from agui_server.agents.anthropic import AnthropicAgent
from agui_server.agents.errors import LLMConfigurationError
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.openai_responses import OpenAIResponsesAgent


def test_openai_from_env_reads_key_base_url_and_model() -> None:
    agent = OpenAIAgent.from_env(
        environ={"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://localhost:11434/v1/", "AGUI_MODEL": "llama3.2"}
    )
    assert (agent.model, agent.api_key, agent.base_url) == ("llama3.2", "sk-x", "http://localhost:11434/v1")
    default = OpenAIAgent.from_env("gpt-4o-mini", environ={"OPENAI_API_KEY": "sk-x", "AGUI_MODEL": "other"})
    assert (default.model, default.base_url) == ("gpt-4o-mini", "https://api.openai.com/v1")


def test_anthropic_from_env_reads_key_base_url_and_model() -> None:
    agent = AnthropicAgent.from_env(
        environ={"ANTHROPIC_API_KEY": "sk-ant", "AGUI_MODEL": "claude-x"}, thinking_budget=1000, max_tokens=2000
    )
    assert (agent.model, agent.base_url, agent.thinking_budget) == ("claude-x", "https://api.anthropic.com", 1000)
    proxy = AnthropicAgent.from_env(
        "claude-y", environ={"ANTHROPIC_API_KEY": "k", "ANTHROPIC_BASE_URL": "http://proxy:8080"}
    )
    assert proxy.base_url == "http://proxy:8080"


@pytest.mark.parametrize(
    ("factory", "environ", "message"),
    [
        (OpenAIAgent.from_env, {"AGUI_MODEL": "m"}, "OPENAI_API_KEY is not set"),
        (OpenAIAgent.from_env, {"OPENAI_API_KEY": "  ", "AGUI_MODEL": "m"}, "OPENAI_API_KEY is not set"),
        (AnthropicAgent.from_env, {"AGUI_MODEL": "m"}, "ANTHROPIC_API_KEY is not set"),
        (OpenAIAgent.from_env, {"OPENAI_API_KEY": "k"}, "no model chosen: pass --model NAME or set AGUI_MODEL"),
    ],
)
def test_missing_settings_are_a_clear_error(factory: object, environ: dict[str, str], message: str) -> None:
    with pytest.raises(LLMConfigurationError, match=message):
        factory(environ=environ)  # type: ignore[operator]


@pytest.mark.parametrize(
    "options",
    [
        {"base_url": "api.openai.com/v1"},
        {"read_timeout": 0},
        {"connect_timeout": -1},
        {"run_timeout": 0},
        {"max_tool_turns": -1},
        {"tools": ["not a function"]},
    ],
)
def test_bad_settings_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(LLMConfigurationError):
        OpenAIAgent("m", api_key="k", **options)


def test_anthropic_thinking_budget_must_fit() -> None:
    with pytest.raises(LLMConfigurationError, match="thinking_budget"):
        AnthropicAgent("m", api_key="k", max_tokens=1000, thinking_budget=1000)


def test_the_repr_shows_no_key() -> None:
    agent = OpenAIAgent("m", api_key="sk-secret-123456")
    assert "sk-secret" not in repr(agent)
    assert repr(agent) == "OpenAIAgent(model='m', base_url='https://api.openai.com/v1', tools=[])"


def test_the_cli_factory_builds_either_adapter_by_name() -> None:
    from agui_server.agents._llm_factory import llm_agent_from_env

    env = {"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2", "AGUI_MODEL": "m"}
    assert isinstance(llm_agent_from_env("openai", environ=env), OpenAIAgent)
    agent = llm_agent_from_env("Anthropic", "claude-z", environ=env, instructions="Hi")
    assert isinstance(agent, AnthropicAgent)
    assert (agent.model, agent.instructions) == ("claude-z", "Hi")
    responses = llm_agent_from_env("openai-responses", environ=env)
    assert isinstance(responses, OpenAIResponsesAgent)
    assert (responses.model, responses.api_key) == ("m", "k1")
    with pytest.raises(
        LLMConfigurationError, match="unknown LLM agent 'gemini': choose one of openai, openai-responses, anthropic"
    ):
        llm_agent_from_env("gemini", environ=env)
