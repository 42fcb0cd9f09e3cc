"""The interfaces between the HTTP layer and wherever runs live.

The HTTP layer (``agui_server.http``) talks to a :class:`RunBackend` and streams :class:`FrameSource`
objects; it never reaches past them. :class:`~agui_server.runs.manager.RunManager` is the in-process
backend (runs are tasks of this event loop). A distributed backend (Redis Streams, DISTRIBUTED.md §5)
implements the same two protocols: it submits runs to workers, and mirrors each followed run's log into
a local :class:`FrameSource` fed from the shared log, so nothing in ``http/`` changes.

A thread store (:class:`~agui_server.runs.threads.ThreadStore`) is the third interface.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    import asyncio

    from agui_server.agents.base import Agent
    from agui_server.protocol.types import RunAgentInput
    from agui_server.runs.log import ThreadFeed
    from agui_server.runs.manager import DisconnectPolicy, Run
    from agui_server.runs.threads import Thread

__all__ = ("FrameSource", "RunBackend")


@runtime_checkable
class FrameSource(Protocol):
    """Numbered SSE frames a response can follow: a run's log or a thread's feed."""

    closed: bool
    """True once nothing more will be appended."""

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


@runtime_checkable
class RunBackend(Protocol):
    """Where runs are admitted, executed, followed, stopped and remembered."""

    async def start(
        self, agent: Agent, input: RunAgentInput, *, agent_id: str = ..., policy: DisconnectPolicy | None = ...
    ) -> Run:
        """Admit and start a run (or re-attach to it); raises ``RunConflict`` or ``ThreadBusy``."""
        ...

    def get(self, run_id: str) -> Run | None:
        """A running or retained run."""
        ...

    def active_run(self, thread_id: str) -> Run | None:
        """The thread's run in progress."""
        ...

    def follow(self, run: Run) -> None:
        """A client starts following ``run``."""
        ...

    def unfollow(self, run: Run, completed: bool) -> None:
        """A client stopped following ``run``; ``completed`` says whether it saw the end."""
        ...

    async def stop(self, run_id: str, timeout: float = ...) -> Run | None:
        """Stop a run and wait (bounded) for its end."""
        ...

    async def thread(self, thread_id: str) -> Thread | None:
        """The stored thread."""
        ...

    def feed(self, thread_id: str) -> ThreadFeed:
        """The thread's event feed."""
        ...

    def subscribe(self, thread_id: str) -> ThreadFeed:
        """A client starts following the thread's feed."""
        ...

    def unsubscribe(self, feed: ThreadFeed) -> None:
        """A client stops following a feed."""
        ...

    async def shutdown(self) -> None:
        """Stop everything, bounded."""
        ...
