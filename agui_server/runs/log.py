"""The event log of one run: SSE frames in order, numbered from 1, with followers waiting for more.

The run writes here and HTTP responses read from here, so a response can fall behind, send keepalives
or go away without touching the run. Frames are encoded once, when they are appended, with their
sequence number as the SSE ``id:``; that number is the cursor a client resumes from.
"""

from __future__ import annotations

import asyncio
from typing import Final

from agui_server.protocol.encoding import sse_frame

__all__ = ("RunLog",)

_MAX_BATCH: Final = 1024


class RunLog:
    """Append-only frames of one run. Not thread-safe: one event loop owns it."""

    __slots__ = ("_frames", "_types", "_waiters", "closed")

    def __init__(self) -> None:
        self._frames: list[bytes] = []
        self._types: list[str] = []
        self._waiters: list[asyncio.Future[None]] = []
        self.closed = False
        """True once the run has ended: no frame will be appended after that."""

    def __len__(self) -> int:
        return len(self._frames)

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest frame (0 when empty)."""
        return len(self._frames)

    def append(self, payload: bytes, event_type: str) -> int:
        """Add one event's JSON; returns its sequence number."""
        if self.closed:
            raise RuntimeError("the run log is closed")
        frames = self._frames
        seq = len(frames) + 1
        frames.append(sse_frame(seq, payload))
        self._types.append(event_type)
        if self._waiters:
            self._wake()
        return seq

    def close(self) -> None:
        """Mark the run as ended and wake every follower."""
        self.closed = True
        self._wake()

    def frames_after(self, seq: int, limit: int = _MAX_BATCH) -> list[bytes]:
        """Up to ``limit`` frames that come after sequence number ``seq``."""
        return self._frames[seq : seq + limit]

    def type_of(self, seq: int) -> str:
        """The event type of frame ``seq``."""
        return self._types[seq - 1]

    def waiter(self) -> asyncio.Future[None]:
        """A future that completes at the next append or at close."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.closed:
            future.set_result(None)
        else:
            self._waiters.append(future)
        return future

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)
