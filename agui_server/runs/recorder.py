"""The run loop every engine shares: a guard checks the agent's events, the recorder hands each one to the
engine's writer and keeps what the run's end needs.

The in-process engine writes into a run log and the thread's feeds, a Redis worker and a
:class:`~agui_server.runs.redis.publisher.RunPublisher` into an outbox bound for Redis: each passes its
writer here and stores the thread its own way. What is the same everywhere is written once: the guard (its
strictness and run timeout), which events fold into the stored thread, the terminal event, and the fold.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from agui_server.observability.telemetry import RunScope
from agui_server.runs.guard import Guard
from agui_server.runs.interrupts import interrupts_of
from agui_server.runs.reducer import FOLDED_EVENT_TYPES, TERMINAL_EVENT_TYPES, fold_run

if TYPE_CHECKING:
    from collections.abc import Callable

    from agui_server.agents.base import Agent, RunContext
    from agui_server.observability.telemetry import Telemetry
    from agui_server.protocol.types import Message, RunAgentInput
    from agui_server.runs.threads import AnsweredInterrupt, Thread

__all__ = ("RunRecorder",)

logger = logging.getLogger("agui_server.runs")


class RunRecorder:
    """One run's events on their way from the agent to the engine's writer.

    Args:
        input: the run's input (the thread's history merged in).
        ctx: what the agent knows of the run.
        write: the engine's writer: takes each encoded event and its type, in order.
        strict: the guard ends the run on the agent's first protocol violation.
        run_timeout: seconds the run may take (``None``: no limit).
        telemetry: where the run's span and metrics go (``None``: nowhere).
        parent: the parent context of the run's span (``None``: the current one; over Redis, what the web
            process handed over, :func:`~agui_server.observability.telemetry.received`).
        route: the route the run was started through (``None``: the current request's).
    """

    __slots__ = ("folded", "guard", "scope", "terminal", "write")

    def __init__(
        self,
        input: RunAgentInput,
        ctx: RunContext,
        write: Callable[[bytes, str], None],
        *,
        strict: bool,
        run_timeout: float | None,
        telemetry: Telemetry | None = None,
        parent: Any = None,
        route: str | None = None,
    ) -> None:
        self.write = write
        self.folded: list[bytes] = []
        """The payloads that fold into the stored thread (messages, state)."""
        self.terminal: tuple[str, bytes] | None = None
        """The run's terminal event (type, payload), once it has been written."""
        self.scope = RunScope(input, ctx, telemetry, parent=parent, route=route)
        """The run as traces, metrics and logs see it."""
        sink = self._observed_sink if self.scope.observed else self._sink
        self.guard = Guard(input, ctx, sink, strict=strict, run_timeout=run_timeout)

    def _sink(self, payload: bytes, event_type: str) -> None:
        self.write(payload, event_type)
        if event_type in FOLDED_EVENT_TYPES:
            self.folded.append(payload)
        elif event_type in TERMINAL_EVENT_TYPES:
            self.terminal = (event_type, payload)

    def _observed_sink(self, payload: bytes, event_type: str) -> None:
        self._sink(payload, event_type)
        self.scope.event()
        if event_type in TERMINAL_EVENT_TYPES:
            self.scope.ended(event_type, payload)

    async def run(self, agent: Agent) -> None:
        """Run the agent under the guard, in the run's own task: the run is current there (its span is the
        parent of the agent's, its ids are in the log lines)."""
        scope = self.scope
        scope.enter()
        try:
            await self.guard.run(agent)
        finally:
            scope.exit()
            if self.terminal is None:
                scope.abandon()

    def thread(
        self, thread_id: str, messages: list[Message], state: Any, answered: list[AnsweredInterrupt]
    ) -> Thread | None:
        """The thread as the run leaves it: ``messages`` and ``state`` (what it had before the run) with the
        run's events folded in, the interrupts its end left open, and ``answered`` (the interrupts answered
        so far, this run's answers included); ``None`` (logged) when the events cannot be folded, so the
        stored thread is left as it was."""
        payloads, self.folded = self.folded, []
        try:
            thread = fold_run(thread_id, messages, state, payloads)
            thread.interrupts = interrupts_of(self.terminal)
            thread.answered_interrupts = answered
            return thread
        except Exception:
            logger.exception("folding a run into thread %s failed: it is left as it was", thread_id)
            return None
