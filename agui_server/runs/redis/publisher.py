"""``RunPublisher``: publish a run from your own worker (Celery, a Kafka consumer, a cron job).

.. code-block:: python

    from agui_server.runs.redis import RunPublisher

    async with RunPublisher("redis://localhost:6379/0", run_id, thread_id=thread_id) as run:
        await run.text("Working on it… ")
        await run.event(ToolCallStartEvent(tool_call_id="c1", tool_call_name="lookup"))
        ...

A web process streams it like any other run (``GET /ag-ui/runs/{runId}/events``, or the thread's
subscription). The guard's rules hold: ``RUN_STARTED`` goes first, what is left open is closed, one
terminal event ends the run (``RUN_FINISHED`` when the block ends, ``RUN_ERROR`` when it raises), and
nothing is accepted after it. An event that breaks an AG-UI ordering rule raises ``OrderingViolation``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any, Final, Self

import msgspec

from agui_server.agents.base import RunContext
from agui_server.protocol.types import RunAgentInput
from agui_server.runs.backend import ThreadBusy
from agui_server.runs.codes import ErrorCode
from agui_server.runs.config import REDIS_PREFIX
from agui_server.runs.recorder import RunRecorder
from agui_server.runs.redis import scripts
from agui_server.runs.redis.client import redis_client
from agui_server.runs.redis.keys import Keys
from agui_server.runs.redis.threads import RedisThreadStore
from agui_server.runs.redis.worker import WorkerSettings
from agui_server.runs.redis.writer import LeaseScripts, RunWriter

if TYPE_CHECKING:
    from types import TracebackType

    from agui_server.protocol import events as ev

__all__ = ("PUBLISHED_AGENT_ID", "RunPublisher")

PUBLISHED_AGENT_ID: Final = "external"
"""The agent id of runs a ``RunPublisher`` publishes (their agent's feed is ``/stream/external``)."""

logger = logging.getLogger("agui_server.runs.redis")


def _ignore() -> None:
    pass


class RunPublisherError(Exception):
    """The run cannot be published (it exists already, or the publisher lost it)."""


class RunPublisher:
    """Publishes one run into Redis.

    Args:
        redis_url: the Redis the web processes use.
        run_id: the run's id; clients stream ``GET /ag-ui/runs/{run_id}/events``.
        thread_id: the thread it belongs to (default: the run id). The thread's stored history gets
            what the run produced.
        protocol_version: ``"1.0"``, or ``None`` to encode for 0.0.x clients (CopilotKit 1.75).
        prefix: the key prefix the web processes use.
        settings: lease and retention (the publisher renews its lease while the block runs).
    """

    def __init__(
        self,
        redis_url: str,
        run_id: str,
        *,
        thread_id: str | None = None,
        protocol_version: str | None = "1.0",
        prefix: str = REDIS_PREFIX,
        settings: WorkerSettings | None = None,
    ) -> None:
        self.run_id = run_id
        self.thread_id = thread_id or run_id
        self.settings = settings or WorkerSettings(strict=True)
        self.keys = Keys(prefix)
        self._redis: Any = redis_client(redis_url, name="agui-publisher", max_connections=8)
        self._token = uuid.uuid4().hex
        self._input = RunAgentInput(
            thread_id=self.thread_id, run_id=run_id, messages=[], protocol_version=protocol_version
        )
        ctx = RunContext(thread_id=self.thread_id, run_id=run_id, legacy_client=protocol_version is None)
        self._threads = RedisThreadStore(self._redis, self.keys)
        self._writer = RunWriter(
            LeaseScripts.register(self._redis), self._threads, self.settings, run_id=run_id,
            thread_id=self.thread_id, agent_id=PUBLISHED_AGENT_ID, token=self._token,
        )  # fmt: skip
        self._recorder = RunRecorder(self._input, ctx, self._writer.outbox.add, strict=True, run_timeout=None)
        self._guard = self._recorder.guard
        self._heartbeat: asyncio.Task[None] | None = None

    def _lost(self) -> RunPublisherError:
        return RunPublisherError(f"run {self.run_id!r} is no longer ours (its lease expired or it was ended)")

    async def _flush(self) -> None:
        if not await self._writer.retrying(self._writer.flush):
            raise self._lost()

    async def __aenter__(self) -> Self:
        try:
            return await self._open()
        except BaseException:
            if self._heartbeat is not None:
                self._heartbeat.cancel()
            await self._redis.aclose()  # a run already opened is ended by the reaper when its lease runs out
            raise

    async def _open(self) -> Self:
        keys = self.keys
        opened = await self._redis.register_script(scripts.OPEN)(
            keys=[keys.meta(self.run_id), keys.leases, keys.active(self.thread_id)],
            args=[
                self.run_id, self.thread_id, "1" if self._input.protocol_version is None else "0",
                msgspec.json.encode(self._input), self._token, self.settings.lease_ms, self.settings.lock_ms,
                PUBLISHED_AGENT_ID,
            ],
        )  # fmt: skip
        if opened == b"exists":
            raise RunPublisherError(f"a run with id {self.run_id!r} exists already")
        if opened == b"busy":
            raise ThreadBusy(self.thread_id, "(another run)")
        self._guard.start()
        await self._flush()
        self._heartbeat = asyncio.get_running_loop().create_task(
            self._writer.keep_leased(on_stop=_ignore, on_lost=_ignore)  # (a lost lease shows at the next write)
        )
        return self

    async def text(self, delta: str) -> None:
        """A piece of assistant text (an assistant message is opened for it and closed when needed)."""
        self._guard.push(delta)
        await self._flush()

    async def event(self, event: ev.Event | dict[str, Any] | Any) -> None:
        """Any AG-UI event. Raises ``OrderingViolation`` when it breaks a rule."""
        self._guard.push(event)
        await self._flush()

    async def finish(self, outcome: ev.RunOutcome | None = None) -> None:
        """End the run with ``RUN_FINISHED`` (what is open gets closed first)."""
        self._guard.finish(outcome)
        await self._flush()

    async def error(self, message: str, code: str = ErrorCode.AGENT_ERROR) -> None:
        """End the run with ``RUN_ERROR``."""
        self._guard.fail(code, message)
        await self._flush()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc is not None and not isinstance(exc, RunPublisherError):
                reference = uuid.uuid4().hex[:12]
                logger.error("published run %s failed (ref %s)", self.run_id, reference, exc_info=exc)
                self._guard.fail(ErrorCode.AGENT_ERROR, f"The agent failed. Reference: {reference}.")
            else:
                self._guard.finish()
            await self._flush()
            terminal = self._recorder.terminal
            if terminal is not None:
                previous = await self._threads.get(self.thread_id)
                messages = previous.messages if previous else []
                state = previous.state if previous else None
                answered = previous.answered_interrupts if previous else []
                thread = self._recorder.thread(self.thread_id, messages, state, answered)
                writer = self._writer
                if not await writer.retrying(lambda: writer.finish(terminal, thread)):
                    raise self._lost()
        finally:
            if self._heartbeat is not None:
                self._heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._heartbeat
            await self._redis.aclose()
