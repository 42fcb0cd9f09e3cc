"""Runs apart from HTTP: each run is a task that writes into its :class:`RunLog`.

The HTTP layer starts a run and follows its log; it never runs the agent itself. A finished run's log
is kept for ``retention`` seconds, so a client can still read it, then dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from agui_server.agents.base import RunContext
from agui_server.protocol.compat import is_legacy_client
from agui_server.runs.guard import Guard
from agui_server.runs.log import RunLog

if TYPE_CHECKING:
    from agui_server.agents.base import Agent
    from agui_server.protocol.types import RunAgentInput

__all__ = ("Run", "RunConflict", "RunManager")

logger = logging.getLogger("agui_server.runs")

_SHUTDOWN_TIMEOUT: Final = 10.0


class RunConflict(Exception):
    """A run with this ``runId`` exists and the request cannot be its retry (another thread or client)."""


@dataclass(slots=True, eq=False)
class Run:
    """One run: its ids, its log and the task that executes it."""

    run_id: str
    thread_id: str
    agent_id: str
    legacy_client: bool
    log: RunLog = field(default_factory=RunLog)
    task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        """Whether the run has ended (its log is complete)."""
        return self.log.closed

    def cancel(self) -> bool:
        """Ask the run to stop; it ends with the ``cancelled`` outcome. False if it had already ended."""
        if self.task is None or self.task.done():
            return False
        return self.task.cancel()


class RunManager:
    """Starts runs, keeps them findable by id while they run and for ``retention`` seconds after.

    Args:
        strict: guards end a run on the agent's first protocol violation.
        retention: seconds a finished run's log stays readable.
        run_timeout: seconds a run may take (``None``: no limit).
    """

    def __init__(self, *, strict: bool = False, retention: float = 300.0, run_timeout: float | None = None) -> None:
        self.strict = strict
        self.retention = retention
        self.run_timeout = run_timeout
        self._runs: dict[str, Run] = {}

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, run_id: str) -> Run | None:
        """The run with this id, if it is running or still retained."""
        return self._runs.get(run_id)

    def start(self, agent: Agent, input: RunAgentInput, *, agent_id: str = "default") -> Run:
        """Start a run of ``agent`` on ``input``; returns at once, the run goes on in its own task.

        A ``runId`` that is already known re-attaches to that run rather than starting another (a retried
        POST); it is a :class:`RunConflict` when the known run belongs to another thread or was encoded for
        another protocol version.
        """
        legacy = is_legacy_client(input.protocol_version)
        existing = self._runs.get(input.run_id)
        if existing is not None:
            if existing.thread_id != input.thread_id or existing.legacy_client != legacy:
                raise RunConflict(input.run_id)
            return existing
        run = Run(run_id=input.run_id, thread_id=input.thread_id, agent_id=agent_id, legacy_client=legacy)
        ctx = RunContext(thread_id=input.thread_id, run_id=input.run_id, agent_id=agent_id, legacy_client=legacy)
        log = run.log
        guard = Guard(input, ctx, log.append, strict=self.strict, run_timeout=self.run_timeout)
        self._runs[run.run_id] = run
        run.task = asyncio.get_running_loop().create_task(guard.run(agent), name=f"agui-run-{run.run_id}")
        run.task.add_done_callback(lambda _task: self._ended(run))
        return run

    def _ended(self, run: Run) -> None:
        run.log.close()
        task = run.task
        if task is not None and not task.cancelled() and task.exception() is not None:
            logger.error("run %s ended with an unexpected error", run.run_id, exc_info=task.exception())
        loop = asyncio.get_running_loop()
        loop.call_later(self.retention, self._forget, run)

    def _forget(self, run: Run) -> None:
        if self._runs.get(run.run_id) is run:
            del self._runs[run.run_id]

    async def shutdown(self) -> None:
        """Cancel every run and wait (bounded) for their cleanup."""
        tasks = [run.task for run in self._runs.values() if run.task is not None and not run.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SHUTDOWN_TIMEOUT):
                    await asyncio.gather(*tasks, return_exceptions=True)
        self._runs.clear()
