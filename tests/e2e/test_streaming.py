"""Streaming on a real socket: events arrive as they happen, disconnects cancel, idle streams get pings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from agui_server import AGUIConfig, create_app
from agui_server.protocol import events as ev
from tests.support.server import running_server
from tests.support.sse import run_input


async def _frames(response: httpx.Response) -> Any:
    """Yield each SSE block (comments included) as it arrives."""
    buffer = b""
    async for chunk in response.aiter_raw():
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            yield block


async def test_first_event_arrives_before_the_agent_finishes() -> None:
    release = asyncio.Event()
    finished = asyncio.Event()

    async def agent(input, ctx):
        yield "first"
        await asyncio.wait_for(release.wait(), 10)
        yield "second"
        finished.set()

    async with running_server(create_app(AGUIConfig(agent=agent))) as base, httpx.AsyncClient(timeout=10) as client:
        async with client.stream("POST", base + "/ag-ui", json=run_input()) as response:
            seen: list[dict[str, Any]] = []
            async for block in _frames(response):
                data = [line[6:] for line in block.split(b"\n") if line.startswith(b"data: ")]
                if not data:
                    continue
                seen.append(json.loads(data[0]))
                if seen[-1]["type"] == "TEXT_MESSAGE_CONTENT" and seen[-1]["delta"] == "first":
                    assert not finished.is_set()
                    release.set()
            assert [e["type"] for e in seen][-1] == "RUN_FINISHED"
            assert finished.is_set()


async def test_client_disconnect_cancels_the_agent_and_cleanup_completes() -> None:
    cleaned_up = asyncio.Event()
    cancelled = asyncio.Event()

    async def agent(input, ctx):
        if input.run_id == "next":
            yield "a short run"
            return
        try:
            yield "streaming"
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finally:
            await asyncio.sleep(0.01)  # cleanup that awaits still runs to the end
            cleaned_up.set()

    async with running_server(create_app(AGUIConfig(agent=agent))) as base:
        async with httpx.AsyncClient(timeout=10) as client:
            async with client.stream("POST", base + "/ag-ui", json=run_input()) as response:
                async for block in _frames(response):
                    if b"TEXT_MESSAGE_CONTENT" in block:
                        break
        await asyncio.wait_for(cleaned_up.wait(), 5)
        assert cancelled.is_set()
        async with httpx.AsyncClient(timeout=10) as client:  # the server goes on serving
            response = await client.post(base + "/ag-ui", json=run_input(run_id="next"))
            assert response.status_code == 200
            assert b"a short run" in response.content


async def test_idle_stream_gets_keepalive_comments() -> None:
    async def agent(input, ctx):
        yield "wait for it"
        await asyncio.sleep(0.6)
        yield "done"

    config = AGUIConfig(agent=agent, keepalive_interval=0.1)
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=10) as client:
        async with client.stream("POST", base + "/ag-ui", json=run_input()) as response:
            blocks = [block async for block in _frames(response)]
    pings = [b for b in blocks if b == b": ping"]
    assert len(pings) >= 3
    assert json.loads(blocks[-1].split(b"data: ", 1)[1].split(b"\n")[0])["type"] == "RUN_FINISHED"


async def test_events_ready_together_go_out_in_one_write() -> None:
    async def agent(input, ctx):
        for n in range(200):
            yield ev.CustomEvent(name="n", value=n)

    app = create_app(AGUIConfig(agent=agent))
    bodies: list[bytes] = []
    messages = iter([{"type": "http.request", "body": json.dumps(run_input()).encode(), "more_body": False}])
    disconnect = asyncio.Event()

    async def receive() -> dict[str, Any]:
        try:
            return next(messages)
        except StopIteration:
            await disconnect.wait()
            return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and message["body"]:
            bodies.append(message["body"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/ag-ui",
        "raw_path": b"/ag-ui",
        "root_path": "",
        "scheme": "http",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "state": {},
    }
    await asyncio.wait_for(app(scope, receive, send), 10)  # type: ignore[arg-type]
    frames = b"".join(bodies).count(b"\nid: ")
    assert frames == 202  # RUN_STARTED, 200 CUSTOM, RUN_FINISHED
    assert len(bodies) < frames / 10
