"""How a worker takes runs from the Redis queue, against a real redis-server (issue 15, item 3).

The read of the queue and the ``CLAIM`` of what it delivered go to Redis in one write: a run is handed over and
claimed in one round trip, what a lost reply left delivered but unclaimed is taken with the next read, and a
run claimed as its worker begins to stop goes back to the queue for another worker.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from agui_server.agents.base import FunctionAgent
from agui_server.runs.redis import RedisRunBackend
from agui_server.runs.redis import client as client_module
from agui_server.runs.redis.worker import RedisWorker, WorkerSettings
from tests.e2e.test_redis_log import drain, ended, numbered, run_input
from tests.support.cluster import redis_alone

if TYPE_CHECKING:
    from collections.abc import Iterator

AGENTS = {"default": FunctionAgent(numbered)}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_alone(tmp_path_factory.mktemp("redis-worker")) as url:
        yield url


def web_only(url: str, prefix: str) -> RedisRunBackend:
    """A web side on ``prefix`` with no worker slots (the test's workers run the runs)."""
    return RedisRunBackend(url, worker_slots=0, prefix=prefix, settings=WorkerSettings(reap_interval=60))


def worker_of(web: RedisRunBackend, worker_id: str, slots: int = 2) -> RedisWorker:
    """A worker beside ``web``, on its client and keys, named ``worker_id``."""
    return RedisWorker(web.redis, web.keys, AGENTS, web.threads, slots=slots, worker_id=worker_id)


async def test_a_worker_takes_each_run_with_the_write_that_reads_the_queue(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[list[str]] = []  # the command names of each write the worker's client made
    together = client_module.send_together

    async def counted(redis: Any, commands: Any) -> list[Any]:
        writes.append([str(command[0]) for command in commands])
        return await together(redis, commands)

    monkeypatch.setattr("agui_server.runs.redis.worker.send_together", counted)
    web = web_only(redis_url, f"t{uuid.uuid4().hex[:8]}")
    await web.startup()
    worker = worker_of(web, "w-one")
    claim_sha = worker._claim_script.sha
    sent: list[tuple[Any, ...]] = []
    execute = web.redis.execute_command

    async def spied(*args: Any, **options: Any) -> Any:
        sent.append(args)
        return await execute(*args, **options)

    monkeypatch.setattr(web.redis, "execute_command", spied)
    await web.redis.script_flush()  # the first claim finds no script: redis-py loads it, the run goes on
    await worker.start()
    try:
        run = await web.start(FunctionAgent(numbered), run_input(3))
        assert b"RUN_FINISHED" in (await drain(web.open(run, 0), 0))[-1]
        del writes[:], sent[:]
        for _ in range(5):
            run = await web.start(FunctionAgent(numbered), run_input(3))
            frames = await drain(web.open(run, 0), 0)
            assert b"RUN_FINISHED" in frames[-1]
    finally:
        await worker.stop()
        await web.shutdown()
    assert writes, "the worker never read the queue"
    assert all(names == ["XREADGROUP", "EVALSHA"] for names in writes)
    assert len(writes) <= 5 + 3  # a write per run, and one per second the queue stayed empty
    claims_alone = [args for args in sent if args[0] == "EVALSHA" and args[1] == claim_sha]
    assert claims_alone == []  # no claim of its own after a read: it went with the read


async def test_a_run_delivered_to_a_worker_and_never_claimed_is_claimed_with_its_next_read(redis_url: str) -> None:
    web = web_only(redis_url, f"t{uuid.uuid4().hex[:8]}")
    await web.startup()
    keys = web.keys
    try:
        await web.redis.xgroup_create(keys.queue, keys.GROUP, id="0", mkstream=True)
        run = await web.start(FunctionAgent(numbered), run_input(3))
        # delivered to the worker's consumer, its claim lost (as when the reply to the read never came back)
        delivered = await web.redis.xreadgroup(keys.GROUP, "w-lost", {keys.queue: ">"}, count=1)
        assert delivered[0][1][0][1][b"run"] == run.run_id.encode()
        worker = worker_of(web, "w-lost")
        began = asyncio.get_running_loop().time()
        await worker.start()
        try:
            await ended(web, run.run_id)
            took = asyncio.get_running_loop().time() - began
            frames = await drain(web.open(run, 0), 0)
        finally:
            await worker.stop()
        meta = await web.redis.hmget(keys.meta(run.run_id), "status", "worker", "attempt")
        pending = (await web.redis.xpending(keys.queue, keys.GROUP))["pending"]
    finally:
        await web.shutdown()
    assert meta == [b"finished", b"w-lost", b"1"]
    assert b"RUN_FINISHED" in frames[-1]
    assert pending == 0
    assert took < 3  # its next read (which returns within 1 s), not the reaper's pass after a lease


async def test_a_run_claimed_as_its_worker_stops_goes_back_to_the_queue_for_another(redis_url: str) -> None:
    web = web_only(redis_url, f"t{uuid.uuid4().hex[:8]}")
    await web.startup()
    keys = web.keys
    leaving = worker_of(web, "w-leaving")
    staying = worker_of(web, "w-staying")
    try:
        await leaving.start()
        await asyncio.sleep(0.3)  # its read of the queue is blocked in Redis now
        stopping = asyncio.create_task(leaving.stop())
        await asyncio.sleep(0)  # it is stopping; its read still waits in Redis
        run = await web.start(FunctionAgent(numbered), run_input(3))
        await stopping
        status = await web.redis.hmget(keys.meta(run.run_id), "status", "owner", "attempt")
        assert status == [b"queued", b"", b"0"]  # taken and claimed by the read, then given back
        await staying.start()
        try:
            await ended(web, run.run_id)
            frames = await drain(web.open(run, 0), 0)
        finally:
            await staying.stop()
        meta = await web.redis.hmget(keys.meta(run.run_id), "status", "worker", "attempt")
        queued = await web.redis.zscore(keys.queued, run.run_id)
    finally:
        await web.shutdown()
    assert meta == [b"finished", b"w-staying", b"1"]
    assert b"RUN_FINISHED" in frames[-1]
    assert queued is None
