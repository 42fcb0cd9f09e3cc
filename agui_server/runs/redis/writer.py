"""A run's writes into Redis under its lease: batches of events, lease renewals, the end of the run.

A worker executing a queued run and a :class:`~agui_server.runs.redis.publisher.RunPublisher` publishing
one from outside both hold a run by a lease token and write the same way: the guard's events gather in an
:class:`~agui_server.runs.redis.entries.Outbox` and go out one batch per ``APPEND`` (fenced by the token,
so a writer that lost its lease cannot write into a run the reaper ended), the lease is renewed with
``HEARTBEAT``, and ``FINISH`` sets the run's status from its terminal event and stores its thread in one
step. What they write comes from a :class:`~agui_server.runs.recorder.RunRecorder`.

Redis may go away for a while (a restart, a failover, a freeze). A writer then keeps its events, retries
with backoff (:meth:`RunWriter.retrying`) and writes them in order when Redis is back, for as long as its
lease holds: the lease is counted from the last renewal Redis answered, exactly as the reaper counts it, so
a writer gives up no later than the reaper would end its run. A batch sent again after its reply was lost
is recognised by the run's event number and never written twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from redis.exceptions import RedisError

from agui_server.principals import owner_of
from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_event
from agui_server.runs.codes import ErrorCode
from agui_server.runs.interrupts import expires_ms
from agui_server.runs.redis import scripts
from agui_server.runs.redis.entries import MAX_BATCH, Outbox

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from agui_server.runs.redis.threads import RedisThreadStore
    from agui_server.runs.redis.worker import WorkerSettings
    from agui_server.runs.threads import Thread

__all__ = ("LeaseScripts", "RunWriter", "status_of_terminal")

logger = logging.getLogger("agui_server.runs.redis")

_T = TypeVar("_T")
_FIRST_RETRY: Final = 0.05
"""Seconds before the first retry while Redis is unreachable; each retry waits twice as long, up to
``_LAST_RETRY``."""
_LAST_RETRY: Final = 1.0
_RENEWALS_PER_LEASE: Final = 5
"""A lease is renewed this many times per lease period, so a run outlives a Redis outage of up to 4/5 of
its lease (8 s with the default 10 s lease)."""
_RENEW_RETRY: Final = 0.25
"""Seconds between renewals while Redis does not answer."""


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
    append_finish: Any

    @classmethod
    def register(cls, redis: Any) -> LeaseScripts:
        return cls(
            redis.register_script(scripts.APPEND),
            redis.register_script(scripts.HEARTBEAT),
            redis.register_script(scripts.FINISH),
            redis.register_script(scripts.APPEND_FINISH),
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

    __slots__ = ("_append_keys", "_beat_keys", "_fixed", "_unanswered", "agent_id", "outbox", "renewed_at", "run_id",
                 "scripts", "seq", "settings", "thread_id", "threads", "token")  # fmt: skip

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
        seq: int = 0,
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
        self.seq = seq
        """The number of the run's last event in Redis."""
        self.renewed_at = asyncio.get_running_loop().time()
        """When the last lease renewal (or the claim) that Redis answered was sent."""
        self._unanswered = 0  # events in a batch sent without an answer: it is sent again as it was
        keys = threads.keys
        self._append_keys = keys.appended(run_id, thread_id, agent_id)
        self._fixed = [token, settings.max_events_per_run, settings.max_events_per_thread, settings.retention_ms]
        self._beat_keys = [keys.meta(run_id), keys.leases, keys.active(thread_id), keys.log(run_id)]

    async def append(self) -> bool:
        """Write the next batch of the outbox (one ``APPEND``); False when the lease is no longer ours.
        A failed write (``RedisError``, ``OSError``) leaves the batch in the outbox, to be sent again."""
        batch = self.outbox.batch(self._unanswered or MAX_BATCH)
        self._unanswered = int(batch[0])  # (Redis may have it: the same batch goes again, or none)
        result = int(
            await self.scripts.append(
                keys=self._append_keys, args=[*self._fixed, *batch, self.threads.ttl_ms, self.seq]
            )
        )
        if result == -2:
            logger.error("run %s: Redis lost events it had acknowledged; the run cannot go on", self.run_id)
        if result < 0:
            return False
        self.outbox.drop(self._unanswered)
        self._unanswered = 0
        self.seq = result
        return True

    @property
    def lease_left(self) -> float:
        """Seconds the lease still holds, as the reaper counts it (from the last renewal Redis answered)."""
        return self.renewed_at + self.settings.lease - asyncio.get_running_loop().time()

    async def retrying(
        self, attempt: Callable[[], Awaitable[_T]], on_outage: Callable[[], object] | None = None
    ) -> _T | None:
        """``attempt()``, again with backoff while Redis is unreachable, as long as the lease holds; ``None``
        once it has run out (the reaper ends the run). ``on_outage`` is called before each wait."""
        delay = _FIRST_RETRY
        while True:
            try:
                return await attempt()
            except (RedisError, OSError) as exc:
                left = self.lease_left
                if left <= 0:
                    logger.error("run %s: Redis unreachable past the run's lease (%s); giving it up", self.run_id, exc)
                    return None
                if delay == _FIRST_RETRY:
                    logger.warning("run %s: Redis unreachable (%s); keeping its events and retrying", self.run_id, exc)
                if on_outage is not None:
                    on_outage()
                await asyncio.sleep(min(delay, left))
                delay = min(delay * 2, _LAST_RETRY)

    async def flush(self) -> bool:
        """Write the whole outbox; False when the lease is no longer ours."""
        while self.outbox:
            if not await self.append():
                return False
        return True

    async def renew(self) -> int:
        """Renew the lease: 0 renewed, 1 renewed and the run was asked to stop, negative: no longer ours."""
        settings = self.settings
        sent_at = asyncio.get_running_loop().time()
        result = int(
            await self.scripts.heartbeat(
                keys=self._beat_keys,
                args=[self.token, settings.lease_ms, self.run_id, settings.lock_ms, settings.retention_ms],
            )
        )
        if result >= 0:
            self.renewed_at = sent_at
        return result

    async def keep_leased(self, *, on_stop: Callable[[], object], on_lost: Callable[[], object]) -> None:
        """Renew the lease until cancelled: ``on_stop`` when the run is asked to stop, ``on_lost`` (and
        return) once the lease is no longer ours. While Redis does not answer, renewals are retried often
        (``_RENEW_RETRY``); the lease runs out meanwhile as the reaper counts it."""
        interval = self.settings.lease / _RENEWALS_PER_LEASE
        delay = interval
        while True:
            await asyncio.sleep(delay)
            try:
                result = await self.renew()
            except (RedisError, OSError) as exc:
                logger.warning("run %s: renewing its lease failed: %s", self.run_id, exc)
                delay = min(interval, _RENEW_RETRY)
                continue
            delay = interval
            if result < 0:
                on_lost()
                return
            if result == 1:
                on_stop()

    def _finish_args(self, terminal: tuple[str, bytes], thread: Thread | None) -> tuple[list[str], list[Any]]:
        """The keys after the run's own and the arguments from the status on of ``FINISH``."""
        threads = self.threads
        keys = threads.keys
        payload, ttl, updated_ms = threads.encode(thread) if thread is not None else (b"", 0, 0)
        return (
            [keys.leases, keys.active(self.thread_id), keys.thread(self.thread_id), keys.threads,
             keys.interrupts(self.thread_id), keys.owner_threads(owner_of(self.thread_id)),
             keys.thread_info(self.thread_id), *([keys.durable] if threads.durable is not None else [])],
            [status_of_terminal(*terminal), self.settings.retention_ms, self.run_id, payload, ttl, updated_ms,
             self.thread_id,
             *(value for item in (thread.interrupts if thread else ()) for value in (item.id, expires_ms(item)))],
        )  # fmt: skip

    async def finish(self, terminal: tuple[str, bytes], thread: Thread | None) -> bool:
        """End the run (its status from its terminal event) and store its thread, in one step (the
        ``FINISH`` script); False when the run was no longer ours."""
        keys, args = self._finish_args(terminal, thread)
        stored = int(await self.scripts.finish(keys=[*self._append_keys[:2], *keys], args=[self.token, *args]))
        return await self._stored(stored)

    @property
    def last_batch_ready(self) -> bool:
        """The outbox fits one batch, and no other batch is unanswered (Redis may have that one as it was)."""
        return len(self.outbox) <= MAX_BATCH and self._unanswered in (0, len(self.outbox))

    async def append_and_finish(self, terminal: tuple[str, bytes], thread: Thread | None) -> bool:
        """Write the whole outbox (one batch, ending with the terminal event) and end the run, in one step (the
        ``APPEND_FINISH`` script): one round trip where :meth:`append` and :meth:`finish` take two. False when
        the run was no longer ours; a failed write leaves the outbox as it was, to be sent again."""
        batch = self.outbox.batch()
        count = int(batch[0])
        keys, args = self._finish_args(terminal, thread)
        seq, stored = await self.scripts.append_finish(
            keys=[*self._append_keys, *keys],
            args=[*self._fixed, *batch, self.threads.ttl_ms, self.seq, *args],
        )
        seq = int(seq)
        if seq == -2:
            logger.error("run %s: Redis lost events it had acknowledged; the run cannot go on", self.run_id)
        if seq < 0:
            return False
        self.outbox.drop(count)
        self.seq = seq
        return await self._stored(int(stored))

    async def _stored(self, stored: int) -> bool:
        """After ``FINISH``: ``stored`` threads are stored (negative: the run was no longer ours)."""
        if stored < 0:
            return False
        if stored > 0:  # (a thread was stored)
            await self.threads.trim(stored)
            if self.threads.durable is not None:
                try:
                    await self.threads.settle(self.thread_id)
                except Exception as exc:  # the reaper writes it later (it stays marked)
                    logger.warning("run %s: writing thread to the durable store failed: %s", self.run_id, exc)
        return True
