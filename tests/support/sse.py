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
