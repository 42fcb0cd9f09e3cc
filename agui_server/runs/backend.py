"""The contract between the HTTP layer and wherever runs live: what ``http/`` imports of ``runs/``.

The run rules every backend shares are here, once: the disconnect policy (:class:`DisconnectPolicy`, its
followers in ``runs/followers.py``), the busy rule (:func:`make_way`), the cursor rule (:func:`cursor_state`),
the refusals
(:class:`RunConflict`, :class:`ThreadBusy`, :class:`CursorExpired`, :class:`CursorAhead`,
:class:`BackendUnavailable`) and the bounds they use.

The HTTP layer (``agui_server.http``) talks to a :class:`RunBackend` and streams :class:`FrameSource`
objects; it never reaches past them. :class:`~agui_server.runs.manager.RunManager` is the in-process
backend (runs are tasks of this event loop). A distributed backend (Redis Streams, DISTRIBUTED.md §5)
implements the same two protocols: it submits runs to workers, and mirrors each followed run's log into
a local :class:`FrameSource` fed from the shared log, so nothing in ``http/`` changes.

A thread store (:class:`~agui_server.runs.threads.ThreadStore`) is the third interface.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    import asyncio

    from agui_server.agents.base import Agent
    from agui_server.principals import Principal
    from agui_server.protocol.types import RunAgentInput
    from agui_server.runs.threads import Thread, ThreadPage

__all__ = (
    "DEFAULT_GRACE",
    "MAX_EVENTS_PER_RUN",
    "MAX_EVENTS_PER_THREAD",
    "MAX_FINISHED_RUNS",
    "MAX_GRACE",
    "REPLAY_WINDOW",
    "RUN_RETENTION",
    "RUN_TIMEOUT",
    "SETTLE_TIMEOUT",
    "BackendUnavailable",
    "BusyPolicy",
    "CursorAhead",
    "CursorExpired",
    "CursorState",
    "DisconnectPolicy",
    "FrameSource",
    "ResumeRefused",
    "RunBackend",
    "RunCaps",
    "RunConflict",
    "RunHandle",
    "ThreadBusy",
    "ThreadHolder",
    "TooManyRuns",
    "cursor_state",
    "make_way",
)

logger = logging.getLogger("agui_server.runs")

RUN_RETENTION: Final = 300.0
"""Seconds a finished run stays readable (resume, re-attach), in every backend."""
RUN_TIMEOUT: Final = 600.0
"""Seconds a run may take before it ends with ``RUN_TIMEOUT``, in every backend."""
MAX_EVENTS_PER_RUN: Final = 250_000
"""Events a run's log keeps; a resume from before them gets 410."""
MAX_EVENTS_PER_THREAD: Final = 1_000
"""Events a thread's (or an agent's, or the server's) feed keeps for its subscribers."""
MAX_FINISHED_RUNS: Final = 1_000
"""Finished runs one process keeps readable at most (the in-process backend)."""
SETTLE_TIMEOUT: Final = 10.0
"""Seconds a stop, or a run that waits for the thread's previous run to be stored, waits at most."""
DEFAULT_GRACE: Final = 30.0
"""The grace period of ``grace`` without seconds."""
BusyPolicy = Literal["reject", "supersede"]

MAX_GRACE: Final = 86_400.0
"""The longest grace period a request may ask for, in seconds (every wait has a bound)."""


class RunConflict(Exception):
    """A run with this ``runId`` exists and the request cannot be its retry (another thread or client)."""


class TooManyRuns(Exception):
    """The server (``scope`` ``server``) or the owner (``owner``) runs as many runs as it may."""

    def __init__(self, scope: Literal["server", "owner"]) -> None:
        super().__init__(f"too many runs in progress ({scope})")
        self.scope = scope


@dataclass(frozen=True, slots=True)
class RunCaps:
    """How many runs may be in progress (running or waiting for a worker) at once; ``None``: no cap."""

    total: int | None = 10_000
    """On the server (over Redis: on all of its processes)."""
    per_owner: int | None = None
    """For one owner (never for the anonymous one: without authentication everyone is that owner)."""


class ThreadBusy(Exception):
    """The thread already has a run in progress (policy ``reject``)."""

    def __init__(self, thread_id: str, run_id: str) -> None:
        super().__init__(f"thread {thread_id!r} is busy with run {run_id!r}")
        self.thread_id = thread_id
        self.run_id = run_id


class ResumeRefused(Exception):
    """The request does not answer the thread's open interrupts as it must (``runs/interrupts.py``): every
    open one, exactly once, before it expires. ``code`` is the stable HTTP error code, ``field`` names the
    request field at fault."""

    def __init__(self, code: str, detail: str, field: str = "resume") -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


class ThreadHolder(Protocol):
    """The run that holds a thread, as the busy rule sees it (each backend asks it its own way)."""

    @property
    def run_id(self) -> str: ...

    async def ending(self) -> bool:
        """Whether it has sent its terminal event (or ended)."""
        ...

    async def supersede(self) -> None:
        """Ask it to stop (it ends ``cancelled``)."""
        ...

    async def settled(self, deadline: float) -> bool:
        """Wait until it has ended and its thread is stored, or until ``deadline`` (the event loop's
        clock); False if it had not by then."""
        ...


async def make_way(policy: BusyPolicy, thread_id: str, run_id: str, holder: ThreadHolder, deadline: float) -> None:
    """The busy rule of every backend: run ``run_id`` wants thread ``thread_id``, which ``holder`` holds.

    A holder that has sent its terminal event is waited for until its thread is stored (so the new run
    starts from the whole history). One still running is refused (``reject``: :class:`ThreadBusy`) or
    stopped and then waited for (``supersede``). Every wait ends by ``deadline``: past it, ``ThreadBusy``.
    """
    if not await holder.ending():
        if policy == "reject":
            raise ThreadBusy(thread_id, holder.run_id)
        logger.info("run %s supersedes run %s on thread %s", run_id, holder.run_id, thread_id)
        await holder.supersede()
    if not await holder.settled(deadline):
        raise ThreadBusy(thread_id, holder.run_id)


@dataclass(frozen=True, slots=True)
class DisconnectPolicy:
    """What a run does when its last follower disconnects before the end.

    ``cancel``: stop the run at once. ``continue``: let it finish (a client may resume it).
    ``grace``: let it go on for ``grace`` seconds, then stop it unless a client came back.
    """

    mode: Literal["cancel", "continue", "grace"] = "cancel"
    grace: float = DEFAULT_GRACE

    @classmethod
    def parse(cls, text: str) -> DisconnectPolicy:
        """``cancel``, ``continue``, ``grace`` or ``grace:SECONDS``.

        Raises:
            ValueError: anything else.
        """
        mode, _, seconds = text.strip().lower().partition(":")
        if mode in ("cancel", "continue") and not seconds:
            return cls(mode)  # type: ignore[arg-type]
        if mode == "grace":
            try:
                grace = float(seconds) if seconds else DEFAULT_GRACE
            except ValueError:
                raise ValueError(f"grace wants seconds, got {seconds!r}") from None
            if not math.isfinite(grace) or not 0 <= grace <= MAX_GRACE:
                raise ValueError(f"grace seconds must be a number from 0 to {MAX_GRACE:g}, got {seconds!r}")
            return cls("grace", grace)
        raise ValueError(f"disconnect policy must be cancel, continue or grace[:SECONDS], got {text!r}")


class CursorExpired(Exception):
    """The cursor points before the oldest frame still kept."""


class CursorAhead(Exception):
    """The cursor points past the newest frame (a client's made-up or stale id): HTTP 400."""


REPLAY_WINDOW: Final = 10.0
"""Seconds after a thread's run ended during which a new subscriber (no cursor) still gets that run from its
start, so a message posted just before the subscription is not lost."""


@runtime_checkable
class FrameSource(Protocol):
    """Numbered SSE frames a response can follow: a run's log or a thread's feed."""

    @property
    def closed(self) -> bool:
        """True once nothing more will be appended."""
        ...

    def __len__(self) -> int:
        """The sequence number of the newest frame."""
        ...

    def frames_after(self, seq: int, limit: int = ...) -> list[bytes]:
        """Frames after cursor ``seq``; raises ``CursorExpired`` when they are no longer kept."""
        ...

    def waiter(self) -> asyncio.Future[None]:
        """A future that completes at the next frame or at close."""
        ...

    def forget(self, future: asyncio.Future[None]) -> None:
        """Drop a waiter its owner no longer waits on."""
        ...

    def release(self) -> None:
        """The follower is done with it (a mirror stops reading; a shared log does nothing)."""
        ...


class RunHandle(Protocol):
    """What the HTTP layer knows of a run."""

    run_id: str
    thread_id: str
    """The thread's key (``principals.thread_key``): whose thread it is, and the client's thread id."""
    agent_id: str
    legacy_client: bool
    input: RunAgentInput
    """The run's input, with the thread's stored history merged in (``input.thread_id`` is the client's)."""


CursorState = Literal["ok", "drained", "expired", "ahead"]
"""Where a resume cursor stands: events follow it; the run ended and nothing follows; the events after
it are no longer kept; it points past the newest event."""


def cursor_state(after: int, first_seq: int, last_seq: int, over: bool) -> CursorState:
    """Where cursor ``after`` stands in a log that keeps events ``first_seq`` to ``last_seq`` (``over``: the
    run has ended): the one rule of every backend."""
    if after > last_seq:
        return "ahead"
    if after < first_seq - 1:
        return "expired"
    if over and after == last_seq:
        return "drained"
    return "ok"


@runtime_checkable
class RunBackend(Protocol):
    """Where runs are admitted, executed, followed, stopped and remembered.

    A ``thread_id`` given to these methods is a thread key (``principals.thread_key``): each owner has a
    namespace of threads, which the HTTP layer chooses from the caller.
    """

    async def start(
        self,
        agent: Agent,
        input: RunAgentInput,
        *,
        agent_id: str = ...,
        policy: DisconnectPolicy | None = ...,
        principal: Principal = ...,
        owner: str | None = ...,
    ) -> RunHandle:
        """Admit and start a run for ``principal`` on the thread ``thread_key(owner, input.thread_id)`` (the
        owner defaults to the principal's id), or re-attach to it; raises ``RunConflict``, ``ThreadBusy`` or
        ``BackendUnavailable``."""
        ...

    async def get(self, run_id: str) -> RunHandle | None:
        """A running or retained run."""
        ...

    async def active_run(self, thread_id: str) -> RunHandle | None:
        """The thread's run in progress."""
        ...

    async def cursor_state(self, run: RunHandle, after: int) -> CursorState:
        """Where a resume cursor stands."""
        ...

    def open(self, run: RunHandle, after: int) -> FrameSource:
        """The run's frames after ``after``, for one follower (a shared log, or a mirror of one)."""
        ...

    def follow(self, run: RunHandle) -> None:
        """A client starts following ``run``."""
        ...

    def unfollow(self, run: RunHandle, completed: bool) -> None:
        """A client stopped following ``run``; ``completed`` says whether it saw the end."""
        ...

    async def stop(self, run_id: str) -> Literal["cancelled", "finished"] | None:
        """Stop a run and wait (bounded) for its end: whether it was stopped or had already ended;
        ``None`` for an unknown run."""
        ...

    async def thread(self, thread_id: str) -> Thread | None:
        """The stored thread."""
        ...

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s stored threads, newest first, a page at a time (``ThreadStore.list_threads``)."""
        ...

    async def rename_thread(self, thread_id: str, title: str) -> bool:
        """Give the stored thread a title; False for an unknown thread."""
        ...

    async def delete_thread(self, thread_id: str) -> bool:
        """Delete the stored thread and its feed; False for an unknown thread; raises ``ThreadBusy`` while a
        run holds it."""
        ...

    async def subscribe(self, thread_id: str, after: int | None) -> FrameSource:
        """Follow every event of the thread after ``after`` (``None``: from now); raises ``CursorExpired``
        (too old) or ``CursorAhead`` (past the newest event)."""
        ...

    async def subscribe_from(self, thread_id: str) -> int | None:
        """Where a new subscriber of the thread (no cursor) starts: just before the thread's latest
        ``RUN_STARTED`` when that run is running (or just ended), so a message posted right before the
        subscription is not lost; ``None``: from now."""
        ...

    async def subscribe_all(self, agent_id: str | None, after: int | None) -> FrameSource:
        """Follow every run's events after ``after`` (``None``: from now; a cursor past the newest event
        counts as now): of one agent, or of the whole server (``agent_id`` ``None``). Raises
        ``CursorExpired``."""
        ...

    def unsubscribe(self, source: FrameSource) -> None:
        """A client stops following a thread."""
        ...

    async def shutdown(self) -> None:
        """Stop everything, bounded."""
        ...


class BackendUnavailable(Exception):
    """The backend cannot take a run now (e.g. Redis is unreachable); ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
