"""The thread API on every store (memory, SQLite, Redis, PostgreSQL, and Redis keeping its threads in
PostgreSQL), through the app: the caller's threads listed newest first a page at a time, renamed and
deleted; another owner's threads out of reach."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import redis.asyncio as aioredis

from agui_server import AGUIConfig, OfflineAgent, create_app
from agui_server.http.auth import BearerTokens
from agui_server.principals import thread_key
from agui_server.runs.config import MemoryBackend, RedisBackend
from agui_server.runs.redis.keys import Keys
from tests.support.agents import slow
from tests.support.redis_nodes import RedisNodes
from tests.support.server import running_server
from tests.support.sse import run_input

if TYPE_CHECKING:
    from tests.support.postgres import PostgresServer

STORES = ("memory", "sqlite", "redis", "postgres", "redis+postgres")
TOKENS = "alice-token alice\nbob-token bob"
ALICE = {"authorization": "Bearer alice-token"}
BOB = {"authorization": "Bearer bob-token"}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    nodes = RedisNodes("redis", tmp_path_factory.mktemp("thread-api-redis"))
    try:
        nodes.start()
        yield nodes.url
    finally:
        nodes.stop()


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> MemoryBackend | RedisBackend:
    name = f"t{uuid.uuid4().hex[:12]}"
    if store == "sqlite":
        return MemoryBackend(threads_db=str(tmp_path / "threads.db"))
    if store == "postgres":
        server: PostgresServer = request.getfixturevalue("postgres")
        return MemoryBackend(threads_db=server.create_database(name))
    if store.startswith("redis"):
        threads_db = request.getfixturevalue("postgres").create_database(name) if store.endswith("postgres") else None
        return RedisBackend(request.getfixturevalue("redis_url"), prefix=name, worker_slots=2, threads_db=threads_db)
    return MemoryBackend()


@pytest.fixture
async def base(backend: MemoryBackend | RedisBackend) -> AsyncIterator[str]:
    config = AGUIConfig(
        auth=BearerTokens.parse(TOKENS), agents={"default": OfflineAgent(), "slow": slow}, backend=backend
    )
    async with running_server(create_app(config)) as url:
        yield url + "/ag-ui"


async def turn(client: httpx.AsyncClient, base: str, thread: str, text: str, headers: dict[str, str]) -> None:
    body = run_input(text, thread_id=thread, run_id=f"r-{uuid.uuid4().hex[:8]}")
    response = await client.post(base, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert b"RUN_FINISHED" in response.content
    for _ in range(250):  # the run's thread is stored as the run ends, just after its terminal event is sent
        listed = (await client.get(base + "/threads", headers=headers)).json()["threads"]
        if listed and listed[0]["threadId"] == thread:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"thread {thread} never came first in the list")


async def pages(client: httpx.AsyncClient, base: str, headers: dict[str, str], limit: int) -> list[list[Any]]:
    out: list[list[Any]] = []
    cursor: str | None = None
    for _ in range(20):
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await client.get(base + "/threads", params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        out.append(page["threads"])
        cursor = page.get("nextCursor")
        if cursor is None:
            return out
    raise AssertionError("the pages never ended")


async def test_the_list_is_the_callers_threads_newest_first_a_page_at_a_time(base: str) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        for n in range(5):
            await turn(client, base, f"a{n}", f"question number {n} " + "long " * 40, ALICE)
        await turn(client, base, "b0", "bob's question", BOB)
        await turn(client, base, "a1", "a follow-up", ALICE)  # a1 is now the newest
        listed = await pages(client, base, ALICE, 2)
        assert [len(page) for page in listed] == [2, 2, 1]
        threads = [t for page in listed for t in page]
        assert [t["threadId"] for t in threads] == ["a1", "a4", "a3", "a2", "a0"]
        assert threads[1]["title"].startswith("question number 4 long")
        assert len(threads[1]["title"]) == 80
        assert threads[1]["title"].endswith("\u2026")
        assert threads[0]["title"].startswith("question number 1")  # the first user message, not the last
        assert threads[0]["preview"]
        assert threads[0]["preview"] != threads[0]["title"]
        assert [t["updatedAt"] for t in threads] == sorted((t["updatedAt"] for t in threads), reverse=True)
        assert all(t["createdAt"] <= t["updatedAt"] for t in threads)
        assert threads[0]["createdAt"] < threads[0]["updatedAt"]  # a1 was made before its follow-up
        bob = await pages(client, base, BOB, 10)
        assert [[t["threadId"] for t in page] for page in bob] == [["b0"]]
        everything = (await client.get(base + "/threads", headers=ALICE)).json()
        assert len(everything["threads"]) == 5
        assert everything.get("nextCursor") is None
        bad = await client.get(base + "/threads", params={"cursor": "not-a-cursor"}, headers=ALICE)
        assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_CURSOR")
        for limit in ("0", "101", "x"):
            bad = await client.get(base + "/threads", params={"limit": limit}, headers=ALICE)
            assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_INPUT"), limit


async def test_a_renamed_thread_keeps_its_title_through_later_runs(base: str) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        await turn(client, base, "r0", "what is the weather", ALICE)
        renamed = await client.patch(base + "/threads/r0", json={"title": "  Weather  "}, headers=ALICE)
        assert (renamed.status_code, renamed.json()) == (200, {"threadId": "r0", "title": "Weather"})
        await turn(client, base, "r0", "and tomorrow", ALICE)
        (thread,) = (await client.get(base + "/threads", headers=ALICE)).json()["threads"]
        assert thread["title"] == "Weather"
        assert (await client.patch(base + "/threads/r0", json={"title": "x"}, headers=BOB)).status_code == 404
        assert (await client.patch(base + "/threads/nope", json={"title": "x"}, headers=ALICE)).status_code == 404
        for title in ("", "   ", "a\nb", 3, "t" * 201):
            bad = await client.patch(base + "/threads/r0", json={"title": title}, headers=ALICE)
            assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_INPUT"), title


async def test_a_deleted_thread_is_gone_and_a_busy_one_is_refused(
    base: str, backend: MemoryBackend | RedisBackend
) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        await turn(client, base, "d0", "delete me", ALICE)
        await turn(client, base, "d1", "keep me", ALICE)
        assert (await client.delete(base + "/threads/d0", headers=BOB)).status_code == 404  # not bob's
        assert (await client.get(base + "/threads/d0", headers=ALICE)).status_code == 200
        deleted = await client.delete(base + "/threads/d0", headers=ALICE)
        assert (deleted.status_code, deleted.content) == (204, b"")
        assert (await client.get(base + "/threads/d0", headers=ALICE)).status_code == 404
        listed = (await client.get(base + "/threads", headers=ALICE)).json()["threads"]
        assert [t["threadId"] for t in listed] == ["d1"]
        again = await client.delete(base + "/threads/d0", headers=ALICE)
        assert (again.status_code, again.json()["code"]) == (404, "UNKNOWN_THREAD")
        if isinstance(backend, RedisBackend):  # its feed, interrupts and indexes went with it
            keys = Keys(backend.prefix)
            client_redis = aioredis.from_url(backend.url)
            try:
                key = thread_key("alice", "d0")
                assert await client_redis.exists(*keys.of_thread(key)) == 0
                assert await client_redis.zscore(keys.owner_threads("alice"), key) is None
                assert await client_redis.zscore(keys.threads, key) is None
                assert await client_redis.exists(keys.feed(thread_key("alice", "d1"))) == 1
            finally:
                await client_redis.aclose()

        body = run_input("go", thread_id="d1", run_id="slow-1", forwardedProps={"tokens": 40})
        running = asyncio.create_task(client.post(base + "/slow", json=body, headers=ALICE))
        try:
            for _ in range(100):
                busy = await client.delete(base + "/threads/d1", headers=ALICE)
                if busy.status_code == 409:
                    break
                await asyncio.sleep(0.02)
            assert (busy.status_code, busy.json()["code"]) == (409, "THREAD_BUSY")
        finally:
            stopped = await client.post(base + "/runs/slow-1/stop", headers=ALICE)
            assert stopped.status_code == 200
            await asyncio.wait_for(running, 20)
        assert (await client.delete(base + "/threads/d1", headers=ALICE)).status_code == 204
        assert (await client.get(base + "/threads", headers=ALICE)).json()["threads"] == []
