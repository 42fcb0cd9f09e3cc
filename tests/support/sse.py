"""Reading AG-UI streams in tests, with httpx-sse."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from httpx_sse import aconnect_sse

if TYPE_CHECKING:
    import httpx


async def collect_events(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], *, headers: dict[str, str] | None = None
) -> tuple[httpx.Response, list[dict[str, Any]], list[str]]:
    """POST ``body`` and read the whole stream: (response, decoded events, SSE ids)."""
    events: list[dict[str, Any]] = []
    ids: list[str] = []
    async with aconnect_sse(client, "POST", url, json=body, headers=dict(headers or {})) as source:
        async for sse in source.aiter_sse():
            if sse.data:
                events.append(json.loads(sse.data))
                ids.append(sse.id)
        return source.response, events, ids


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"] for e in events]


def run_input(text: str = "hello", *, run_id: str = "r1", thread_id: str = "t1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "threadId": thread_id,
        "runId": run_id,
        "messages": [{"id": f"u-{run_id}", "role": "user", "content": text}],
    }
    body.update(extra)
    return body


Frame = tuple[str | None, dict[str, Any]]


def parse_frames(raw: bytes) -> list[Frame]:
    """(id, event) for every data frame of a raw SSE body."""
    out: list[Frame] = []
    for block in raw.split(b"\n\n"):
        event_id, data = None, None
        for line in block.split(b"\n"):
            if line.startswith(b"id: "):
                event_id = line[4:].decode()
            elif line.startswith(b"data: "):
                data = json.loads(line[6:])
        if data is not None:
            out.append((event_id, data))
    return out


class _Frames:
    def __init__(self) -> None:
        self._buffer = b""

    def _drain(self, got: list[Frame], count: int) -> None:
        while b"\n\n" in self._buffer and len(got) < count:
            block, self._buffer = self._buffer.split(b"\n\n", 1)
            got += parse_frames(block + b"\n\n")


class AsyncReader(_Frames):
    """Reads a streaming response frame by frame, across several calls (what was read past is kept)."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__()
        self._chunks = response.aiter_raw()

    async def take(self, count: int) -> list[Frame]:
        """The next ``count`` data frames (fewer if the stream ends)."""
        got: list[Frame] = []
        self._drain(got, count)
        while len(got) < count:
            try:
                self._buffer += await self._chunks.__anext__()
            except StopAsyncIteration:
                break
            self._drain(got, count)
        return got

    async def rest(self) -> list[Frame]:
        """Every remaining data frame."""
        return await self.take(10**9)


class SyncReader(_Frames):
    """:class:`AsyncReader` for a synchronous response."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__()
        self._chunks = response.iter_raw()

    def take(self, count: int) -> list[Frame]:
        """The next ``count`` data frames (fewer if the stream ends)."""
        got: list[Frame] = []
        self._drain(got, count)
        while len(got) < count:
            try:
                self._buffer += next(self._chunks)
            except StopIteration:
                break
            self._drain(got, count)
        return got


Block = tuple[str | None, str | None, Any]
"""(event name, id, decoded data) of one SSE frame."""


def sse_blocks(raw: bytes) -> list[Block]:
    """Every frame with data in a raw SSE body, whatever the order of its fields."""
    out: list[Block] = []
    for block in raw.split(b"\n\n"):
        event, event_id, data = None, None, None
        for line in block.split(b"\n"):
            if line.startswith(b"event: "):
                event = line[7:].decode()
            elif line.startswith(b"id: "):
                event_id = line[4:].decode()
            elif line.startswith(b"data: "):
                data = json.loads(line[6:])
        if data is not None:
            out.append((event, event_id, data))
    return out
