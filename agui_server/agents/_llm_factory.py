"""The built-in LLM agents by name, for ``agui-server serve --agent openai|openai-responses|anthropic --model NAME``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from agui_server.agents.errors import LLMConfigurationError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from agui_server.agents._llm_loop import LLMAgent

__all__ = ("LLM_AGENTS", "llm_agent_from_env")

LLM_AGENTS: Final[dict[str, tuple[str, str]]] = {
    "openai": ("agui_server.agents.openai", "OpenAIAgent"),
    "openai-responses": ("agui_server.agents.openai_responses", "OpenAIResponsesAgent"),
    "anthropic": ("agui_server.agents.anthropic", "AnthropicAgent"),
}
"""The names ``--agent`` accepts for a built-in LLM adapter: its module and class, imported when asked for (a
server that runs no LLM never imports the adapters or their HTTP client)."""


def llm_agent_from_env(
    name: str, model: str | None = None, *, environ: Mapping[str, str] | None = None, **options: Any
) -> LLMAgent[Any]:
    """The built-in LLM agent called ``name``, configured from the environment (see each ``from_env``).

    Args:
        name: ``openai`` (any OpenAI-compatible Chat Completions server), ``openai-responses`` (the OpenAI
            Responses API) or ``anthropic``.
        model: the model; ``AGUI_MODEL`` when left out.
        environ: the variables to read (default ``os.environ``); pass the ``.env`` file merged in.
        **options: constructor settings (``instructions``, ``tools``, timeouts...).

    Raises:
        LLMConfigurationError: an unknown name, a missing key or model, a bad setting.
    """
    where = LLM_AGENTS.get(name.strip().lower())
    if where is None:
        raise LLMConfigurationError(f"unknown LLM agent {name!r}: choose one of {', '.join(LLM_AGENTS)}")
    module, attr = where
    agent: LLMAgent[Any] = getattr(importlib.import_module(module), attr).from_env(model, environ=environ, **options)
    return agent
