"""A run's log (or a feed) seen through a dialect: the same cursor, other frames.

:class:`DialectView` wraps any frame source the HTTP layer streams (an in-process log, a Redis mirror, a
feed) and answers one entry per event of the source, so sequence numbers, resume and keepalives work as
they do for AG-UI. An event a dialect drops answers ``b""`` (nothing is written for it).

A view opened after the start (a resume) first shows its translator the earlier events still kept, with
their frames discarded, so translators that accumulate (a message's whole text, a tool's arguments) know
what came before (sources that keep them in this process: logs and feeds; a Redis mirror starts at
the cursor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.dialects.base import AGUIEvent
from agui_server.protocol.encoding import encode_json, frame_payload, sse_frame
from agui_server.runs.backend import CursorExpired

if TYPE_CHECKING:
    import asyncio

    from agui_server.dialects.base import Dialect, Frame, StreamInfo, Translator
    from agui_server.runs.backend import FrameSource

__all__ = ("DialectView", "render")

_decode: Final = msgspec.json.Decoder(dict[str, Any]).decode
_WARM_UP_BATCH: Final = 1024


def render(frames: list[Frame] | tuple[Frame, ...] | Any, seq: int | None, id_prefix: str = "") -> bytes:
    """The bytes of a translator's frames for the event numbered ``seq`` (``None``: no ``id:`` lines)."""
    out = []
    for frame in frames:
        data = frame.data if isinstance(frame.data, bytes) else encode_json(frame.data)
        if seq is None:
            out.append(sse_frame(None, data, frame.event))
        elif id_prefix:
            named = b"event: %s\n" % frame.event.encode() if frame.event else b""
            out.append(b"%sdata: %s\nid: %s%d\n\n" % (named, data, id_prefix.encode(), seq))
        else:
            out.append(sse_frame(seq, data, frame.event))
    return b"".join(out)


class DialectView:
    """``source`` through ``dialect``, for one response.

    Args:
        source: the run's log or a feed, as the backend opened it.
        dialect: the wire shape.
        stream: what the translator is told about the stream.
        after: the cursor the response starts after (the events up to it warm the translator up).
        id_prefix: put before each ``id:`` (a run id, so that a ``Last-Event-ID`` alone finds the run).
    """

    __slots__ = ("_ids", "_next", "_prefix", "_source", "_translator")

    def __init__(
        self, source: FrameSource, dialect: Dialect, stream: StreamInfo, *, after: int = 0, id_prefix: str = ""
    ) -> None:
        self._source = source
        self._translator: Translator = dialect.translator(stream)
        self._ids = dialect.ids
        self._prefix = id_prefix
        self._next = after + 1
        if after > 0:
            self._warm_up(after)

    def _warm_up(self, after: int) -> None:
        first_seq = getattr(self._source, "first_seq", None)
        if first_seq is None:
            return  # a source that cannot look back (a Redis mirror opened at the cursor): start fresh
        cursor = first_seq - 1
        while cursor < after:
            try:
                frames = self._source.frames_after(cursor, min(_WARM_UP_BATCH, after - cursor))
            except CursorExpired:
                return  # the start is no longer kept (or the source cannot look back): start fresh
            if not frames:
                return
            for frame in frames:
                self._translate(frame)
            cursor += len(frames)

    def _translate(self, frame: bytes) -> list[Frame]:
        payload = frame_payload(frame)
        fields = _decode(payload)
        return list(self._translator.translate(AGUIEvent(str(fields.get("type", "")), fields, payload)))

    # -- FrameSource ----------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """The source has ended."""
        return self._source.closed

    def __len__(self) -> int:
        return len(self._source)

    def frames_after(self, seq: int, limit: int = 1024) -> list[bytes]:
        """One entry per source event after ``seq``: the dialect's frames for it (``b""`` for none)."""
        frames = self._source.frames_after(seq, limit)
        out = []
        ids = self._ids
        for n, frame in enumerate(frames, start=seq + 1):
            if n < self._next:  # (asked again for what was already translated: never translate twice)
                out.append(b"")
                continue
            out.append(render(self._translate(frame), n if ids else None, self._prefix))
            self._next = n + 1
        return out

    def waiter(self) -> asyncio.Future[None]:
        """A future that completes at the source's next event or end."""
        return self._source.waiter()

    def forget(self, future: asyncio.Future[None]) -> None:
        """Drop a waiter."""
        self._source.forget(future)

    def release(self) -> None:
        """The response is done with it."""
        self._source.release()
