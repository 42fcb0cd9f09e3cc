"""Finding an agent from a ``module:attribute`` reference (``--agent``, ``AGUI_AGENT``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from agui_server.agents.base import Agent, as_agent

__all__ = ("AgentLoadError", "load_agent")


class AgentLoadError(Exception):
    """The reference does not name an importable agent."""


def load_agent(reference: str) -> Agent:
    """Import ``package.module:attribute`` and make it an agent.

    The attribute may be an agent instance, an agent class (instantiated with no arguments) or an async
    generator function. The current directory is importable, as it is for ``python -m``.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        raise AgentLoadError(f"--agent wants 'module:attribute', got {reference!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentLoadError(f"cannot import module {module_name!r}: {exc}") from exc
    target: object = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise AgentLoadError(f"module {module_name!r} has no attribute {attribute!r}") from exc
    try:
        return as_agent(target)
    except TypeError as exc:
        raise AgentLoadError(str(exc)) from exc
