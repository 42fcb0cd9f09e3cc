"""Agents: the contract, helpers, the offline agent and the ``module:attr`` loader. No Litestar here."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agui_server.agents._llm_factory import LLM_AGENTS, llm_agent_from_env
from agui_server.agents.base import Agent, AgentOutput, FunctionAgent, RunContext, as_agent
from agui_server.agents.errors import LLMConfigurationError, UpstreamError
from agui_server.agents.helpers import stream_text, stream_tool_call, tool_result
from agui_server.agents.loader import AgentLoadError, load_agent
from agui_server.agents.offline import OfflineAgent
from agui_server.agents.tools import BackendTool, ToolContext, ToolError, tool

if TYPE_CHECKING:
    from agui_server.agents.anthropic import AnthropicAgent
    from agui_server.agents.openai import OpenAIAgent
    from agui_server.agents.openai_responses import OpenAIResponsesAgent

_LAZY = {
    "AnthropicAgent": "agui_server.agents.anthropic",
    "OpenAIAgent": "agui_server.agents.openai",
    "OpenAIResponsesAgent": "agui_server.agents.openai_responses",
}
"""The LLM adapters, imported on first use: a server that runs none never imports their HTTP client (httpx,
which brings its command line and with it rich and click)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = (
    "LLM_AGENTS",
    "Agent",
    "AgentLoadError",
    "AgentOutput",
    "AnthropicAgent",
    "BackendTool",
    "FunctionAgent",
    "LLMConfigurationError",
    "OfflineAgent",
    "OpenAIAgent",
    "OpenAIResponsesAgent",
    "RunContext",
    "ToolContext",
    "ToolError",
    "UpstreamError",
    "as_agent",
    "llm_agent_from_env",
    "load_agent",
    "stream_text",
    "stream_tool_call",
    "tool",
    "tool_result",
)
