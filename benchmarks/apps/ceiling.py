"""The ceiling: a raw ASGI callable that reads the body and writes frames encoded once, at import.

Its frames are byte for byte the shape of ours (``id:`` and compact JSON with a timestamp), one
``send`` per event, as an agent hands them over one at a time: the cost of the transport per event with
no protocol work at all. Only RUN_STARTED and the two closing frames, which carry the request's ids and
the run's last sequence numbers, are formatted per request.

(Writing 1,024 pre-encoded frames per send instead measures the reading client, not a server: on the
benchmark machine it reached 8 million events/s with the server at 28 % CPU and the client at 98 %. No
server that does per-event work in Python comes near it, so it is no yardstick; see benchmarks/README.md.)
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import msgspec

from benchmarks.workload import DELTA, MESSAGE_ID, PATH, read_props

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

MAX_TOKENS: Final = 100_000
BATCH: Final = 1
"""Frames per write: one event, one send."""

_TIMESTAMP: Final = time.time_ns() // 1_000_000
_json = msgspec.json.encode


class _Input(msgspec.Struct, rename="camel"):
    thread_id: str
    run_id: str
    forwarded_props: Any = None


_decode: Final = msgspec.json.Decoder(_Input).decode


def _frame(seq: int, payload: bytes) -> bytes:
    return b"id: %d\ndata: %s\n\n" % (seq, payload)


_START: Final = _frame(
    2, _json({"type": "TEXT_MESSAGE_START", "messageId": MESSAGE_ID, "role": "assistant", "timestamp": _TIMESTAMP})
)
_CONTENT_JSON: Final = _json(
    {"type": "TEXT_MESSAGE_CONTENT", "messageId": MESSAGE_ID, "delta": DELTA, "timestamp": _TIMESTAMP}
)
_END_JSON: Final = _json({"type": "TEXT_MESSAGE_END", "messageId": MESSAGE_ID, "timestamp": _TIMESTAMP})
_FRAMES: Final = [_frame(seq, _CONTENT_JSON) for seq in range(3, MAX_TOKENS + 3)]
_BATCHES: Final = [b"".join(_FRAMES[i : i + BATCH]) for i in range(0, MAX_TOKENS, BATCH)]
"""Content frames 1..MAX_TOKENS, BATCH to a chunk: a run of n tokens sends the first n of them."""
_HEADERS: Final = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
_NOT_FOUND: Final = {"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]}


def _content(tokens: int) -> list[bytes]:
    """The first ``tokens`` content frames, ``BATCH`` to a chunk."""
    full, rest = divmod(tokens, BATCH)
    chunks = _BATCHES[:full]
    if rest:
        chunks.append(b"".join(_FRAMES[full * BATCH : tokens]))
    return chunks


def _started(run: _Input) -> bytes:
    payload = b'{"type":"RUN_STARTED","threadId":%s,"runId":%s,"timestamp":%d}' % (
        _json(run.thread_id),
        _json(run.run_id),
        _TIMESTAMP,
    )
    return _frame(1, payload)


def _closing(run: _Input, tokens: int) -> bytes:
    finished = b'{"type":"RUN_FINISHED","threadId":%s,"runId":%s,"timestamp":%d}' % (
        _json(run.thread_id),
        _json(run.run_id),
        _TIMESTAMP,
    )
    return _frame(tokens + 3, _END_JSON) + _frame(tokens + 4, finished)


async def _read_body(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body", False):
            return body


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """``POST /ag-ui``: the benchmark run, from pre-encoded frames."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["path"] != PATH or scope["method"] != "POST":
        await send(_NOT_FOUND)
        await send({"type": "http.response.body", "body": b""})
        return
    run = _decode(await _read_body(receive))
    tokens, idle = read_props(run.forwarded_props)
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
    if idle:
        await send({"type": "http.response.body", "body": _started(run), "more_body": True})
        while (await receive())["type"] != "http.disconnect":
            pass
        return
    tokens = min(tokens, MAX_TOKENS)  # the client checks the event count, so a cut run would show
    chunks = _content(tokens) or [b""]
    chunks[0] = _started(run) + _START + chunks[0]
    chunks[-1] += _closing(run, tokens)
    last = len(chunks) - 1
    for index, chunk in enumerate(chunks):
        await send({"type": "http.response.body", "body": chunk, "more_body": index != last})
