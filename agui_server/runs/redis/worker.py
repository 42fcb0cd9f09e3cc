"""Workers: claim queued runs, execute them under the guard, append their events to Redis, finish them.

A worker reads the queue with a consumer group and claims what it read by compare-and-set (``queued ->
running``) with a fresh owner token, taking the queue entry off the queue in the same script; the read and
the claim go to Redis in one write, so a run is handed over and claimed in one round trip. While the run
executes it renews its lease every ``lease / 3`` seconds; the renewal also tells it when the run was
cancelled. Events go to Redis in batches, one stream entry per batch (entries.py): while one append is in
flight the next batch gathers. Writes are fenced by the token, so a worker that lost its lease cannot
write into the run the reaper already ended.

The :class:`Reaper` (run by every process, one at a time through a lock) ends runs whose lease expired
with ``RUN_ERROR`` ``WORKER_LOST`` and runs nobody claimed in time with ``NO_WORKER``, and puts back in
the queue the runs a worker read from it but died before claiming.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import msgspec
from redis.exceptions import NoScriptError, RedisError, ResponseError

from agui_server.agents.base import DEFAULT_AGENT_ID, RunContext
from agui_server.observability.telemetry import count_ended, received
from agui_server.principals import Principal, owner_of
from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_input, encode_event
from agui_server.runs.backend import MAX_EVENTS_PER_RUN, MAX_EVENTS_PER_THREAD, RUN_RETENTION, RUN_TIMEOUT
from agui_server.runs.codes import ErrorCode
from agui_server.runs.config import LEASE, START_TIMEOUT, WORKER_SLOTS
from agui_server.runs.interrupts import answered_after
from agui_server.runs.recorder import RunRecorder
from agui_server.runs.redis import scripts
from agui_server.runs.redis.client import send_together
from agui_server.runs.redis.threads import RedisThreadStore
from agui_server.runs.redis.writer import LeaseScripts, RunWriter
from agui_server.runs.reducer import with_history

if TYPE_CHECKING:
    from collections.abc import Callable

    from agui_server.agents.base import Agent
    from agui_server.observability.telemetry import Telemetry
    from agui_server.runs.guard import Guard
    from agui_server.runs.redis.keys import Keys

__all__ = ("Reaper", "RedisWorker", "WorkerSettings")

logger = logging.getLogger("agui_server.runs.redis")


@dataclass(frozen=True, slots=True)
class WorkerSettings:
    """Timing and bounds shared by workers, the reaper and the web side."""

    lease: float = LEASE
    """Seconds a worker's claim on a run lasts without renewal; a dead worker is found within this."""
    start_timeout: float = START_TIMEOUT
    """Seconds a run may wait in the queue before it fails with ``NO_WORKER`` (the web process that queues a run
    sets its deadline; every reaper honours it)."""
    retention: float = RUN_RETENTION
    """Seconds a finished run's log and status stay in Redis."""
    max_events_per_run: int = MAX_EVENTS_PER_RUN
    """Events a run's log keeps at most (older ones go, a batch at a time)."""
    max_events_per_thread: int = MAX_EVENTS_PER_THREAD
    """Events a thread's feed keeps at most."""
    strict: bool = False
    """Guards end a run on the agent's first protocol violation."""
    run_timeout: float | None = RUN_TIMEOUT
    """Seconds a run may take."""
    reap_interval: float = 1.0
    """Seconds between reaper passes."""
    requeue_lost: bool = False
    """When a worker dies mid-run, queue the run once more instead of ending it with ``WORKER_LOST``, for
    agents that say they are safe to repeat (``safe_to_repeat = True``). Clients then see ``RUN_ERROR``
    (``WORKER_LOST``, "retrying") followed by a new ``RUN_STARTED`` of the same run."""

    @property
    def lease_ms(self) -> int:
        return int(self.lease * 1000)

    @property
    def retention_ms(self) -> int:
        return int(self.retention * 1000)

    @property
    def lock_ms(self) -> int:
        """How long a thread's admission lock lives without renewal."""
        return int(max(self.lease, self.start_timeout) * 2000)


class _Claim(NamedTuple):
    """A run's part of the ``CLAIM`` script's reply (scripts.py) after its id and token, field by field."""

    input: bytes
    agent_id: bytes
    legacy: bytes
    thread_id: bytes
    cancel: bytes
    policy: bytes
    generation: bytes | None
    seq: bytes | None
    started: bytes | None
    """``1``: ``SUBMIT`` wrote the run's ``RUN_STARTED`` already."""
    stored: bytes | None
    """The thread's stored history (JSON), if Redis has it."""
    trace: bytes
    """The trace context the web process handed over (observability.telemetry.handoff)."""
    queued: int
    """Runs still queued."""
    waited_ms: int
    """Milliseconds since the run's submission."""


def _around(key: Callable[[str], str]) -> tuple[str, str]:
    """What the keys ``key`` makes are around the id they are made of."""
    head, _, tail = key("\0").partition("\0")
    return head, tail


class _Execution:
    """One claimed run on this worker."""

    def __init__(self, worker: RedisWorker, run_id: str, token: str, claim: _Claim) -> None:
        self.worker = worker
        self.run_id = run_id
        self.token = token
        try:
            history = RedisThreadStore.decode(claim.stored)
        except (msgspec.DecodeError, msgspec.ValidationError):
            logger.exception("run %s: the stored thread cannot be read; the run starts without it", run_id)
            history = None
        request = decode_input(claim.input)
        self.answered = answered_after(history, request.resume, run_id)
        self.input = with_history(request, history)
        self.agent_id = claim.agent_id.decode()
        self.legacy = claim.legacy == b"1"
        self.generation = int(claim.generation or 0)
        self.thread_id = claim.thread_id.decode()
        self.cancel_requested = claim.cancel == b"1"
        self._started = claim.started == b"1"  # SUBMIT wrote the run's RUN_STARTED: the guard's own is not written
        self.parent, self.route = received(claim.trace)
        """The web request's trace context (the parent of the run's span) and route."""
        self.writer = RunWriter(
            worker.scripts, worker.threads, worker.settings, run_id=run_id, thread_id=self.thread_id,
            agent_id=self.agent_id, token=token, seq=int(claim.seq or 0),
        )  # fmt: skip
        self.lost = False
        self.finished = False
        """The run's end was written with its last batch."""
        self.task: asyncio.Task[None] | None = None
        self.guard: Guard | None = None
        self._waiter: asyncio.Future[None] | None = None  # the flush loop waiting for events

    def write(self, payload: bytes, event_type: str) -> None:
        if self._started and event_type == "RUN_STARTED":
            self._started = False
            return
        self.writer.outbox.add(payload, event_type)
        if self._waiter is not None:
            self._wake()

    def _wake(self, _task: object = None) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        worker = self.worker
        keys = worker.keys
        settings = worker.settings
        ctx = RunContext(
            thread_id=self.input.thread_id,
            run_id=self.run_id,
            agent_id=self.agent_id,
            legacy_client=self.legacy,
            generation=self.generation,
            principal=Principal(owner_of(self.thread_id)),
        )
        recorder = RunRecorder(
            self.input, ctx, self.write, strict=settings.strict, run_timeout=settings.run_timeout,
            telemetry=worker.telemetry, parent=self.parent, route=self.route,
        )  # fmt: skip
        guard = self.guard = recorder.guard
        agent = worker.agents.get(self.agent_id)
        if agent is not None and settings.requeue_lost and getattr(agent, "safe_to_repeat", False):
            await worker.redis.hset(keys.meta(self.run_id), "repeatable", 1)
        if agent is None:
            guard.start()
            guard.fail(ErrorCode.UNKNOWN_AGENT, f"No agent with id {self.agent_id!r} on this worker.")
            self.task = asyncio.get_running_loop().create_task(asyncio.sleep(0))
        else:
            self.task = asyncio.get_running_loop().create_task(recorder.run(agent), name=f"agui-run-{self.run_id}")
        self.task.add_done_callback(self._wake)
        if self.cancel_requested:
            self.task.cancel()
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            await self._flush_until_done(recorder)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        terminal = recorder.terminal
        if self.lost or self.finished or terminal is None:
            return
        thread = recorder.thread(self.thread_id, self.input.messages, self.input.state, self.answered)
        writer = self.writer
        await writer.retrying(lambda: writer.finish(terminal, thread))

    async def _flush_until_done(self, recorder: RunRecorder) -> None:
        assert self.task is not None
        writer = self.writer
        outbox = writer.outbox
        loop = asyncio.get_running_loop()
        while True:
            if not outbox:
                if self.task.done():
                    if recorder.terminal is None and not self.lost and self.task.cancelled():
                        # cancelled before its first step (stopped while queued): the agent never ran, the
                        # run still ends, cancelled, rather than waiting for the reaper's WORKER_LOST
                        recorder.guard.cancelled()
                        continue
                    return
                self._waiter = loop.create_future()
                await self._waiter  # an event, or the end of the run
                continue
            terminal = recorder.terminal
            if terminal is not None and self.task.done() and writer.last_batch_ready:
                # the last batch and the run's end in one round trip (a short run's only write after its claim)
                thread = recorder.thread(self.thread_id, self.input.messages, self.input.state, self.answered)
                finish = functools.partial(writer.append_and_finish, terminal, thread)
                written = await writer.retrying(finish, self._outage)
                self.finished = bool(written)
            else:
                # while a batch is in flight the next one gathers; while Redis is away the events wait here
                written = await writer.retrying(writer.append, self._outage)
            if not written:
                if written is not None:
                    logger.warning("run %s: lost its lease; stopping without writing more", self.run_id)
                self.lost = True
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self.task
                return

    def _outage(self) -> None:
        """Redis is unreachable and the run's events wait in the outbox: past its bounds the run ends with
        ``BACKEND_UNAVAILABLE`` (the agent stops; what it produced is written when Redis is back)."""
        if self.writer.outbox.full and self.task is not None and not self.task.done() and self.guard is not None:
            logger.error("run %s: Redis unreachable and its outbox is full; ending the run", self.run_id)
            self.guard.fail(
                ErrorCode.BACKEND_UNAVAILABLE,
                "The run's event store was unreachable for too long while the agent went on; the run was ended.",
            )
            self.task.cancel()

    async def _heartbeat(self) -> None:
        await self.writer.keep_leased(on_stop=self._stop_requested, on_lost=self._lease_lost)

    def _stop_requested(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _lease_lost(self) -> None:
        self.lost = True
        if self.task is not None:
            self.task.cancel()


class RedisWorker:
    """Executes queued runs with up to ``slots`` at once."""

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        agents: dict[str, Agent],
        threads: RedisThreadStore,
        *,
        slots: int = WORKER_SLOTS,
        settings: WorkerSettings | None = None,
        worker_id: str | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.telemetry = telemetry
        """Where the runs' spans and metrics go (``None``: nowhere)."""
        self.redis = redis
        self.keys = keys
        self.agents = agents
        self.threads = threads
        self.slots = slots
        self.settings = settings or WorkerSettings()
        self.worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.scripts = LeaseScripts.register(redis)
        self._claim_script = redis.register_script(scripts.CLAIM)
        self._release_script = redis.register_script(scripts.RELEASE)
        self._key_parts = [*_around(keys.meta), *_around(keys.thread)]
        """What a run's meta key and a thread's key are around their ids (the ``CLAIM`` script makes them)."""
        self._running: dict[str, _Execution] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._free = asyncio.Event()
        self._free.set()
        self._stopping = False

    async def start(self) -> None:
        """Start consuming the queue and listening for cancellations."""
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._consume(), name=f"agui-worker-{self.worker_id}"),
            loop.create_task(self._listen_cancel(), name=f"agui-worker-cancel-{self.worker_id}"),
        ]

    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking runs, cancel the ones running (they end ``cancelled``), wait for them (bounded).

        The queue reader is not cancelled in the middle of its blocking read (redis-py may then hang on
        to the cancellation): it is told to stop and returns after its current ``XREADGROUP`` (1 s).
        """
        self._stopping = True
        self._free.set()
        for task in self._loops[1:]:
            task.cancel()
        for execution in list(self._running.values()):
            if execution.task is not None:
                execution.task.cancel()
        pending = [*self._tasks, *self._loops]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=timeout)
            for task in late:
                task.cancel()

    def _is_stopping(self) -> bool:
        return self._stopping

    async def _ensure_group(self) -> None:
        try:
            await self.redis.xgroup_create(self.keys.queue, self.keys.GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self) -> None:
        group_ready = False
        seen_at = 0.0  # when this worker last said it is alive
        while not self._stopping:
            try:
                if not group_ready:
                    await self._ensure_group()
                    group_ready = True
                free = self.slots - len(self._running)
                if free <= 0:
                    self._free.clear()
                    await self._free.wait()
                    continue
                for run_id, token, *claim in await self._take(free):
                    await self._start(run_id.decode(), token.decode(), _Claim(*claim))
                now = time.monotonic()
                if now - seen_at >= 1.0:
                    seen_at = now
                    await self.redis.zadd(self.keys.workers, {self.worker_id: int(time.time() * 1000)})
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("worker %s: Redis trouble (%s); retrying in 1 s", self.worker_id, exc)
                group_ready = False
                await asyncio.sleep(1.0)
            except Exception:  # one bad entry must not stop the worker taking runs
                logger.exception("worker %s: taking a run from the queue failed; going on in 1 s", self.worker_id)
                await asyncio.sleep(1.0)

    async def _take(self, free: int) -> list[list[Any]]:
        """Up to ``free`` runs from the queue, claimed: the read of the queue (blocking up to 1 s) and the
        ``CLAIM`` of what it delivered go to Redis in one write, so the worker wakes once per hand-over. The
        claim takes whatever was delivered to this worker and not yet claimed, so entries a lost reply left
        behind are taken with the next read."""
        keys = self.keys
        claim = self._claim_script
        claim_keys = [keys.queue, keys.leases, keys.queued]
        claim_args = [keys.GROUP, self.worker_id, free, f"{uuid.uuid4().hex}:", self.settings.lease_ms,
                      *self._key_parts]  # fmt: skip
        read = ("XREADGROUP", "GROUP", keys.GROUP, self.worker_id, "COUNT", free, "BLOCK", 1000, "STREAMS",
                keys.queue, ">")  # fmt: skip
        delivered, claimed = await send_together(
            self.redis, [read, ("EVALSHA", claim.sha, len(claim_keys), *claim_keys, *claim_args)]
        )
        if isinstance(delivered, ResponseError):
            raise delivered
        if isinstance(claimed, NoScriptError):  # (a new or flushed Redis: redis-py loads the script, runs it)
            claimed = await claim(keys=claim_keys, args=claim_args)
        elif isinstance(claimed, ResponseError):
            raise claimed
        return cast("list[list[Any]]", claimed)

    async def _start(self, run_id: str, token: str, claim: _Claim) -> None:
        """Execute a run this worker claimed (or, when it is stopping, put the run back in the queue)."""
        if self._is_stopping():
            keys = self.keys
            await self._release_script(
                keys=[keys.meta(run_id), keys.leases, keys.queued, keys.queue],
                args=[token, run_id, claim.thread_id],
            )
            return
        if claim.stored is None and self.threads.durable is not None:  # Redis no longer has the thread: its
            kept = await self.threads.durable.get(claim.thread_id.decode())  # history from the durable store
            claim = claim._replace(stored=None if kept is None else msgspec.json.encode(kept))
        metrics = self.telemetry.metrics if self.telemetry is not None else None
        if metrics is not None:
            metrics.redis_queue_depth.set(int(claim.queued))
            metrics.redis_claim_latency.record(max(0, int(claim.waited_ms)) / 1000)
        execution = _Execution(self, run_id, token, claim)
        self._running[run_id] = execution
        task = asyncio.get_running_loop().create_task(self._execute(execution))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, execution: _Execution) -> None:
        try:
            await execution.run()
        except (RedisError, OSError) as exc:
            logger.warning("run %s: Redis trouble while executing (%s); the reaper will end it", execution.run_id, exc)
            if execution.task is not None:
                execution.task.cancel()
        except Exception:
            logger.exception("run %s: the worker failed", execution.run_id)
        finally:
            self._running.pop(execution.run_id, None)
            self._free.set()

    async def _listen_cancel(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.keys.cancel)
                async for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    execution = self._running.get(message["data"].decode())
                    if execution is not None and execution.task is not None:
                        execution.task.cancel()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("worker %s: cancel channel lost (%s); resubscribing", self.worker_id, exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(1.0):  # redis-py may wait on the cancelled listener
                        await pubsub.aclose()


class Reaper:
    """Ends runs whose worker died (``WORKER_LOST``) and runs nobody claimed (``NO_WORKER``); writes to the
    durable thread store the threads a dead process left unwritten (``RedisThreadStore.settle_pending``).

    Its terminal events reach every feed the run's other events reach (the run's log, its thread's feed, and
    the server's and its agent's feeds while watched), and each run it ends is counted in ``agui.runs.ended``
    of this process's ``telemetry`` (a run queued once more has not ended: it is not counted).
    """

    def __init__(
        self,
        redis: Any,
        keys: Keys,
        settings: WorkerSettings,
        threads: RedisThreadStore | None = None,
        *,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.settings = settings
        self.threads = threads
        """With a durable thread store: the reaper also writes there the threads whose run's process did not."""
        self.telemetry = telemetry
        """Where the runs it ends are counted (``None``: nowhere)."""
        self._expire = redis.register_script(scripts.EXPIRE)
        self._end_queued = redis.register_script(scripts.END_QUEUED)
        self._requeue = redis.register_script(scripts.REQUEUE)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        lost = ev.RunErrorEvent(
            message="The worker running this run stopped answering; the run was ended.", code=ErrorCode.WORKER_LOST
        )
        nobody = ev.RunErrorEvent(message="No worker took this run in time; try again later.", code=ErrorCode.NO_WORKER)
        retry = ev.RunErrorEvent(
            message="The worker running this run stopped answering; the run starts once more.",
            code=ErrorCode.WORKER_LOST,
        )
        self._lost_payload = encode_event(lost)
        self._retry_payload = encode_event(retry)
        self._no_worker_payload = encode_event(nobody)

    def start(self) -> None:
        """Reap in the background."""
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="agui-reaper")

    async def stop(self, timeout: float = 2.0) -> None:
        """Stop reaping (bounded: a redis-py command may swallow the cancellation, so the loop also checks a
        flag, and the wait gives up after ``timeout`` seconds)."""
        self._stopping = True
        task = self._task
        if task is not None:
            task.cancel()
            await asyncio.wait([task], timeout=timeout)

    async def _loop(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.reap_interval)
            try:
                await self.reap_once()
            except (RedisError, OSError) as exc:
                logger.debug("reaper: Redis trouble (%s)", exc)
            except Exception:  # the next pass tries again: a reaper must outlive one bad run
                logger.exception("reaper: a pass failed")

    async def reap_once(self) -> int:
        """One pass; returns how many runs it ended (not those it queued once more or put back in the queue)."""
        keys = self.keys
        settings = self.settings
        interval_ms = int(settings.reap_interval * 1000)
        if not await self.redis.set(keys.reaper, "1", nx=True, px=max(interval_ms, 100)):
            return 0
        seconds, micros = await self.redis.time()
        now = int(seconds) * 1000 + int(micros) // 1000
        ended = 0
        retention = settings.retention_ms
        for member in await self.redis.zrangebyscore(keys.leases, "-inf", now):
            run_id = member.decode()
            thread, agent = await self._owners(run_id)
            result = int(
                await self._expire(
                    keys=keys.expired(run_id, thread, agent),
                    args=[
                        run_id, self._lost_payload, retention, settings.max_events_per_run,
                        settings.max_events_per_thread, self._retry_payload,
                    ],
                )
            )  # fmt: skip
            if result == 1:  # (2: queued once more; 3: ended with its own terminal event, counted by its worker)
                count_ended(self.telemetry, agent, "RUN_ERROR", self._lost_payload)
            if result in (1, 3):
                ended += 1
        await self._requeue_stranded()
        for member in await self.redis.zrangebyscore(keys.queued, "-inf", now):  # past their start deadline
            run_id = member.decode()
            thread, agent = await self._owners(run_id)
            result = int(
                await self._end_queued(
                    keys=keys.ended_queued(run_id, thread, agent),
                    args=[
                        run_id, self._no_worker_payload, retention, settings.max_events_per_run,
                        settings.max_events_per_thread, "RUN_ERROR", "failed", 1,
                    ],
                )
            )  # fmt: skip
            if result == 1:
                count_ended(self.telemetry, agent, "RUN_ERROR", self._no_worker_payload)
                ended += 1
        if self.threads is not None and self.threads.durable is not None:
            try:
                await self.threads.settle_pending(now)
            except Exception as exc:  # (the durable store is down: the marks wait for the next pass)
                logger.warning("reaper: writing threads to the durable store failed: %s", exc)
        return ended

    async def _owners(self, run_id: str) -> tuple[str, str]:
        """The run's thread key and agent, for its keys (a run whose status is gone has neither: its script
        then writes nothing)."""
        thread_id, agent_id = await self.redis.hmget(self.keys.meta(run_id), "thread_id", "agent_id")
        return (thread_id or b"").decode(), (agent_id.decode() if agent_id else DEFAULT_AGENT_ID)

    async def _requeue_stranded(self) -> int:
        """Queue entries read by a worker that never claimed them (idle for a lease): back in the queue."""
        keys = self.keys
        try:
            _cursor, entries, *_deleted = await self.redis.xautoclaim(
                keys.queue, keys.GROUP, "reaper", self.settings.lease_ms, "0-0", count=100
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # no worker has created the group yet
                return 0
            raise
        requeued = 0
        for entry_id, fields in entries:
            if not fields:  # deleted meanwhile
                continue
            run_id = fields[b"run"].decode()
            thread = fields.get(b"thread") or await self.redis.hget(keys.meta(run_id), "thread_id") or b""
            requeued += int(
                await self._requeue(keys=[keys.meta(run_id), keys.queue], args=[keys.GROUP, entry_id, run_id, thread])
            )
        if requeued:
            logger.warning("reaper: %d queued run(s) read by a worker that never claimed them went back", requeued)
        return requeued
