"""What a Redis Cluster changes, against a real one (three redis-server primaries on loopback ports) and, where
it is the same code path, one redis-server: where a prefix's keys live, the workers' cancel channel, ACL users
in the URL, and the transactions (``MULTI``, ``WATCH``) outside the scripts."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import redis

from agui_server.agents.base import FunctionAgent
from agui_server.runs.backend import BackendUnavailable
from agui_server.runs.redis.keys import Keys
from agui_server.runs.threads import Thread
from tests.e2e.test_redis_log import backend, drain, numbered, run_input, take
from tests.support.cluster import Cluster
from tests.support.redis_nodes import SLOTS, Kind

if TYPE_CHECKING:
    from collections.abc import Iterator

    from agui_server.runs.redis import RedisRunBackend

pytestmark = pytest.mark.redis

ACL_USER, ACL_PASSWORD = "agui-app", "s3cret"


@pytest.fixture(scope="module", params=["redis", "cluster"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A started Redis of that kind, with an ACL user (``ACL_USER``) on every node; stopped by pid at the end."""
    kind: Kind = request.param
    c = Cluster(tmp_path_factory.mktemp(f"redis-{kind}"), kind)
    c.start_redis()
    try:
        for client in node_clients(c):
            with client:
                client.acl_setuser(
                    ACL_USER,
                    enabled=True,
                    passwords=[f"+{ACL_PASSWORD}"],
                    keys=["*"],
                    channels=["*"],
                    commands=["+@all"],
                )
        yield c
    finally:
        c.stop()


def node_clients(c: Cluster) -> list[redis.Redis]:
    """A plain client on each node of ``c``'s Redis (the caller closes them)."""
    assert c.redis is not None
    return [redis.Redis(host="127.0.0.1", port=port, socket_timeout=5.0) for port in c.redis.ports]


async def read_all(runs: RedisRunBackend, run: Any) -> list[bytes]:
    """Every frame of the run's log, read from the start until it ends."""
    return await drain(runs.open(run, 0), 0)


def prefix_in_third(third: int) -> str:
    """A prefix whose hash slot the cluster's node number ``third`` serves (redis_nodes.py gives node n the n-th
    third of the slots)."""
    from redis.crc import key_slot

    return next(p for n in range(1000) if key_slot(Keys(p := f"tenant-{n}").queue.encode()) * 3 // SLOTS == third)


async def test_a_prefixs_keys_live_on_one_node_and_other_prefixes_on_other_nodes(server: Cluster) -> None:
    prefixes = [prefix_in_third(n) for n in range(3)]
    for prefix in prefixes:
        async with backend(server.redis_url, prefix) as runs:
            run = await runs.start(FunctionAgent(numbered), run_input(3))
            frames = await read_all(runs, run)
            assert b'"type":"RUN_FINISHED"' in frames[-1]
    holders: dict[str, set[int]] = {prefix: set() for prefix in prefixes}
    for client in node_clients(server):  # each node, asked on its own
        with client:
            port = client.connection_pool.connection_kwargs["port"]
            for key in client.scan_iter(count=1000):
                holders.setdefault(key.decode().split("}", 1)[0].lstrip("{"), set()).add(port)
    served = [holders[prefix] for prefix in prefixes]
    assert all(len(ports) == 1 for ports in served)  # a prefix's keys: on one node
    assert len(set.union(*served)) == (3 if server.kind == "cluster" else 1)  # three prefixes, three shards


async def test_a_stop_reaches_the_worker_through_the_cancel_channel_long_before_its_next_heartbeat(
    server: Cluster,
) -> None:
    async with backend(server.redis_url, lease=30.0) as runs:  # a heartbeat every 10 s
        run = await runs.start(FunctionAgent(numbered), run_input(400, pause=0.05))
        source = runs.open(run, 0)
        await take(source, 0, 3)
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await runs.stop(run.run_id) == "cancelled"
        took = loop.time() - began
        source.release()
        frames = await read_all(runs, run)
    assert took < 2.0  # the pub/sub message, not the heartbeat (10 s) nor the stop's own bound
    assert b'"code":"CANCELLED"' in frames[-1]  # (a client without protocolVersion: RUN_ERROR, not RUN_FINISHED)
    assert len(frames) < 100


async def test_an_acl_user_and_password_in_the_url_are_used_and_a_wrong_password_is_503(server: Cluster) -> None:
    scheme, rest = server.redis_url.split("://", 1)
    async with backend(f"{scheme}://{ACL_USER}:{ACL_PASSWORD}@{rest}") as runs:
        run = await runs.start(FunctionAgent(numbered), run_input(3))
        frames = await read_all(runs, run)
        whoami = await runs.redis.acl_whoami()
    assert b'"type":"RUN_FINISHED"' in frames[-1]
    assert whoami in (ACL_USER, ACL_USER.encode())
    async with backend(f"{scheme}://{ACL_USER}:wrong@{rest}", slots=0) as refused:
        with pytest.raises(BackendUnavailable):
            await refused.start(FunctionAgent(numbered), run_input(3))


async def test_a_lock_left_by_a_vanished_run_is_freed_in_a_watched_transaction(server: Cluster) -> None:
    async with backend(server.redis_url) as runs:
        thread_id = f"thread-{uuid.uuid4().hex[:8]}"
        # the thread's lock names a run whose status is gone (expired): admission frees it (WATCH, MULTI)
        await runs.redis.set(runs.keys.active(thread_id), "vanished", px=60_000)
        run = await runs.start(FunctionAgent(numbered), run_input(3, thread_id))
        frames = await read_all(runs, run)
        lock = await runs.redis.get(runs.keys.active(thread_id))
    assert b'"type":"RUN_FINISHED"' in frames[-1]
    assert lock is None  # the run ended and let the thread go


async def test_a_thread_saved_in_a_transaction_is_stored_and_indexed(server: Cluster) -> None:
    async with backend(server.redis_url) as runs:
        await runs.threads.save(Thread(thread_id="saved", messages=[]))
        stored = await runs.threads.get("saved")
        indexed = await runs.redis.zscore(runs.keys.threads, "saved")
    assert stored is not None
    assert stored.thread_id == "saved"
    assert indexed is not None
