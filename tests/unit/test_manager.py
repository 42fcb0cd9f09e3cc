"""The in-process run manager: retention, caps, admission."""

from __future__ import annotations

import asyncio

import pytest

from agui_server.agents.base import as_agent
from agui_server.agents.offline import OfflineAgent
from agui_server.protocol.types import RunAgentInput, UserMessage
from agui_server.runs.backend import ThreadBusy
from agui_server.runs.manager import RunLimits, RunManager


def make_input(n: int, thread: str | None = None) -> RunAgentInput:
    return RunAgentInput(
        thread_id=thread or f"t{n}",
        run_id=f"r{n}",
        messages=[UserMessage(id=f"u{n}", content="hi")],
        protocol_version="1.0",
    )


async def test_finished_runs_are_forgotten_after_their_retention() -> None:
    manager = RunManager(limits=RunLimits(retention=0.05))
    run = await manager.start(OfflineAgent(), make_input(1))
    await asyncio.wait_for(asyncio.shield(run.ended), 5)
    assert await manager.get("r1") is run
    await asyncio.sleep(0.2)
    assert await manager.get("r1") is None
    await manager.shutdown()


async def test_at_most_max_finished_runs_are_kept() -> None:
    manager = RunManager(limits=RunLimits(max_finished_runs=3))
    for n in range(10):
        run = await manager.start(OfflineAgent(), make_input(n))
        await asyncio.wait_for(asyncio.shield(run.ended), 5)
    assert len(manager) == 3
    assert [await manager.get(f"r{n}") is not None for n in range(10)] == [False] * 7 + [True] * 3
    await manager.shutdown()


async def test_a_busy_thread_refuses_a_second_run() -> None:
    manager = RunManager()
    release = asyncio.Event()

    async def waiting(input, ctx):  # type: ignore[no-untyped-def]
        yield "working"
        await release.wait()

    await manager.start(as_agent(waiting), make_input(1, "same"))
    with pytest.raises(ThreadBusy):
        await manager.start(OfflineAgent(), make_input(2, "same"))
    release.set()
    await manager.shutdown()
