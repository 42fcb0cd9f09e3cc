"""The SSE response: follows a run's log and writes its frames.

Frames that are ready together go out in one write. While the log is idle a ``: ping`` comment goes
out every ``keepalive`` seconds. When the response ends, ``on_close`` says whether the client saw it
all or went away (the run's disconnect policy decides what happens then); the run itself never depends
on the response.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Final

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import KEEPALIVE_FRAME, SSE_HEADERS, SSE_MEDIA_TYPE, encode_event
from agui_server.runs.backend import CursorExpired
from agui_server.runs.codes import ErrorCode

if TYPE_CHECKING:
    from collections.abc import Callable

    from litestar.types import Receive, Scope, Send

    from agui_server.observability.metrics import Metrics
    from agui_server.runs.backend import FrameSource

__all__ = ("SSEResponse",)

_RAW_HEADERS: Final = [
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in {"content-type": SSE_MEDIA_TYPE, **SSE_HEADERS}.items()
]

_BEHIND_FRAME: Final = b"data: %s\n\n" % encode_event(
    ev.RunErrorEvent(
        message="This stream fell so far behind that the run's log dropped events it had not sent yet; "
        "the thread holds the outcome.",
        code=ErrorCode.STREAM_BEHIND,
    )
)
"""Ends a stream whose reader fell behind what the log keeps; no ``id:``, as it is not one of the run's events."""


class SSEResponse:
    """Streams ``log`` from after sequence number ``after``.

    Args:
        log: the run's event log.
        after: the last sequence number the client already has.
        keepalive: seconds of silence before a ``: ping`` comment.
        on_close: called once when the response ends, with ``True`` when the whole log was sent and
            ``False`` when the client went away first.
        prelude: bytes written before the first frame (``retry:`` hints, a connect prelude).
        metrics: where the stream is counted (open streams, events and bytes sent; ``None``: nowhere).
        kind: the stream's kind in the metrics: ``run`` or ``feed``.
    """

    __slots__ = (
        "_disconnected", "_waiter", "after", "bytes_sent", "keepalive", "kind", "log", "metrics", "on_close",
        "prelude", "raw_headers", "sent",
    )  # fmt: skip

    def __init__(
        self,
        log: FrameSource,
        *,
        after: int = 0,
        keepalive: float = 15.0,
        on_close: Callable[[bool], object] | None = None,
        prelude: bytes = b"",
        headers: dict[str, str] | None = None,
        metrics: Metrics | None = None,
        kind: str = "run",
    ) -> None:
        self.raw_headers = _RAW_HEADERS
        if headers:
            extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
            self.raw_headers = [*_RAW_HEADERS, *extra]
        self.log = log
        self.after = after
        self.keepalive = keepalive
        self.on_close = on_close
        self.prelude = prelude
        self._disconnected = False
        self._waiter: asyncio.Future[None] | None = None
        self.metrics = metrics
        self.kind = kind
        self.sent = 0
        """Frames written so far."""
        self.bytes_sent = 0
        """Bytes written so far (the prelude and keepalives included)."""

    async def _listen(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self._disconnected = True
                waiter = self._waiter
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 200 with the SSE headers (encoded once, at import), then stream."""
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await self.send_body(send, receive)

    def _client_gone(self) -> bool:
        return self._disconnected

    async def send_body(self, send: Send, receive: Receive) -> None:
        """Write frames until the run's log is complete or the client goes away."""
        loop = asyncio.get_running_loop()
        listener = loop.create_task(self._listen(receive))
        completed = False
        metrics = self.metrics
        labels = {"kind": self.kind}
        if metrics is not None:
            metrics.streams_open.add(1, labels)
        try:
            completed = await self._pump(send, loop)
        except OSError:  # the socket went away under a write
            self._disconnected = True
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listener
            self.log.release()
            if metrics is not None:
                metrics.streams_open.add(-1, labels)
                metrics.sent_events.add(self.sent, labels)
                metrics.sent_bytes.add(self.bytes_sent, labels)
            if self.on_close is not None:
                self.on_close(completed)

    async def _pump(self, send: Send, loop: asyncio.AbstractEventLoop) -> bool:
        log = self.log
        cursor = self.after
        pending = self.prelude
        while not self._client_gone():
            try:
                frames = log.frames_after(cursor)
            except CursorExpired:
                self.bytes_sent += len(pending) + len(_BEHIND_FRAME)
                await send({"type": "http.response.body", "body": pending + _BEHIND_FRAME, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return True  # the client is slow, not gone: the run goes on for the others
            if frames:
                cursor += len(frames)
                body = b"".join(frames) if len(frames) > 1 else frames[0]
                if pending:
                    body, pending = pending + body, b""
                self.sent += len(frames)
                self.bytes_sent += len(body)
                await send({"type": "http.response.body", "body": body, "more_body": True})
                continue
            if log.closed:
                if pending:
                    self.bytes_sent += len(pending)
                    await send({"type": "http.response.body", "body": pending, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return True
            if pending:
                self.bytes_sent += len(pending)
                await send({"type": "http.response.body", "body": pending, "more_body": True})
                pending = b""
            waiter = self._waiter = log.waiter()
            timer = loop.call_later(self.keepalive, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
                log.forget(waiter)
            if self._client_gone():
                break
            if not log.closed and len(log) == cursor:
                self.bytes_sent += len(KEEPALIVE_FRAME)
                await send({"type": "http.response.body", "body": KEEPALIVE_FRAME, "more_body": True})
        return False


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
