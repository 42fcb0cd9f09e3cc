"""Following a Redis stream from a cursor: one reader task per follower, feeding a local FrameSource.

Replay and live delivery read the same log: ``XREAD BLOCK`` from ``0-<cursor>`` returns what is
already there first, then waits for more. The mirror keeps only what its one follower has not read
yet, and reads at most a bounded stretch ahead of it. When Redis goes away mid-stream, the follower
gets a ``RUN_ERROR`` frame without an ``id:`` (so its ``Last-Event-ID`` still points at the last real
event and it may resume later) and the stream ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import encode_event
from agui_server.runs.log import CursorExpired, _Followable
from agui_server.runs.redis.entries import TERMINAL_TYPES, continues, unpack

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable


__all__ = ("StreamMirror",)

logger = logging.getLogger("agui_server.runs.redis")

_BATCH: Final = 512
"""Frames handed to the follower at once."""
_ENTRIES: Final = 16
"""Entries per read (each holds up to entries.MAX_BATCH events)."""
_AHEAD: Final = 8192
"""Frames read ahead of the follower at most: past this the reader waits for the follower to catch up."""
BACKEND_LOST_CODE: Final = "BACKEND_UNAVAILABLE"


class StreamMirror(_Followable):
    """A FrameSource over one Redis stream whose entry ids are ``0-<seq>``.

    Args:
        redis: a client for blocking reads.
        key: the stream.
        after: the cursor to start after.
        with_event_lines: frames carry ``event: <TYPE>`` lines (thread subscriptions).
        ends_at_terminal: the stream is a run's log: stop after its terminal event.
        is_over: called after an empty read; True when nothing more will come (the run ended or is gone).
        block_ms: the longest single ``XREAD BLOCK``.
    """

    __slots__ = (
        "_base",
        "_frames",
        "_gap",
        "_is_over",
        "_room",
        "_task",
        "after",
        "ends_at_terminal",
        "key",
        "redis",
        "with_event_lines",
    )

    def __init__(
        self,
        redis: Any,
        key: str,
        after: int,
        *,
        with_event_lines: bool = False,
        ends_at_terminal: bool = True,
        is_over: Callable[[], Awaitable[bool]] | None = None,
        block_ms: int = 1000,
    ) -> None:
        super().__init__()
        self.redis = redis
        self.key = key
        self.after = after
        self.with_event_lines = with_event_lines
        self.ends_at_terminal = ends_at_terminal
        self._is_over = is_over
        self._frames: list[bytes] = []
        self._base = after  # sequence number of the frame before _frames[0]
        self._room: asyncio.Future[None] | None = None
        self._gap: int | None = None  # the events after this one were trimmed before they were read
        self._task = asyncio.get_running_loop().create_task(self._read(block_ms), name=f"agui-mirror-{key}")

    def __len__(self) -> int:
        return self._base + len(self._frames)

    def frames_after(self, seq: int, limit: int = _BATCH) -> list[bytes]:
        """Frames after ``seq``; what the follower has read is dropped."""
        if seq > self._base:
            del self._frames[: seq - self._base]
            self._base = seq
            room = self._room
            if room is not None and len(self._frames) <= _AHEAD // 2 and not room.done():
                room.set_result(None)
        start = seq - self._base
        frames = self._frames[start : start + limit]
        if not frames and self._gap is not None:
            raise CursorExpired(seq)
        return frames

    def release(self) -> None:
        """The follower is done: stop reading."""
        self._task.cancel()

    def _push(self, frame: bytes) -> None:
        self._frames.append(frame)
        self._wake()

    async def _read(self, block_ms: int) -> None:
        cursor = self.after
        key = self.key
        try:
            while True:
                if len(self._frames) > _AHEAD:
                    self._room = asyncio.get_running_loop().create_future()
                    await self._room  # the follower catches up (or leaves, and release() cancels this)
                    self._room = None
                reply = await self.redis.xread({key: f"0-{cursor}"}, count=_ENTRIES, block=block_ms)
                if not reply:
                    if self._is_over is not None and await self._is_over():
                        # one last read closes the race between the last append and the status change
                        reply = await self.redis.xread({key: f"0-{cursor}"}, count=_ENTRIES)
                        if not reply:
                            break
                    else:
                        continue
                ended = False
                frames = self._frames
                for entry_id, fields in reply[0][1]:
                    seq, types, payloads = unpack(entry_id, fields)
                    if seq > cursor + 1:  # trimmed (MAXLEN) before this reader got to them: never skip silently
                        logger.warning("%s: the reader fell behind what the log keeps (at %d)", key, cursor)
                        self._gap = cursor
                        ended = True
                        break
                    for etype, data in zip(types, payloads, strict=True):
                        if seq > cursor:
                            if self.with_event_lines:
                                frames.append(b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, etype, data))
                            else:
                                frames.append(b"id: %d\ndata: %s\n\n" % (seq, data))
                            cursor = seq
                        seq += 1
                    if self.ends_at_terminal and types[-1] in TERMINAL_TYPES and not continues(fields):
                        ended = True
                        break
                self._wake()
                if ended:
                    break
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            logger.warning("lost Redis while following %s: %s", key, exc)
            error = ev.RunErrorEvent(
                message="The server lost its connection to the run's log; resume from your last event id later.",
                code=BACKEND_LOST_CODE,
            )
            self._push(b"data: %s\n\n" % encode_event(error))
        self.close()

    async def aclose(self) -> None:
        """Stop reading and wait for the reader to finish."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
