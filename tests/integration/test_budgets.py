"""Budgets in bytes as well as counts: stored history, the store's total, and feeds a subscriber holds."""

from __future__ import annotations

import asyncio

import httpx

from agui_server import AGUIConfig, create_app
from agui_server.protocol.types import UserMessage
from agui_server.runs.manager import RunLimits, RunManager
from agui_server.runs.threads import MemoryThreadStore, Thread, ThreadLimits
from tests.support.server import running_server
from tests.support.sse import run_input


async def test_a_thread_keeps_at_most_max_bytes_of_messages_newest_first() -> None:
    store = MemoryThreadStore(ThreadLimits(max_bytes=10_000))
    messages = [UserMessage(id=f"m{n}", content="x" * 1_000) for n in range(50)]
    await store.save(Thread(thread_id="t", messages=messages))
    kept = await store.get("t")
    assert kept is not None
    assert 5 <= len(kept.messages) <= 10
    assert kept.messages[-1].id == "m49"


async def test_the_memory_store_keeps_at_most_max_total_bytes() -> None:
    store = MemoryThreadStore(ThreadLimits(max_total_bytes=50_000))
    for n in range(100):
        await store.save(Thread(thread_id=f"t{n}", messages=[UserMessage(id="m", content="y" * 2_000)]))
    assert 10 <= len(store) <= 25
    assert await store.get("t99") is not None
    assert await store.get("t0") is None


async def test_a_subscribed_feed_is_never_evicted_by_other_threads() -> None:
    manager = RunManager(limits=RunLimits(max_feeds=10))
    feed = await manager.subscribe("watched", None)
    for n in range(50):
        manager.feed(f"other-{n}")
    assert manager.feed("watched") is feed
    assert len(manager._feeds) <= 11


async def test_a_subscriber_still_gets_events_after_a_thousand_other_threads_ran() -> None:
    app = create_app(AGUIConfig())
    async with running_server(app) as base, httpx.AsyncClient(timeout=30) as client:
        async with client.stream("GET", base + "/agents/default/sse", params={"thread_id": "watched"}) as response:
            for batch in range(0, 1_050, 50):
                await asyncio.gather(
                    *(
                        client.post(base + "/ag-ui", json=run_input("x", run_id=f"o{n}", thread_id=f"other-{n}"))
                        for n in range(batch, batch + 50)
                    )
                )
            await client.post(base + "/agents/default/messages", json={"thread_id": "watched", "message": "still here"})
            buffer = b""
            async with asyncio.timeout(10):
                async for chunk in response.aiter_raw():
                    buffer += chunk
                    if b"event: RUN_FINISHED" in buffer:
                        break
    assert b"still here" in buffer
