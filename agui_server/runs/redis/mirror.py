"""Following Redis streams from a cursor: many followers of one web process share a few connections.

Replay and live delivery read the same log: ``XREAD BLOCK`` from ``0-<cursor>`` returns what is already
there first, then waits for more. A :class:`StreamHub` (one per web process) places each
:class:`StreamMirror` (one per follower) with one of its readers; a reader follows up to
``per_reader`` streams with one blocking ``XREAD`` over all of them, on one connection (DISTRIBUTED.md
§5.3: fan-in). A follower that joins a reader waiting in ``XREAD`` wakes it through the reader's own small
wake-up stream, so that the next read includes it (meanwhile the run's worker is still claiming it);
nothing is lost, as every read starts at each follower's cursor. When the stream is a run this process
admits, the admission script itself writes into that wake-up stream (:meth:`StreamHub.wake_ahead`), one
round trip less; and the run's first follower has its ``RUN_STARTED`` (written by the admission) at once.

A mirror keeps only what its follower has not read yet, and its reader leaves it out of the reads while
it is more than a bounded stretch ahead. When the log was trimmed past what a follower has read, the
follower is told (``CursorExpired``), never skipped ahead. When Redis goes away mid-stream, the readers
retry with backoff and every follower's stream stays open (its response sends keepalives) and goes on
from its cursor when Redis is back; only after ``outage_limit`` seconds does each follower get a
``RUN_ERROR`` frame without an ``id:`` (so its ``Last-Event-ID`` still points at the last real event and
it may resume later) and its stream ends. A run whose record vanished from Redis before its end (Redis
restarted without persistence) ends its followers' streams with ``RUN_ERROR`` ``RUN_LOST``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any, Final

from redis.exceptions import RedisError

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import encode_event
from agui_server.runs.backend import CursorExpired
from agui_server.runs.codes import ErrorCode
from agui_server.runs.log import _Followable
from agui_server.runs.redis.client import send_together
from agui_server.runs.redis.entries import TERMINAL_TYPES, continues, unpack
from agui_server.runs.redis.keys import Keys

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ("STREAMS_PER_READER", "StreamHub", "StreamMirror")

logger = logging.getLogger("agui_server.runs.redis")

STREAMS_PER_READER: Final = 32
"""Streams one reader follows at most. Each read names every stream of its reader, and each batch of any of
them ends the read, so a reader's work per batch grows with its streams: with 100 runs at once on one reader,
a short run over Redis cost about 40 % more CPU than with 32 per reader (``benchmarks/README.md``, issue
15); 10,000 idle streams take ~313 connections."""
_BATCH: Final = 512
"""Frames handed to the follower at once."""
_ENTRIES: Final = 16
"""Entries per stream per read (each holds up to entries.MAX_BATCH events)."""
_AHEAD: Final = 8192
"""Frames read ahead of the follower at most: past this its reader leaves it out until it catches up."""
_QUIET_CHECK: Final = 5.0
"""Seconds without news after which a follower that has read everything asks whether its run is over (an
ended run always ends its log with a terminal event; this catches logs that expired or were deleted)."""
_BACKEND_LOST_FRAME: Final = b"data: %s\n\n" % encode_event(
    ev.RunErrorEvent(
        message="The server lost its connection to the run's log; resume from your last event id later.",
        code=ErrorCode.BACKEND_UNAVAILABLE,
    )
)
_RUN_LOST_FRAME: Final = b"data: %s\n\n" % encode_event(
    ev.RunErrorEvent(message="The run's record was lost before its end.", code=ErrorCode.RUN_LOST)
)
_FIRST_RETRY: Final = 0.05
"""Seconds before a reader's first retry while Redis is unreachable; each retry waits twice as long, up to
``_LAST_RETRY``."""
_LAST_RETRY: Final = 1.0


class StreamMirror(_Followable):
    """A FrameSource over one Redis stream whose entry ids are ``0-<seq>`` (entries.py), for one follower.

    Made by :meth:`StreamHub.open`.
    """

    __slots__ = (
        "_base",
        "_frames",
        "_gap",
        "_is_over",
        "_reader",
        "checked_at",
        "cursor",
        "ended",
        "ends_at_terminal",
        "key",
        "paused",
        "with_event_lines",
    )

    def __init__(
        self,
        key: str,
        after: int,
        *,
        with_event_lines: bool,
        ends_at_terminal: bool,
        is_over: Callable[[], Awaitable[bool]] | None,
    ) -> None:
        super().__init__()
        self.key = key
        self.cursor = after
        """The last event read from Redis."""
        self.with_event_lines = with_event_lines
        self.ends_at_terminal = ends_at_terminal
        self._is_over = is_over
        self._frames: list[bytes] = []
        self._base = after  # sequence number of the frame before _frames[0]
        self._gap: int | None = None  # the events after this one were trimmed before they were read
        self._reader: _Reader | None = None
        self.paused = False
        """Left out of its reader's reads: too far ahead of the follower."""
        self.checked_at = asyncio.get_running_loop().time()
        self.ended = False
        """Its run's terminal event was read."""

    def __len__(self) -> int:
        return self._base + len(self._frames)

    @property
    def full(self) -> bool:
        """Far enough ahead of the follower to stop reading for now."""
        return len(self._frames) > _AHEAD

    def frames_after(self, seq: int, limit: int = _BATCH) -> list[bytes]:
        """Frames after ``seq``; what the follower has read is dropped."""
        if seq > self._base:
            del self._frames[: seq - self._base]
            self._base = seq
            if self.paused and len(self._frames) <= _AHEAD // 2 and self._reader is not None:
                self.paused = False
                self._reader.wake()
        start = seq - self._base
        frames = self._frames[start : start + limit]
        if not frames and self._gap is not None:
            raise CursorExpired(seq)
        return frames

    def release(self) -> None:
        """The follower is done: stop reading."""
        if self._reader is not None:
            self._reader.remove(self)
            self._reader = None

    def take(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> bool:
        """Take entries read from the stream; True when the mirror has ended (its run's terminal event, or a gap)."""
        cursor = self.cursor
        frames = self._frames
        ended = False
        for entry_id, fields in entries:
            seq, types, payloads = unpack(entry_id, fields)
            if seq > cursor + 1:  # trimmed before this follower got to them: never skip silently
                logger.warning("%s: a follower fell behind what the log keeps (at %d)", self.key, cursor)
                self._gap = cursor
                ended = True
                break
            for etype, data in zip(types, payloads, strict=True):
                if seq > cursor:
                    if self.with_event_lines:
                        frames.append(b"event: %s\ndata: %s\nid: %d\n\n" % (etype, data, seq))  # (sse_frame's)
                    else:
                        frames.append(b"data: %s\nid: %d\n\n" % (data, seq))
                    cursor = seq
                seq += 1
            if self.ends_at_terminal and types[-1] in TERMINAL_TYPES and not continues(fields):
                # (a run queued once more after its worker died goes on with a new RUN_STARTED)
                ended = self.ended = True
                break
        self.cursor = cursor
        if ended:
            self.close()
        else:
            self._wake()
        return ended

    def fail(self) -> None:
        """Redis went away: tell the follower and end."""
        self._frames.append(_BACKEND_LOST_FRAME)
        self.close()

    async def check(self, hub: StreamHub) -> bool:
        """After a quiet spell: end the mirror if its run is over and nothing more is left to read (its log
        expired or was deleted); True if so. What is still there is fed as usual."""
        if self._is_over is None or not await self._is_over():
            return False
        # one more read closes the race between the last append and the status change
        reply = await hub.redis.xread({self.key: f"0-{self.cursor}"}, count=_ENTRIES)
        if reply:
            return self.take(reply[0][1])
        if self.ends_at_terminal and not self.ended:
            self._frames.append(_RUN_LOST_FRAME)  # the run ended, yet its log holds no terminal event
        self.close()
        return True


class _Reader:
    """Follows up to ``per_reader`` streams with one blocking ``XREAD`` at a time, on one connection."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub
        self.mirrors: dict[StreamMirror, None] = {}  # insertion-ordered set
        self.wake_key = hub.keys.hub(uuid.uuid4().hex)  # (in the slot of the streams it reads, for a cluster)
        self._wake_name = self.wake_key.encode()
        self._wake_cursor: bytes = b"0-0"
        self._blocked = False  # waiting in XREAD
        self._waking = False  # the XREAD in flight has been (or is being) woken
        self.reads = 0
        """XREADs issued so far (the number of the one in flight)."""
        self.task = asyncio.get_running_loop().create_task(self._run(), name=f"agui-stream-reader-{self.wake_key}")

    def add(self, mirror: StreamMirror) -> None:
        self.mirrors[mirror] = None
        mirror._reader = self
        self.wake()

    def remove(self, mirror: StreamMirror) -> None:
        self.mirrors.pop(mirror, None)

    def woken(self, read: int) -> None:
        """Something else wrote into the wake-up stream (``SUBMIT``) while XREAD number ``read`` was in flight:
        that read returns, and the next one has the current set of streams, with no poke of its own."""
        if self.reads == read:
            self._waking = True

    def wake(self) -> None:
        """Make the read in flight return, so that the next one has the current set of streams."""
        if not self._blocked or self._waking:
            return
        self._waking = True
        self.hub.spawn(self._poke())

    async def _poke(self) -> None:
        try:
            key = self.wake_key
            wake = [("XADD", key, "MAXLEN", 1, "*", "w", 1), ("PEXPIRE", key, 60_000)]
            replies = await send_together(self.hub.redis, wake)
            for reply in replies:
                if isinstance(reply, RedisError):
                    raise reply
        except (RedisError, OSError) as exc:
            logger.debug("waking a stream reader failed: %s", exc)

    async def _run(self) -> None:
        hub = self.hub
        loop = asyncio.get_running_loop()
        down_since: float | None = None  # when Redis stopped answering
        delay = _FIRST_RETRY
        try:
            while self.mirrors:
                query: dict[str, str] = {}
                cursors: dict[str, int] = {}
                by_key: dict[bytes, list[StreamMirror]] = {}
                now = loop.time()
                for mirror in list(self.mirrors):
                    if mirror.closed:
                        self.remove(mirror)
                        continue
                    if mirror.full:  # (not quiet: its follower has yet to read what is here)
                        mirror.paused = True
                        mirror.checked_at = now
                        continue
                    if now - mirror.checked_at >= _QUIET_CHECK:
                        mirror.checked_at = now
                        hub.spawn(self._check(mirror))
                    cursor = cursors.get(mirror.key)
                    cursors[mirror.key] = mirror.cursor if cursor is None else min(cursor, mirror.cursor)
                    by_key.setdefault(mirror.key.encode(), []).append(mirror)
                for key, cursor in cursors.items():
                    query[key] = f"0-{cursor}"
                query[self.wake_key] = self._wake_cursor.decode()
                self._blocked, self._waking = True, False
                self.reads += 1
                asked_at = loop.time()
                # while Redis is away, a read may not outlast the outage limit (a cluster client's own retries
                # over every node can take several seconds per command)
                left = None if down_since is None else max(hub.outage_limit - (asked_at - down_since), 0.01)
                try:
                    async with asyncio.timeout(left):
                        reply = await hub.blocking.xread(query, count=_ENTRIES, block=hub.block_ms)
                except (RedisError, OSError) as exc:  # (TimeoutError is an OSError)
                    now = loop.time()
                    if down_since is None:
                        down_since = now
                        logger.warning("lost Redis while following %d stream(s): %s; retrying", len(self.mirrors), exc)
                    if now - down_since >= hub.outage_limit:
                        raise
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, _LAST_RETRY)
                    continue
                finally:
                    self._blocked = False
                if down_since is not None:
                    logger.warning("Redis is back after %.1f s; %d stream(s) go on", loop.time() - down_since,
                                   len(self.mirrors))  # fmt: skip
                    down_since, delay = None, _FIRST_RETRY
                for key, entries in reply or ():
                    if key == self._wake_name:
                        self._wake_cursor = entries[-1][0]
                        continue
                    for mirror in by_key.get(key, ()):
                        if mirror in self.mirrors and mirror.take(entries):
                            self.remove(mirror)
                        elif mirror in self.mirrors:
                            mirror.checked_at = loop.time()
        except asyncio.CancelledError:
            raise
        except (RedisError, OSError) as exc:
            logger.warning("lost Redis while following %d stream(s): %s", len(self.mirrors), exc)
            self._fail_all()
        except Exception:
            logger.exception("a stream reader failed while following %d stream(s)", len(self.mirrors))
            self._fail_all()
        finally:
            hub.readers.discard(self)

    def _fail_all(self) -> None:
        for mirror in list(self.mirrors):
            mirror.fail()
        self.mirrors.clear()

    async def _check(self, mirror: StreamMirror) -> None:
        try:
            if await mirror.check(self.hub):
                self.remove(mirror)
        except (RedisError, OSError) as exc:
            logger.debug("checking %s failed: %s", mirror.key, exc)


class StreamHub:
    """The followers of one web process and the readers that serve them.

    Args:
        blocking: a client for the blocking reads (each reader holds one of its connections).
        redis: a client for the short commands (wake-ups, checks).
        prefix: the key prefix: the readers' wake-up streams share its hash slot with the streams they read
            (one ``XREAD`` may only name keys of one slot on a Redis Cluster).
        per_reader: streams one reader follows at most.
        block_ms: the longest single ``XREAD BLOCK``.
        outage_limit: seconds Redis may be unreachable before the followers are told and their streams end.
    """

    def __init__(
        self,
        blocking: Any,
        redis: Any,
        prefix: str,
        *,
        per_reader: int = STREAMS_PER_READER,
        block_ms: int = 1000,
        outage_limit: float = 20.0,
    ) -> None:
        self.blocking = blocking
        self.outage_limit = outage_limit
        self.redis = redis
        self.prefix = prefix
        self.keys = Keys(prefix)
        self.per_reader = per_reader
        self.block_ms = block_ms
        self.readers: set[_Reader] = set()
        self._background: set[asyncio.Task[Any]] = set()

    def open(
        self,
        key: str,
        after: int,
        *,
        with_event_lines: bool = False,
        ends_at_terminal: bool = True,
        is_over: Callable[[], Awaitable[bool]] | None = None,
        first: bytes | None = None,
    ) -> StreamMirror:
        """Follow ``key`` after ``after`` (``with_event_lines``: frames carry ``event:`` lines;
        ``ends_at_terminal``: it is a run's log, ended by its terminal event; ``is_over``: whether the run
        is over, asked after a quiet spell; ``first``: the payload of the log's event number 1, a
        ``RUN_STARTED`` known without reading it, when ``after`` is 0)."""
        mirror = StreamMirror(
            key, after, with_event_lines=with_event_lines, ends_at_terminal=ends_at_terminal, is_over=is_over
        )
        if first is not None and after == 0:
            mirror.take([(b"0-1", {b"t": b"RUN_STARTED", b"d": first})])
        reader = self._reader()
        if reader is None:
            reader = _Reader(self)
            self.readers.add(reader)
        reader.add(mirror)
        return mirror

    def _reader(self) -> _Reader | None:
        """The reader the next stream joins (``None``: a new one)."""
        return next((r for r in self.readers if len(r.mirrors) < self.per_reader and not r.task.done()), None)

    def wake_ahead(self) -> tuple[_Reader, int] | None:
        """The reader the next stream joins while it waits in an XREAD, and that read's number: a script that
        makes the stream (``SUBMIT``) may write into the reader's wake-up stream (``_Reader.wake_key``) in the
        same round trip and then call ``reader.woken(read)``, to spare the reader's own poke."""
        reader = self._reader()
        return (reader, reader.reads) if reader is not None and reader._blocked else None

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self, timeout: float = 2.0) -> None:
        """Stop every reader (bounded)."""
        tasks = [reader.task for reader in self.readers] + list(self._background)
        for task in tasks:
            task.cancel()
        if tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait(tasks, timeout=timeout)
