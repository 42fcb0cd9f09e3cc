"""A run's writes into Redis under its lease: batches of events, lease renewals, the end of the run.

A worker executing a queued run and a :class:`~agui_server.runs.redis.publisher.RunPublisher` publishing
one from outside both hold a run by a lease token and write the same way: the guard's events gather in an
:class:`~agui_server.runs.redis.entries.Outbox` and go out one batch per ``APPEND`` (fenced by the token,
so a writer that lost its lease cannot write into a run the reaper ended), the lease is renewed with
``HEARTBEAT``, and ``FINISH`` sets the run's status from its terminal event and stores its thread in one
step. What they write comes from a :class:`~agui_server.runs.recorder.RunRecorder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_event
from agui_server.runs.codes import ErrorCode
from agui_server.runs.redis import scripts
from agui_server.runs.redis.entries import Outbox

if TYPE_CHECKING:
    from agui_server.runs.redis.threads import RedisThreadStore
    from agui_server.runs.redis.worker import WorkerSettings
    from agui_server.runs.threads import Thread

__all__ = ("LeaseScripts", "RunWriter", "status_of_terminal")


def status_of_terminal(event_type: str, payload: bytes) -> str:
    """The run status a terminal event means."""
    event = decode_event(payload)
    if isinstance(event, ev.RunFinishedEvent):
        return "cancelled" if isinstance(event.outcome, ev.CancelledOutcome) else "finished"
    if isinstance(event, ev.RunErrorEvent) and event.code == ErrorCode.CANCELLED:
        return "cancelled"
    return "failed" if event_type == "RUN_ERROR" else "finished"


@dataclass(frozen=True, slots=True)
class LeaseScripts:
    """The scripts a lease holder writes with (registered once per client)."""

    append: Any
    heartbeat: Any
    finish: Any

    @classmethod
    def register(cls, redis: Any) -> LeaseScripts:
        return cls(
            redis.register_script(scripts.APPEND),
            redis.register_script(scripts.HEARTBEAT),
            redis.register_script(scripts.FINISH),
        )


class RunWriter:
    """Writes one run that ``token`` holds.

    Args:
        scripts: the registered scripts.
        threads: the thread store (its keys, encoding and trimming).
        settings: lease, retention and bounds.
        run_id, thread_id, agent_id: the run, its thread key and its agent (whose feed it also writes).
        token: the lease token.
    """

    __slots__ = ("_append_keys", "_beat_keys", "_fixed", "agent_id", "outbox", "run_id", "scripts", "settings",
                 "thread_id", "threads", "token")  # fmt: skip

    def __init__(
        self,
        scripts: LeaseScripts,
        threads: RedisThreadStore,
        settings: WorkerSettings,
        *,
        run_id: str,
        thread_id: str,
        agent_id: str,
        token: str,
    ) -> None:
        self.scripts = scripts
        self.threads = threads
        self.settings = settings
        self.run_id = run_id
        self.thread_id = thread_id
        self.agent_id = agent_id
        self.token = token
        self.outbox = Outbox()
        """The events not yet written (the recorder's writer is ``outbox.add``)."""
        keys = threads.keys
        self._append_keys = keys.appended(run_id, thread_id, agent_id)
        self._fixed = [token, settings.max_events_per_run, settings.max_events_per_thread, settings.retention_ms]
        self._beat_keys = [keys.meta(run_id), keys.leases, keys.active(thread_id), keys.log(run_id)]

    async def append(self) -> bool:
        """Write the next batch of the outbox (one ``APPEND``); False when the lease is no longer ours."""
        result = await self.scripts.append(
            keys=self._append_keys, args=[*self._fixed, *self.outbox.take(), self.threads.ttl_ms]
        )
        return int(result) >= 0

    async def flush(self) -> bool:
        """Write the whole outbox; False when the lease is no longer ours."""
        while self.outbox:
            if not await self.append():
                return False
        return True

    async def renew(self) -> int:
        """Renew the lease: 0 renewed, 1 renewed and the run was asked to stop, negative: no longer ours."""
        settings = self.settings
        return int(
            await self.scripts.heartbeat(
                keys=self._beat_keys,
                args=[self.token, settings.lease_ms, self.run_id, settings.lock_ms, settings.retention_ms],
            )
        )

    async def finish(self, terminal: tuple[str, bytes], thread: Thread | None) -> bool:
        """End the run (its status from its terminal event) and store its thread, in one step (the
        ``FINISH`` script); False when the run was no longer ours."""
        threads = self.threads
        keys = threads.keys
        settings = self.settings
        payload, ttl, updated_ms = threads.encode(thread) if thread is not None else (b"", 0, 0)
        stored = int(
            await self.scripts.finish(
                keys=[
                    keys.meta(self.run_id), keys.log(self.run_id), keys.leases, keys.active(self.thread_id),
                    keys.thread(self.thread_id), keys.threads,
                ],
                args=[
                    self.token, status_of_terminal(*terminal), settings.retention_ms, self.run_id, payload, ttl,
                    updated_ms, self.thread_id,
                ],
            )
        )  # fmt: skip
        if stored < 0:
            return False
        if thread is not None:
            await threads.trim(stored)
        return True
