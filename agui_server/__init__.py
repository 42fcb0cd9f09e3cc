"""agui-server: the AG-UI protocol server for Python, shipped as a Litestar plugin.

.. code-block:: python

    from litestar import Litestar
    from agui_server import AGUIConfig, AGUIPlugin

    async def agent(input, ctx):
        yield "Hello from my agent!"

    app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agent=agent))])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agui_server import dialects, protocol
from agui_server.agents import (
    Agent,
    FunctionAgent,
    LLMConfigurationError,
    OfflineAgent,
    RunContext,
    ToolContext,
    ToolError,
    as_agent,
    load_agent,
    stream_text,
    stream_tool_call,
    tool,
    tool_result,
)
from agui_server.http import AGUIConfig, AGUIPlugin, create_app
from agui_server.observability import MetricsEndpoint, Telemetry
from agui_server.protocol.types import RunAgentInput
from agui_server.runs import (
    DisconnectPolicy,
    ErrorCode,
    MemoryBackend,
    MemoryThreadStore,
    RedisBackend,
    ThreadStore,
)
from agui_server.runs.interrupts import interrupt

if TYPE_CHECKING:
    from agui_server.agents import AnthropicAgent, OpenAIAgent, OpenAIResponsesAgent
    from agui_server.runs import SQLiteThreadStore

_LAZY = {
    "AnthropicAgent": "agui_server.agents",
    "OpenAIAgent": "agui_server.agents",
    "OpenAIResponsesAgent": "agui_server.agents",
    "SQLiteThreadStore": "agui_server.runs",
}
"""Imported on first use: what a plain server never needs (the LLM adapters and their HTTP client, SQLite)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = (
    "AGUIConfig",
    "AGUIPlugin",
    "Agent",
    "AnthropicAgent",
    "DisconnectPolicy",
    "ErrorCode",
    "FunctionAgent",
    "LLMConfigurationError",
    "MemoryBackend",
    "MemoryThreadStore",
    "MetricsEndpoint",
    "OfflineAgent",
    "OpenAIAgent",
    "OpenAIResponsesAgent",
    "RedisBackend",
    "RunAgentInput",
    "RunContext",
    "SQLiteThreadStore",
    "Telemetry",
    "ThreadStore",
    "ToolContext",
    "ToolError",
    "__version__",
    "as_agent",
    "create_app",
    "dialects",
    "interrupt",
    "load_agent",
    "protocol",
    "stream_text",
    "stream_tool_call",
    "tool",
    "tool_result",
)
