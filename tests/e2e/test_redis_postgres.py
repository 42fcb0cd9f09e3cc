"""A Redis deployment that keeps its threads in PostgreSQL (``--redis … --threads-db postgresql://…``), as
separate processes: a worker killed between the Redis and the PostgreSQL write loses no turn and doubles
none, and the threads outlive a Redis that keeps nothing on disk."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.cluster import Cluster
from tests.support.postgres import PostgresServer
from tests.support.sse import run_input

pytestmark = pytest.mark.redis


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        server.remove()


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except psycopg.OperationalError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def stored(url: str) -> tuple[list[str], str | None] | None:
    """The user messages and last run of thread ``crash`` in PostgreSQL."""
    import msgspec

    with psycopg.connect(url, connect_timeout=2) as conn:
        row = conn.execute(b"SELECT messages, last_run_id FROM agui_threads WHERE thread_key = 'crash'").fetchone()
    if row is None:
        return None
    messages = msgspec.json.decode(row[0])
    ids = [m["id"] for m in messages]
    assert len(ids) == len(set(ids)), ids  # no message twice
    return [m["content"] for m in messages if m["role"] == "user"], row[1]


def turn(client: httpx.Client, base: str, n: int) -> None:
    response = client.post(base + "/ag-ui", json=run_input(f"turn {n}", thread_id="crash", run_id=f"c{n}"))
    assert response.status_code == 200, response.text
    assert b"RUN_FINISHED" in response.content


def test_a_worker_killed_between_the_redis_and_the_postgres_write_loses_and_doubles_nothing(
    pg: PostgresServer, tmp_path: Any
) -> None:
    url = pg.create_database("agui")
    c = Cluster(tmp_path)
    try:
        c.start_redis()
        worker = c.start_worker("--threads-db", url)
        base = c.start_web("--threads-db", url)
        redis = c.client()
        with httpx.Client(timeout=30) as client:
            turn(client, base, 0)
            assert wait_for(lambda: stored(url), "turn 0 in PostgreSQL") == (["turn 0"], "c0")
            assert wait_for(lambda: not redis.hexists(c.keys.durable, "crash"), "the mark cleared")

            pg.stop()  # the worker's PostgreSQL write of the next turn cannot happen
            turn(client, base, 1)
            wait_for(lambda: redis.hexists(c.keys.durable, "crash"), "FINISH's mark of turn 1")
            os.kill(worker.pid, signal.SIGKILL)  # Redis has turn 1, PostgreSQL does not
            worker.wait(10)

            pg.start()
            c.start_worker("--threads-db", url)
            # a reaper (the web process's or the new worker's) writes what the dead worker did not
            assert wait_for(lambda: stored(url) == (["turn 0", "turn 1"], "c1"), "turn 1 in PostgreSQL")
            wait_for(lambda: not redis.hexists(c.keys.durable, "crash"), "the mark cleared")
            turn(client, base, 2)
            wait_for(lambda: stored(url) == (["turn 0", "turn 1", "turn 2"], "c2"), "turn 2 in PostgreSQL")

            c.stop_redis()  # a Redis that keeps nothing on disk: every thread gone from it
            c.start_redis()
            redis = c.client()
            assert redis.exists(c.keys.thread("crash")) == 0
            thread = wait_for(
                lambda: (r := client.get(base + "/ag-ui/threads/crash")).status_code == 200 and r.json(),
                "the thread read from PostgreSQL",
            )
            assert [m["content"] for m in thread["messages"] if m["role"] == "user"] == ["turn 0", "turn 1", "turn 2"]
            wait_for(lambda: client.post(base + "/ag-ui", json=run_input("turn 3", thread_id="crash", run_id="c3"))
                     .status_code == 200, "a run after Redis came back")  # fmt: skip
            assert wait_for(
                lambda: stored(url) == (["turn 0", "turn 1", "turn 2", "turn 3"], "c3"), "turn 3 on the whole history"
            )
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()
