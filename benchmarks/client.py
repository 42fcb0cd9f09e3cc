"""A lean HTTP/1.1 client for SSE runs: raw asyncio transport, httptools parsing, frames counted in C.

It does as little as possible per byte so that one core of it outruns the server it measures: frames are
counted as ``\\n\\n`` boundaries in each de-chunked body piece (with a carry for a boundary split across
pieces); nothing is decoded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final, cast

import httptools

from benchmarks.workload import PATH

__all__ = ("Connection", "Response", "connect")

_CONNECT_TIMEOUT: Final = 10.0


@dataclass(slots=True)
class Response:
    """One finished (or first-frame) response."""

    status: int
    frames: int
    """``\\n\\n``-terminated frames received (events, plus ``: ping`` comments on idle streams)."""
    sent_at: float
    first_frame_at: float
    done_at: float

    @property
    def time_to_first_frame(self) -> float:
        return self.first_frame_at - self.sent_at

    @property
    def elapsed(self) -> float:
        return self.done_at - self.sent_at


class Connection(asyncio.Protocol):
    """One keep-alive connection running one request at a time."""

    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Accept: text/event-stream\r\n{extra}Content-Length: "
        ).encode()
        self._parser = httptools.HttpResponseParser(self)
        self._transport: asyncio.Transport | None = None
        self._lost: BaseException | None = None
        self._reset()

    def _reset(self) -> None:
        self._frames = 0
        self._newline_carry = False
        self._sent_at = 0.0
        self._first_frame_at = 0.0
        self._status = 0
        self._first: asyncio.Future[None] | None = None
        self._done: asyncio.Future[None] | None = None

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast("asyncio.Transport", transport)  # uvloop's transports are not subclasses

    def data_received(self, data: bytes) -> None:
        self._parser.feed_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        closed_by_us = self._lost is not None
        self._lost = self._lost or exc or ConnectionResetError("the server closed the connection")
        for future in (self._first, self._done):
            if future is not None and not future.done():
                if closed_by_us:
                    future.cancel()
                else:
                    future.set_exception(self._lost)
                    future.exception()  # an awaiter still gets it; nobody awaiting is no error of its own

    # -- httptools callbacks ------------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        count = body.count(b"\n\n")
        if self._newline_carry and body[:1] == b"\n":
            count += 1
        self._newline_carry = body[-1:] == b"\n"
        if count:
            if not self._frames:
                self._first_frame_at = time.perf_counter()
                if self._first is not None and not self._first.done():
                    self._first.set_result(None)
            self._frames += count

    def on_message_complete(self) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_result(None)
        if self._first is not None and not self._first.done():  # a response without frames (an error)
            self._first.set_result(None)

    # -- requests -----------------------------------------------------------------------------------

    def _send(self, body: bytes) -> None:
        if self._lost is not None or self._transport is None:
            raise ConnectionError("the connection is closed")
        loop = asyncio.get_running_loop()
        self._reset()
        self._first = loop.create_future()
        self._done = loop.create_future()
        self._sent_at = time.perf_counter()
        self._transport.write(self._head + str(len(body)).encode() + b"\r\n\r\n" + body)

    def _response(self, done_at: float) -> Response:
        return Response(self._status, self._frames, self._sent_at, self._first_frame_at or done_at, done_at)

    async def run(self, body: bytes) -> Response:
        """Send one request and read its whole response."""
        self._send(body)
        assert self._done is not None
        await self._done
        return self._response(time.perf_counter())

    async def open_stream(self, body: bytes) -> Response:
        """Send one request and return once its first frame is in; the stream stays open."""
        self._send(body)
        assert self._first is not None
        await self._first
        return self._response(self._first_frame_at or time.perf_counter())

    async def finish(self) -> Response:
        """After :meth:`open_stream`: read the rest of the response."""
        assert self._done is not None
        await self._done
        return self._response(time.perf_counter())

    @property
    def closed(self) -> bool:
        """Whether the connection is gone (closed by either side)."""
        return self._lost is not None

    def close(self) -> None:
        """Close the connection; a request still in flight is cancelled."""
        if self._lost is None:
            self._lost = ConnectionAbortedError("closed by the client")
        if self._transport is not None:
            self._transport.close()


async def connect(host: str, port: int, headers: dict[str, str] | None = None) -> Connection:
    """A new connection to ``host:port`` (its requests carry ``headers`` too)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(_CONNECT_TIMEOUT):
        _transport, protocol = await loop.create_connection(lambda: Connection(host, port, headers), host, port)
    return protocol
