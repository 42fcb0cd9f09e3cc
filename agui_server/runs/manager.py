"""Runs apart from HTTP: each run is a task that writes into its event log.

The HTTP layer starts a run and follows its log; it never runs the agent itself. The manager also

- merges the thread's stored history with the request's messages (a client may send only the new
  message) and stores what the run produced when it ends;
- admits one run per thread at a time (``reject`` a second one with :class:`ThreadBusy`, or
  ``supersede`` the running one);
- applies the disconnect policy when the last follower of a run goes away (``cancel``, ``continue``,
  or continue for a ``grace`` period);
- keeps every thread's events in a :class:`~agui_server.runs.log.Feed` for subscribers;
- keeps finished runs readable for ``retention`` seconds (and at most ``max_finished_runs`` of them).

This is the in-process backend: one event loop, no external service.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from agui_server.agents.base import DEFAULT_AGENT_ID, RunContext
from agui_server.principals import ANONYMOUS, Principal, owner_of, thread_key
from agui_server.protocol.compat import is_legacy_client
from agui_server.protocol.encoding import encode_json
from agui_server.runs.backend import (
    MAX_EVENTS_PER_RUN,
    MAX_EVENTS_PER_THREAD,
    MAX_FINISHED_RUNS,
    REPLAY_WINDOW,
    RUN_RETENTION,
    RUN_TIMEOUT,
    SETTLE_TIMEOUT,
    BusyPolicy,
    CursorAhead,
    DisconnectPolicy,
    RunCaps,
    RunConflict,
    ThreadBusy,
    TooManyRuns,
    cursor_state,
    make_way,
)
from agui_server.runs.followers import Followers
from agui_server.runs.interrupts import answered_after, check_resume, with_legacy_resume
from agui_server.runs.log import Feed, RunLog
from agui_server.runs.recorder import RunRecorder
from agui_server.runs.reducer import with_history
from agui_server.runs.threads import AnsweredInterrupt, MemoryThreadStore, Thread, ThreadPage, ThreadStore

if TYPE_CHECKING:
    from agui_server.agents.base import Agent
    from agui_server.observability.telemetry import Telemetry
    from agui_server.protocol.types import RunAgentInput
    from agui_server.runs.backend import CursorState, FrameSource, RunHandle

__all__ = ("Run", "RunLimits", "RunManager")

logger = logging.getLogger("agui_server.runs")

_SHUTDOWN_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True)
class RunLimits:
    """Bounds on what runs keep in memory."""

    retention: float = RUN_RETENTION
    """Seconds a finished run stays readable (resume, re-attach)."""
    max_finished_runs: int = MAX_FINISHED_RUNS
    """Finished runs kept at most; the oldest go first."""
    max_events_per_run: int = MAX_EVENTS_PER_RUN
    """Frames a run's log keeps; past that the oldest are dropped (a resume from there gets 410)."""
    max_events_per_thread: int = MAX_EVENTS_PER_THREAD
    """Events a thread's feed keeps for subscribers."""
    max_feeds: int = 1_000
    """Thread feeds kept; the least recently used go first. A feed with no subscriber is dropped when
    its thread's last run is forgotten."""
    replay_window: float = REPLAY_WINDOW
    """Seconds after a thread's run ended during which a new subscriber (no cursor) still gets that run
    from its start, so a message sent just before the subscription is not lost."""


def input_fingerprint(input: RunAgentInput) -> bytes:
    """What tells a retried request (same fingerprint: re-attach to its run) from a new one that reuses a
    ``runId`` (another fingerprint: a new run)."""
    return hashlib.blake2b(encode_json(input), digest_size=16).digest()


@dataclass(slots=True, eq=False)
class Run:
    """One run: its ids, its input (with the merged history), its log and the task that executes it."""

    run_id: str
    thread_id: str
    """The thread's key (``principals.thread_key``: the owner's namespace and the client's thread id)."""
    agent_id: str
    legacy_client: bool
    input: RunAgentInput
    policy: DisconnectPolicy
    log: RunLog
    recorder: RunRecorder | None
    """While the run goes on (a finished run that is kept need not keep its guard)."""
    fingerprint: bytes = b""
    """Of the request's input (before the thread's history was merged in)."""
    generation: int = 0
    """Runs with this ``run_id`` on the thread before this one (a reused ``runId``)."""
    answered: list[AnsweredInterrupt] = field(default_factory=list)
    """The thread's answered interrupts once this run's ``resume`` is in (stored with the thread)."""
    task: asyncio.Task[None] | None = None
    followers: Followers = field(init=False)
    ended: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    """Done once the run has ended and its thread is stored (one object, where an Event is two)."""

    def __post_init__(self) -> None:
        self.followers = Followers(self.run_id, self.policy)

    def is_finished(self) -> bool:
        """(:attr:`finished` as a callable.)"""
        return self.log.closed

    @property
    def finished(self) -> bool:
        """Whether the run has ended and its log is complete."""
        return self.log.closed

    async def ending(self) -> bool:
        """Whether the run has sent its terminal event (or ended)."""
        return self.log.closed or (self.recorder is not None and self.recorder.terminal is not None)

    async def settled(self, deadline: float) -> bool:
        """Wait until the run has ended and its thread is stored, or until ``deadline`` (the event loop's
        clock); False if it had not by then."""
        try:
            async with asyncio.timeout_at(deadline):
                await asyncio.shield(self.ended)
        except TimeoutError:
            return False
        return True

    async def supersede(self) -> None:
        """(``cancel`` for the busy rule.)"""
        self.cancel()

    def cancel(self) -> bool:
        """Ask the run to stop; it ends with the ``cancelled`` outcome. False if it had already ended."""
        if self.task is None or self.task.done():
            return False
        return self.task.cancel()


class RunManager:
    """Starts runs and keeps them, their threads and their feeds.

    Args:
        threads: where thread histories live (default: in memory).
        strict: guards end a run on the agent's first protocol violation.
        run_timeout: seconds a run may take (``None``: no limit).
        busy_policy: what a second run on a busy thread does: ``reject`` or ``supersede``.
        disconnect_policy: the default policy when a run's last follower disconnects.
        limits: memory bounds.
        caps: how many runs may be in progress at once (``TooManyRuns`` past them).
        telemetry: where the runs' spans and metrics go (``None``: nowhere).
    """

    def __init__(
        self,
        *,
        threads: ThreadStore | None = None,
        strict: bool = False,
        run_timeout: float | None = RUN_TIMEOUT,
        busy_policy: BusyPolicy = "reject",
        disconnect_policy: DisconnectPolicy | None = None,
        limits: RunLimits | None = None,
        caps: RunCaps | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        self.telemetry = telemetry
        self.threads: ThreadStore = threads if threads is not None else MemoryThreadStore()
        self.strict = strict
        self.run_timeout = run_timeout
        self.busy_policy = busy_policy
        self.disconnect_policy = disconnect_policy or DisconnectPolicy()
        self.limits = limits or RunLimits()
        self.caps = caps or RunCaps()
        self._owner_runs: dict[str, int] = {}
        self._runs: dict[str, Run] = {}
        self._finished: OrderedDict[str, float] = OrderedDict()
        self._active: dict[str, Run] = {}
        self._feeds: OrderedDict[str, Feed] = OrderedDict()
        self._agent_feeds: dict[str, Feed] = {}
        self._server_feed: Feed | None = None
        self._starting: set[str] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._runs)

    # -- lookups --------------------------------------------------------------------------------

    async def get(self, run_id: str) -> Run | None:
        """The run with this id, if it is running or still retained."""
        return self._runs.get(run_id)

    async def active_run(self, thread_id: str) -> Run | None:
        """The thread's run in progress, if any."""
        return self._active.get(thread_id)

    async def cursor_state(self, run: RunHandle, after: int) -> CursorState:
        """Where a resume cursor stands in the run's log."""
        log = self._runs[run.run_id].log if run.run_id in self._runs else None
        if log is None:
            return "expired"
        return cursor_state(after, log.first_seq, log.last_seq, log.closed)

    def open(self, run: RunHandle, after: int) -> RunLog:
        """The run's shared log (followers read it at their own pace)."""
        assert isinstance(run, Run)
        return run.log

    def feed(self, thread_id: str) -> Feed:
        """The thread's feed of events (created on first use)."""
        feed = self._feeds.get(thread_id)
        if feed is None:
            feed = self._feeds[thread_id] = Feed(self.limits.max_events_per_thread)
            if len(self._feeds) > self.limits.max_feeds:
                # the least recently used feeds nobody subscribes to go; a subscribed feed stays (its subscribers
                # would otherwise wait on a feed no run writes to), bounded by the streams a server holds
                excess = len(self._feeds) - self.limits.max_feeds
                idle: list[str] = []
                for key, kept in self._feeds.items():  # oldest first: usually the first one is idle
                    if kept.subscribers == 0 and key not in self._active:
                        idle.append(key)
                        if len(idle) == excess:
                            break
                for key in idle:
                    del self._feeds[key]
        else:
            self._feeds.move_to_end(thread_id)
        return feed

    async def subscribe(self, thread_id: str, after: int | None) -> Feed:
        """A client subscribes to the thread's feed after ``after``. ``None``: from the start of the
        thread's latest run when it is running or ended less than ``replay_window`` seconds ago (so a
        message posted just before the subscription is not lost), else from now.

        Raises:
            CursorExpired: the events after ``after`` are no longer kept.
            CursorAhead: ``after`` is past the newest event.
        """
        feed = self.feed(thread_id)
        if after is not None:
            if after > feed.last_seq:
                raise CursorAhead(after)
            feed.frames_after(after, limit=1)
        feed.subscribers += 1
        return feed

    async def subscribe_from(self, thread_id: str) -> int | None:
        """The cursor a new subscriber of the thread starts from (see :meth:`subscribe`)."""
        feed = self._feeds.get(thread_id)
        if feed is None or feed.run_start is None:
            return None
        recent = thread_id in self._active or time.monotonic() - feed.run_ended_at < self.limits.replay_window
        if recent and feed.run_start >= feed.first_seq - 1:
            return feed.run_start
        return None

    async def subscribe_all(self, agent_id: str | None, after: int | None) -> Feed:
        """Follow every run's events after ``after`` (``None``, or past the newest: from now): of one agent, or
        of the whole server (``None``). Such a feed exists from its first subscriber on.

        Raises:
            CursorExpired: the events after ``after`` are no longer kept.
        """
        if agent_id is None:
            if self._server_feed is None:
                self._server_feed = Feed(self.limits.max_events_per_thread)
            feed = self._server_feed
        else:
            feed = self._agent_feeds.get(agent_id) or self._agent_feeds.setdefault(
                agent_id, Feed(self.limits.max_events_per_thread)
            )
        if after is not None and after < feed.last_seq:
            feed.frames_after(after, limit=1)
        feed.subscribers += 1
        return feed

    def unsubscribe(self, source: FrameSource) -> None:
        """A client unsubscribes from a feed."""
        if isinstance(source, Feed):
            source.subscribers -= 1

    async def thread(self, thread_id: str) -> Thread | None:
        """The stored thread."""
        return await self.threads.get(thread_id)

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s stored threads, newest first."""
        return await self.threads.list_threads(owner, limit, cursor)

    async def rename_thread(self, thread_id: str, title: str) -> bool:
        """Give the stored thread a title."""
        return await self.threads.rename(thread_id, title)

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete the stored thread and its feed (unless a subscriber follows it); ``ThreadBusy`` while a run
        holds it."""
        active = self._active.get(thread_id)
        if active is not None or thread_id in self._starting:
            raise ThreadBusy(thread_id, active.run_id if active is not None else "")
        existed = await self.threads.get(thread_id) is not None
        await self.threads.delete(thread_id)
        feed = self._feeds.get(thread_id)
        if feed is not None and feed.subscribers == 0:
            del self._feeds[thread_id]
        return existed

    # -- starting -------------------------------------------------------------------------------

    async def start(
        self,
        agent: Agent,
        input: RunAgentInput,
        *,
        agent_id: str = DEFAULT_AGENT_ID,
        policy: DisconnectPolicy | None = None,
        principal: Principal = ANONYMOUS,
        owner: str | None = None,
    ) -> Run:
        """Start a run of ``agent`` on ``input`` for ``principal``; returns at once, the run goes on in its own
        task. The run's thread is ``owner``'s (default: the principal's; ``thread_key``): another owner's
        thread of the same id is another thread.

        A ``runId`` that is already known re-attaches to that run (a retried POST).

        Raises:
            RunConflict: the ``runId`` belongs to another thread or was encoded for another protocol.
            ThreadBusy: the thread has a run in progress and the busy policy is ``reject``.
            ResumeRefused: the request does not answer the thread's open interrupts as it must.
        """
        legacy = is_legacy_client(input.protocol_version)
        fingerprint = input_fingerprint(input)
        thread_id = thread_key(principal.id if owner is None else owner, input.thread_id)
        existing = self._runs.get(input.run_id)
        if existing is not None:
            if existing.thread_id != thread_id or existing.legacy_client != legacy:
                raise RunConflict(input.run_id)
            if existing.fingerprint == fingerprint:
                return existing  # a retried request
        self._check_caps(owner_of(thread_id))
        await self._admit(thread_id, input.run_id)
        self._starting.add(thread_id)  # no await since _admit: admission and reservation are one step
        try:
            generation = 0
            existing = self._runs.get(input.run_id)
            if existing is not None:  # a new request that reuses the runId of an ended run: it is a new run
                self._finished.pop(input.run_id, None)
                del self._runs[input.run_id]
                generation = existing.generation + 1
            stored = await self.threads.get(thread_id)
            # the thread is this run's from here (admitted and reserved): of two answers to one interrupt,
            # the second finds it answered
            if legacy:
                input = with_legacy_resume(input, stored)
            check_resume(stored, input.resume)
            answered = answered_after(stored, input.resume, input.run_id)
            input = with_history(input, stored)
            return self._launch(
                agent,
                input,
                thread_id=thread_id,
                principal=principal,
                agent_id=agent_id,
                legacy=legacy,
                policy=policy,
                fingerprint=fingerprint,
                generation=generation,
                answered=answered,
            )
        finally:
            self._starting.discard(thread_id)

    def _check_caps(self, owner: str) -> None:
        caps = self.caps
        if caps.total is not None and len(self._active) + len(self._starting) >= caps.total:
            raise TooManyRuns("server")
        if caps.per_owner is not None and owner != ANONYMOUS.id and self._owner_runs.get(owner, 0) >= caps.per_owner:
            raise TooManyRuns("owner")

    async def _admit(self, thread_id: str, run_id: str) -> None:
        """Return when the thread is free; raise :class:`ThreadBusy` when it is not and will not be (the
        busy rule: ``backend.make_way``)."""
        deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
        while True:
            if thread_id in self._starting:
                raise ThreadBusy(thread_id, "(starting)")
            active = self._active.get(thread_id)
            if active is None:
                return
            await make_way(self.busy_policy, thread_id, run_id, active, deadline)

    def _launch(
        self,
        agent: Agent,
        input: RunAgentInput,
        *,
        thread_id: str,
        principal: Principal,
        agent_id: str,
        legacy: bool,
        policy: DisconnectPolicy | None,
        fingerprint: bytes,
        generation: int,
        answered: list[AnsweredInterrupt],
    ) -> Run:
        log = RunLog(self.limits.max_events_per_run)
        feed = self.feed(thread_id)
        # the agent's and the server's feeds, when someone subscribed to them
        wide = [f for f in (self._agent_feeds.get(agent_id), self._server_feed) if f is not None]
        append = log.append

        def write(payload: bytes, event_type: str) -> None:
            seq = append(payload, event_type)
            frame = log.entry(seq)[1]
            feed.append(event_type, frame)
            if wide:
                for other in wide:
                    other.append(event_type, frame)

        ctx = RunContext(
            thread_id=input.thread_id,
            run_id=input.run_id,
            agent_id=agent_id,
            legacy_client=legacy,
            generation=generation,
            principal=principal,
        )
        recorder = RunRecorder(
            input, ctx, write, strict=self.strict, run_timeout=self.run_timeout, telemetry=self.telemetry
        )
        run = Run(
            run_id=input.run_id,
            thread_id=thread_id,
            agent_id=agent_id,
            legacy_client=legacy,
            input=input,
            policy=policy or self.disconnect_policy,
            log=log,
            recorder=recorder,
            fingerprint=fingerprint,
            generation=generation,
            answered=answered,
        )
        self._runs[run.run_id] = run
        self._active[run.thread_id] = run
        owner = owner_of(thread_id)
        self._owner_runs[owner] = self._owner_runs.get(owner, 0) + 1
        recorder.guard.start()  # RUN_STARTED is in the log before the response's first read
        run.task = asyncio.get_running_loop().create_task(
            self._execute(run, recorder, agent), name=f"agui-run-{run.run_id}"
        )
        return run

    async def _execute(self, run: Run, recorder: RunRecorder, agent: Agent) -> None:
        try:
            await recorder.run(agent)
        finally:
            try:
                if type(self.threads) is MemoryThreadStore:  # stored at once: no task, nothing to shield
                    self._persist_now(run, recorder)
                else:
                    await asyncio.shield(self._persist(run, recorder))
            except Exception:
                logger.exception("storing thread %s after run %s failed", run.thread_id, run.run_id)
            finally:
                self._ended(run)

    async def _persist(self, run: Run, recorder: RunRecorder) -> None:
        thread = recorder.thread(run.thread_id, run.input.messages, run.input.state, run.answered)
        if thread is not None:
            await self.threads.save(thread)

    def _persist_now(self, run: Run, recorder: RunRecorder) -> None:
        assert isinstance(self.threads, MemoryThreadStore)
        thread = recorder.thread(run.thread_id, run.input.messages, run.input.state, run.answered)
        if thread is not None:
            self.threads.save_now(thread)

    def _ended(self, run: Run) -> None:
        if self._active.get(run.thread_id) is run:
            del self._active[run.thread_id]
        owner = owner_of(run.thread_id)
        left = self._owner_runs.get(owner, 1) - 1
        if left > 0:
            self._owner_runs[owner] = left
        else:
            self._owner_runs.pop(owner, None)
        run.followers.cancel_grace()
        run.log.close()
        if not run.ended.done():
            run.ended.set_result(None)
        run.recorder = None
        run.task = None  # a kept run need not keep its finished task (and its coroutine and context) alive
        now = time.monotonic()
        feed = self._feeds.get(run.thread_id)
        if feed is not None:
            feed.run_ended_at = now
        if self._runs.get(run.run_id) is run:
            self._finished[run.run_id] = now
        self._sweep(now)

    def _sweep(self, now: float) -> None:
        """Forget finished runs past their retention or over the cap (oldest first).

        Runs end in order of their finishing, so the oldest are at the front: one sweep at each run's
        end and a slow periodic one keep this bounded without a timer per run.
        """
        finished = self._finished
        deadline = now - self.limits.retention
        while finished:
            oldest, ended_at = next(iter(finished.items()))
            if ended_at > deadline and len(finished) <= self.limits.max_finished_runs:
                break
            del finished[oldest]
            forgotten = self._runs.get(oldest)
            if forgotten is not None:
                self._forget(forgotten)
        if finished and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(
                min(self.limits.retention, 5.0) + 0.01, self._periodic_sweep
            )

    def _periodic_sweep(self) -> None:
        self._sweeper = None
        self._sweep(time.monotonic())

    def _forget(self, run: Run) -> None:
        self._finished.pop(run.run_id, None)
        if self._runs.get(run.run_id) is run:
            del self._runs[run.run_id]
            self._finished.pop(run.run_id, None)
        feed = self._feeds.get(run.thread_id)
        if feed is not None and feed.subscribers == 0 and run.thread_id not in self._active:
            del self._feeds[run.thread_id]

    # -- followers and stopping -----------------------------------------------------------------

    def follow(self, run: RunHandle) -> None:
        """A client starts following the run (it stops any grace countdown)."""
        assert isinstance(run, Run)
        run.followers.follow()

    def unfollow(self, run: RunHandle, completed: bool) -> None:
        """A client stops following; if it left early and no one else follows, the run's policy applies."""
        assert isinstance(run, Run)
        run.followers.unfollow(completed, ended=run.is_finished, stop=run.cancel)

    async def stop(self, run_id: str, timeout: float = SETTLE_TIMEOUT) -> Literal["cancelled", "finished"] | None:
        """Stop a run and wait (bounded) until it has ended; ``None`` if the run is unknown."""
        run = self._runs.get(run_id)
        if run is None:
            return None
        stopped = run.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await asyncio.shield(run.ended)
        return "cancelled" if stopped else "finished"

    async def shutdown(self) -> None:
        """Cancel every run, wait (bounded) for their cleanup, close the thread store."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        tasks = [run.task for run in self._runs.values() if run.task is not None and not run.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_SHUTDOWN_TIMEOUT):
                    await asyncio.gather(*tasks, return_exceptions=True)
        self._runs.clear()
        self._active.clear()
        await self.threads.close()
