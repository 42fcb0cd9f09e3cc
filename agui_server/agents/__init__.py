"""Agents: the contract, helpers, the offline agent and the ``module:attr`` loader. No Litestar here."""

from __future__ import annotations

from agui_server.agents.base import Agent, AgentOutput, FunctionAgent, RunContext, as_agent
from agui_server.agents.helpers import stream_text, stream_tool_call, tool_result
from agui_server.agents.loader import AgentLoadError, load_agent
from agui_server.agents.offline import OfflineAgent

__all__ = (
    "Agent",
    "AgentLoadError",
    "AgentOutput",
    "FunctionAgent",
    "OfflineAgent",
    "RunContext",
    "as_agent",
    "load_agent",
    "stream_text",
    "stream_tool_call",
    "tool_result",
)
