"""The built-in LLM agents by name, for ``agui-server serve --agent openai|openai-responses|anthropic --model NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from agui_server.agents.anthropic import AnthropicAgent
from agui_server.agents.errors import LLMConfigurationError
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.openai_responses import OpenAIResponsesAgent

if TYPE_CHECKING:
    from collections.abc import Mapping

    from agui_server.agents._llm_loop import LLMAgent

__all__ = ("LLM_AGENTS", "llm_agent_from_env")

LLM_AGENTS: Final[dict[str, type[OpenAIAgent] | type[OpenAIResponsesAgent] | type[AnthropicAgent]]] = {
    "openai": OpenAIAgent,
    "openai-responses": OpenAIResponsesAgent,
    "anthropic": AnthropicAgent,
}
"""The names ``--agent`` accepts for a built-in LLM adapter."""


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
    factory = LLM_AGENTS.get(name.strip().lower())
    if factory is None:
        raise LLMConfigurationError(f"unknown LLM agent {name!r}: choose one of {', '.join(LLM_AGENTS)}")
    return factory.from_env(model, environ=environ, **options)
