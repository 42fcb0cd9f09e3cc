"""Runs for the Redis reaper to end, made in one process: a worker that claims queued runs and dies at once
(``vanished_worker``), and the runs no worker ever takes, against a real Redis (one server or a cluster)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import msgspec
from redis.exceptions import ResponseError

from agui_server.agents.base import FunctionAgent
from agui_server.protocol.types import RunAgentInput
from agui_server.runs.redis.worker import RedisWorker, WorkerSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server.runs.backend import FrameSource
    from agui_server.runs.redis import RedisRunBackend


async def _never_runs(input: RunAgentInput, ctx: Any) -> AsyncIterator[str]:  # (no worker runs it here)
    yield "never"


AGENT = FunctionAgent(_never_runs)


def queued_input(run_id: str) -> RunAgentInput:
    """A run on a thread of its own, from a client of AG-UI 1.0."""
    return RunAgentInput(thread_id=f"thread-{run_id}", run_id=run_id, messages=[], protocol_version="1.0")


async def vanished_worker(runs: RedisRunBackend, count: int, *, lease_ms: int = 50) -> list[str]:
    """What a worker that dies right after claiming leaves: the next ``count`` queued runs claimed (``CLAIM``,
    as a worker claims them) under a lease of ``lease_ms`` that nobody renews. Returns their run ids."""
    keys = runs.keys
    with contextlib.suppress(ResponseError):  # BUSYGROUP: a worker made the group already
        await runs.redis.xgroup_create(keys.queue, keys.GROUP, id="0", mkstream=True)
    ghost = RedisWorker(
        runs.redis, keys, {}, runs.threads, worker_id="ghost-1-000000", settings=WorkerSettings(lease=lease_ms / 1000)
    )
    claimed = [run_id.decode() for run_id, *_ in await ghost._take(count)]  # (its read and claim; it never starts)
    assert len(claimed) == count
    return claimed


async def frames_of(source: FrameSource, after: int, count: int, seconds: float = 5.0) -> list[bytes]:
    """The first ``count`` frames of a feed after its event ``after``, or what came within ``seconds`` (then
    the caller's assertion says what is missing)."""
    frames: list[bytes] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while len(frames) < count:
                more = source.frames_after(after + len(frames))
                if more:
                    frames += more
                    continue
                waiter = source.waiter()
                try:
                    await waiter
                finally:
                    source.forget(waiter)
    return frames


def events_of(frames: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    """(type, payload) of each ``event:``/``data:`` frame of a feed."""
    out = []
    for frame in frames:
        fields = dict(line.split(b": ", 1) for line in frame.strip().split(b"\n"))
        out.append((fields[b"event"].decode(), msgspec.json.decode(fields[b"data"])))
    return out


async def end_runs_four_ways(web: RedisRunBackend) -> int:
    """On ``web`` (no worker slots; a start timeout shorter than 0.5 s; a reaper that waits for this pass):
    run ``lost`` (agent ``helper``) is claimed by a worker that vanishes and ends ``WORKER_LOST``; ``again``
    (agent ``default``, safe to repeat) likewise, and is queued once more; ``stopped`` (``helper``) is stopped
    while queued and ends cancelled; ``orphan`` (``helper``) is never taken and ends ``NO_WORKER``. The
    reaper's one pass comes last, in this order: ``lost`` and ``again`` (either first), then ``orphan``.
    Returns what that pass said it did (``Reaper.reap_once``)."""
    for run_id, agent in (("lost", "helper"), ("again", "default")):
        await web.start(AGENT, queued_input(run_id), agent_id=agent)
    assert await vanished_worker(web, 2) == ["lost", "again"]
    await web.redis.hset(web.keys.meta("again"), "repeatable", 1)  # (what a worker sets for an agent that may)
    await web.start(AGENT, queued_input("stopped"), agent_id="helper")
    assert await web.stop("stopped") == "cancelled"
    await web.start(AGENT, queued_input("orphan"), agent_id="helper")
    await asyncio.sleep(0.5)  # past the vanished worker's leases and the orphan's deadline for a worker
    reaped = await web.reaper.reap_once()
    assert await web.redis.hget(web.keys.meta("again"), "status") == b"queued"
    return reaped
