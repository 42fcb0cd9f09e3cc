"""The agent contract: a ``RunAgentInput`` and a run context in, AG-UI events out.

An agent is anything with ``run(input, ctx)`` returning an async iterator, or a plain async generator
function ``async def agent(input, ctx)`` (``ctx`` may be left out). What it yields may be:

- an AG-UI event (``agui_server.protocol`` Structs, ``ag_ui.core`` pydantic events, or a dict in the
  wire shape), passed on after the guard has checked it;
- a ``str``: a piece of assistant text. The guard opens an assistant text message for it and closes
  that message when something else comes along.

The guard around every run (``agui_server.runs.guard``) sends ``RUN_STARTED`` and the terminal event,
closes what the agent leaves open and turns exceptions into ``RUN_ERROR``, so an agent may yield just
its content.
"""

from __future__ import annotations

import inspect
import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

from agui_server.principals import ANONYMOUS, Principal

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from agui_server.protocol.types import RunAgentInput

__all__ = ("DEFAULT_AGENT_ID", "Agent", "AgentOutput", "FunctionAgent", "RunContext", "as_agent")

DEFAULT_AGENT_ID: Final = "default"
"""The id of the agent ``POST <path>`` runs (``AGUIConfig.agent``; ``--agent`` without a name)."""

AgentOutput = Any
"""What an agent may yield: an event (Struct, ``ag_ui.core`` model or dict) or a ``str`` of text."""


@dataclass(slots=True)
class RunContext:
    """What an agent knows about the run it serves, besides its input.

    Attributes:
        thread_id: the conversation the run belongs to.
        run_id: this run's id, unique per thread.
        agent_id: the id the agent is served under (``default`` unless configured).
        legacy_client: the request came from a pre-1.0 client (no ``protocolVersion``).
        generation: how many runs with this ``run_id`` ran on the thread before (a client that reuses a
            ``runId`` for a new request starts a new run: 1, 2 …).
        principal: who started the run (over Redis, a worker knows its id only).
    """

    thread_id: str
    run_id: str
    agent_id: str = DEFAULT_AGENT_ID
    legacy_client: bool = False
    generation: int = 0
    principal: Principal = ANONYMOUS
    """Who started the run (``ANONYMOUS`` when the server authenticates nobody)."""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def new_id(self, kind: str = "msg") -> str:
        """A fresh id, unique within the thread: ``<kind>-<runId>-<n>`` (``<kind>-<runId>.<generation>-<n>``
        for a reused ``runId``), deterministic per run."""
        if self.generation:
            return f"{kind}-{self.run_id}.{self.generation}-{next(self._ids)}"
        return f"{kind}-{self.run_id}-{next(self._ids)}"


@runtime_checkable
class Agent(Protocol):
    """Turns a run's input into AG-UI events."""

    def run(self, input: RunAgentInput, ctx: RunContext) -> AsyncIterator[AgentOutput]:
        """Produce the run's events (see the module docstring for what may be yielded)."""
        ...


class FunctionAgent:
    """An agent made from a plain async generator function ``fn(input, ctx)`` or ``fn(input)``."""

    __slots__ = ("_fn", "_takes_ctx", "name")

    def __init__(self, fn: Callable[..., AsyncIterator[AgentOutput]]) -> None:
        self._fn = fn
        self.name = getattr(fn, "__qualname__", repr(fn))
        try:
            params = [
                p
                for p in inspect.signature(fn).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            ]
        except (TypeError, ValueError):  # builtins and odd callables: assume the full contract
            params = []
        self._takes_ctx = len(params) != 1

    def run(self, input: RunAgentInput, ctx: RunContext) -> AsyncIterator[AgentOutput]:
        """Call the function."""
        if self._takes_ctx:
            return self._fn(input, ctx)
        return self._fn(input)

    @property
    def safe_to_repeat(self) -> bool:
        """Whether the function says a run may be executed again after its worker died."""
        return bool(getattr(self._fn, "safe_to_repeat", False))

    def __repr__(self) -> str:
        return f"FunctionAgent({self.name})"


def as_agent(obj: object) -> Agent:
    """Accept an agent instance, an agent class (instantiated with no arguments) or a generator function.

    Raises:
        TypeError: ``obj`` is none of those.
    """
    if inspect.isclass(obj):
        obj = obj()
    if isinstance(obj, Agent):
        return obj
    if callable(obj):  # an async generator function, or a function returning an async iterator
        return FunctionAgent(obj)
    raise TypeError(
        f"{obj!r} is not an agent: expected an object with run(input, ctx), an agent class, "
        "or an async generator function"
    )
