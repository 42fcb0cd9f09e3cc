"""Event logs: SSE frames in order, numbered from 1, with followers waiting for more.

A run writes into its :class:`RunLog` and HTTP responses read from it, so a response can fall behind,
send keepalives or go away without touching the run. Frames are encoded once, when they are appended,
with their sequence number as the SSE ``id:``; that number is the cursor a client resumes from.

A log keeps at most ``max_frames`` frames: past that the oldest are dropped, and a cursor that points
before what is kept raises :class:`CursorExpired` (HTTP 410).

:class:`Feed` numbers every event of every run of a thread (or of an agent, or of the server) in one
sequence, for subscribers of those rather than followers of one run; it shares the runs' frames rather
than copying them.

The words, one meaning each: a client *follows* a run (its log, opened with ``RunBackend.open``) and
*subscribes* to a feed (``RunBackend.subscribe`` / ``subscribe_all``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from agui_server.protocol.encoding import frame_payload, sse_frame
from agui_server.runs.backend import MAX_EVENTS_PER_RUN, MAX_EVENTS_PER_THREAD, CursorAhead, CursorExpired

__all__ = ("CursorAhead", "CursorExpired", "Feed", "RunLog")

_MAX_BATCH: Final = 1024


class _Followable:
    """Waiters woken at each append and at close."""

    __slots__ = ("_waiters", "closed")

    def __init__(self) -> None:
        # made at the first waiter: a finished log kept for resumes holds no list for the garbage collector
        self._waiters: list[asyncio.Future[None]] | None = None
        self.closed = False
        """True once nothing more will be appended."""

    def waiter(self) -> asyncio.Future[None]:
        """A future that completes at the next append or at close."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_result(None)
        elif self._waiters is None:
            self._waiters = [future]
        else:
            self._waiters.append(future)
        return future

    def forget(self, future: asyncio.Future[None]) -> None:
        """Stop tracking a waiter its owner no longer waits on."""
        if self._waiters:
            with contextlib.suppress(ValueError):
                self._waiters.remove(future)

    def release(self) -> None:
        """A follower is done with it; shared logs keep going."""

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for future in waiters or ():
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """Mark the end and wake every follower."""
        self.closed = True
        self._wake()


class RunLog(_Followable):
    """Append-only frames of one run. Not thread-safe: one event loop owns it."""

    __slots__ = ("_base", "_frames", "_types", "max_frames")

    def __init__(self, max_frames: int = MAX_EVENTS_PER_RUN) -> None:
        super().__init__()
        self._frames: list[bytes] = []
        self._types: list[str] = []
        self._base = 0  # frames dropped from the front
        self.max_frames = max_frames

    def __len__(self) -> int:
        return self._base + len(self._frames)

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest frame (0 when empty)."""
        return self._base + len(self._frames)

    @property
    def first_seq(self) -> int:
        """The sequence number of the oldest frame still kept (``last_seq + 1`` when empty)."""
        return self._base + 1

    def append(self, payload: bytes, event_type: str) -> int:
        """Add one event's JSON; returns its sequence number."""
        if self.closed:
            raise RuntimeError("the run log is closed")
        frames = self._frames
        seq = self._base + len(frames) + 1
        frames.append(sse_frame(seq, payload))
        self._types.append(event_type)
        if len(frames) > self.max_frames:
            drop = max(1, self.max_frames // 10)
            del frames[:drop]
            del self._types[:drop]
            self._base += drop
        if self._waiters:
            self._wake()
        return seq

    def frames_after(self, seq: int, limit: int = _MAX_BATCH) -> list[bytes]:
        """Up to ``limit`` frames that come after sequence number ``seq``.

        Raises:
            CursorExpired: frames after ``seq`` were already dropped.
        """
        start = seq - self._base
        if start < 0:
            raise CursorExpired(seq)
        return self._frames[start : start + limit]

    def entry(self, seq: int) -> tuple[str, bytes]:
        """The event type and frame of sequence number ``seq`` (which must still be kept)."""
        n = seq - self._base - 1
        return self._types[n], self._frames[n]


class Feed(_Followable):
    """Every event of every run of one thread (or of one agent, or of the server), numbered in one
    sequence; frames carry ``event:`` lines."""

    __slots__ = ("_base", "_frames", "_types", "max_events", "run_ended_at", "run_start", "subscribers")

    def __init__(self, max_events: int = MAX_EVENTS_PER_THREAD) -> None:
        super().__init__()
        # two lists rather than one of pairs: a pair per event would be one more object for the garbage
        # collector to scan, for as long as the feed keeps it
        self._types: list[str] = []
        self._frames: list[bytes] = []
        self._base = 0
        self.max_events = max_events
        self.subscribers = 0
        """Clients subscribed to the feed now (a feed with none may be dropped once its runs are forgotten)."""
        self.run_start: int | None = None
        """The sequence number just before the latest ``RUN_STARTED``."""
        self.run_ended_at = 0.0
        """When (``time.monotonic()``) the thread's latest run ended."""

    @property
    def first_seq(self) -> int:
        """The sequence number of the oldest event still kept."""
        return self._base + 1

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest event (0 when empty)."""
        return self._base + len(self._types)

    def append(self, event_type: str, run_frame: bytes) -> None:
        """Add one event, given its frame in its run's log (shared, not copied)."""
        types = self._types
        if event_type == "RUN_STARTED":
            self.run_start = self._base + len(types)
        types.append(event_type)
        self._frames.append(run_frame)
        if len(types) > self.max_events:
            drop = max(1, self.max_events // 10)
            del types[:drop], self._frames[:drop]
            self._base += drop
        if self._waiters:
            self._wake()

    def frames_after(self, seq: int, limit: int = _MAX_BATCH) -> list[bytes]:
        """Up to ``limit`` frames after thread sequence number ``seq``, each with its ``event:`` line.

        Raises:
            CursorExpired: events after ``seq`` were already dropped.
        """
        start = seq - self._base
        if start < 0:
            raise CursorExpired(seq)
        end = start + limit
        return [
            sse_frame(self._base + start + n + 1, frame_payload(frame), event_type)
            for n, (event_type, frame) in enumerate(zip(self._types[start:end], self._frames[start:end], strict=True))
        ]

    def __len__(self) -> int:
        return self.last_seq
