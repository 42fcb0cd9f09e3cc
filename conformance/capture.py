"""Reading an endpoint's answer exactly as it came: status, headers, raw bytes and their timing."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ("ACCEPT", "Capture", "agent_headers", "capture_stream")


ACCEPT = "text/event-stream"
"""What ``HttpAgent`` of ``@ag-ui/client`` (0.0.59 and 1.0.0 alike) sends as Accept."""


def agent_headers(headers: Mapping[str, str] | None, content_type: str | None = "application/json") -> httpx.Headers:
    """The headers of a request as ``HttpAgent`` sends it: the caller's, then Content-Type and Accept.

    ``HttpAgent.requestInit`` spreads its own headers first and then sets ``Content-Type:
    application/json`` and ``Accept: text/event-stream``, so those two always win; so here. A server that
    negotiates its encoding by Accept (``EventEncoder({accept})`` answers protobuf to ``*/*``) gets SSE.
    """
    result = httpx.Headers(headers or {})
    if content_type is not None:
        result["content-type"] = content_type
    result["accept"] = ACCEPT
    return result


@dataclass(slots=True)
class Capture:
    """What came back for one request."""

    status: int = 0
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    longest_gap: float = 0.0
    """The longest silence between two pieces of the body (or before the first), in seconds."""
    error: str | None = None
    """A transport failure or timeout while reading, if any."""


async def capture_stream(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    content: bytes | None = None,
    json: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    stop_after_first_event: bool = False,
) -> Capture:
    """Send one request and read the whole answer (bounded by ``timeout``)."""
    result = Capture()
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    try:
        async with client.stream(
            method, url, content=content, json=json, headers=headers, timeout=httpx.Timeout(timeout)
        ) as response:
            result.status = response.status_code
            result.headers = response.headers
            last = time.monotonic()
            async for chunk in response.aiter_raw():
                now = time.monotonic()
                result.longest_gap = max(result.longest_gap, now - last)
                last = now
                chunks.append(chunk)
                if stop_after_first_event and b"data:" in b"".join(chunks):
                    break
                if now > deadline:
                    result.error = f"the stream did not end within {timeout:g} s"
                    break
    except httpx.TimeoutException:
        result.error = f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.body = b"".join(chunks)
    return result
