"""The PostgreSQL thread store against a real server the tests start (tests/support/postgres.py): migrations
from an empty database, survival of a server restart, two app instances writing to one database, and the
retention bounds."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest

from agui_server import AGUIConfig, MemoryBackend, OfflineAgent, create_app
from agui_server.http.plugin import _thread_store
from agui_server.protocol.types import UserMessage
from agui_server.runs.postgres_threads import MIGRATIONS, PostgresThreadStore, SchemaTooNew
from agui_server.runs.threads import Thread, ThreadLimits
from tests.support.postgres import PostgresServer
from tests.support.server import running_server
from tests.support.sse import run_input

if TYPE_CHECKING:
    from collections.abc import Iterator


def database(server: PostgresServer) -> str:
    return server.create_database(f"t{uuid.uuid4().hex[:12]}")


def thread(key: str, text: str) -> Thread:
    return Thread(thread_id=key, messages=[UserMessage(id=f"m{len(text)}", content=text)], state={"n": text})


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=5) as conn:
        return conn.execute(query.encode()).fetchall()


async def test_migrations_make_the_schema_of_an_empty_database_once(postgres: PostgresServer) -> None:
    url = database(postgres)
    stores = [PostgresThreadStore(url) for _ in range(3)]
    try:  # three processes starting at once: each migration is applied once
        assert await asyncio.gather(*(s.schema_version() for s in stores)) == [len(MIGRATIONS)] * 3
    finally:
        for store in stores:
            await store.close()
    versions = [r[0] for r in rows(url, "SELECT version FROM agui_schema_version ORDER BY version")]
    assert versions == list(range(1, len(MIGRATIONS) + 1)) == [1, 2]
    indexes = {r[0] for r in rows(url, "SELECT indexname FROM pg_indexes WHERE tablename = 'agui_threads'")}
    assert {"agui_threads_updated", "agui_threads_owner"} <= indexes


async def test_a_database_of_the_previous_schema_version_is_migrated_with_its_threads(postgres: PostgresServer) -> None:
    url = database(postgres)
    with psycopg.connect(url, autocommit=True) as conn:  # as version 1 left it, with a thread
        conn.execute(b"CREATE TABLE agui_schema_version (version integer PRIMARY KEY, applied_at timestamptz)")
        conn.execute(MIGRATIONS[0].encode())
        conn.execute(b"INSERT INTO agui_schema_version VALUES (1, now())")
        conn.execute(
            b"INSERT INTO agui_threads VALUES (%s, 'alice', 'old', NULL, %s, 'null', '[]', '[]', 2, %s, %s)",
            ("alice\x1fold", b'[{"id":"m1","role":"user","content":"from v1"}]', time.time(), time.time()),
        )
    store = PostgresThreadStore(url)
    try:
        assert await store.schema_version() == 2
        kept = await store.get("alice\x1fold")
        assert kept is not None
        assert kept.messages[0].content == "from v1"  # type: ignore[union-attr]
        assert [t.title for t in (await store.list_threads("alice", 10, None)).threads] == ["from v1"]
        kept.updated_at = time.time()
        assert await store.store_run(kept, "run-2")
        assert not await store.store_run(kept, "run-2")  # the same version again: nothing changes
        assert rows(url, "SELECT last_run_id FROM agui_threads") == [("run-2",)]
    finally:
        await store.close()


async def test_a_database_with_a_newer_schema_is_refused(postgres: PostgresServer) -> None:
    url = database(postgres)
    store = PostgresThreadStore(url)
    await store.schema_version()
    await store.close()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(b"INSERT INTO agui_schema_version (version) VALUES (99)")
    newer = PostgresThreadStore(url)
    with pytest.raises(SchemaTooNew, match="version 99"):
        await newer.get("x")
    await newer.close()


async def test_threads_db_with_a_postgresql_url_selects_the_store() -> None:
    store = _thread_store(MemoryBackend(threads_db="postgresql://u@127.0.0.1:1/db"), ThreadLimits())
    assert isinstance(store, PostgresThreadStore)
    assert type(_thread_store(MemoryBackend(threads_db="x.db"), ThreadLimits())).__name__ == "SQLiteThreadStore"


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    server = PostgresServer.create()
    try:
        server.start()
        yield server
    finally:
        server.remove()


async def test_threads_survive_a_restart_of_postgres_and_of_the_app(own_server: PostgresServer) -> None:
    url = database(own_server)
    config = AGUIConfig(agent=OfflineAgent(), backend=MemoryBackend(threads_db=url))
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=20) as client:
        for n in range(2):
            body = run_input(f"turn {n}", thread_id="kept", run_id=f"k{n}")
            assert (await client.post(base + "/ag-ui", json=body)).status_code == 200
        before = (await client.get(base + "/ag-ui/threads/kept")).json()
        assert len(before["messages"]) == 4
    own_server.stop()
    own_server.start()
    config = AGUIConfig(agent=OfflineAgent(), backend=MemoryBackend(threads_db=url))
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=20) as client:
        assert (await client.get(base + "/ag-ui/threads/kept")).json() == before
        body = run_input("turn 2", thread_id="kept", run_id="k2")
        assert (await client.post(base + "/ag-ui", json=body)).status_code == 200
        after = (await client.get(base + "/ag-ui/threads/kept")).json()
        assert after["messages"][:4] == before["messages"]
        assert len(after["messages"]) == 6


async def test_two_app_instances_write_to_one_database(postgres: PostgresServer) -> None:
    url = database(postgres)

    def app() -> Any:
        return create_app(AGUIConfig(agent=OfflineAgent(), backend=MemoryBackend(threads_db=url)))

    async with running_server(app()) as a, running_server(app()) as b, httpx.AsyncClient(timeout=30) as client:

        async def turns(base: str, name: str) -> None:
            for n in range(8):
                body = run_input(f"{name} {n}", thread_id=f"{name}{n % 4}", run_id=f"{name}-{n}")
                assert (await client.post(base + "/ag-ui", json=body)).status_code == 200

        await asyncio.gather(turns(a, "a"), turns(b, "b"))
        for base in (a, b):
            listed = (await client.get(base + "/ag-ui/threads", params={"limit": 100})).json()["threads"]
            assert sorted(t["threadId"] for t in listed) == ["a0", "a1", "a2", "a3", "b0", "b1", "b2", "b3"]
            thread = (await client.get(base + "/ag-ui/threads/b2")).json()
            assert [m["content"] for m in thread["messages"] if m["role"] == "user"] == ["b 2", "b 6"]
    assert rows(url, "SELECT count(*) FROM agui_threads") == [(8,)]


async def test_retention_by_count_age_and_bytes(postgres: PostgresServer) -> None:
    url = database(postgres)
    limits = ThreadLimits(max_threads=3, max_age=3600.0, max_messages=2, max_bytes=10_000)
    store = PostgresThreadStore(url, limits, sweep_interval=0)
    try:
        for n in range(5):
            await store.save(thread(f"t{n}", str(n)))
        assert sorted(r[0] for r in rows(url, "SELECT thread_key FROM agui_threads")) == ["t2", "t3", "t4"]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(b"UPDATE agui_threads SET updated_at = %s WHERE thread_key = 't2'", (time.time() - 7200,))
        assert await store.get("t2") is None  # expired, before any sweep
        assert await store.sweep() == 1
        assert sorted(r[0] for r in rows(url, "SELECT thread_key FROM agui_threads")) == ["t3", "t4"]
        long = thread("long", "x")
        long.messages = [UserMessage(id=f"m{n}", content="y" * 4000) for n in range(5)]
        await store.save(long)
        stored = await store.get("long")
        assert stored is not None
        assert [m.id for m in stored.messages] == ["m3", "m4"]  # max_messages, then max_bytes kept both
        assert rows(url, "SELECT bytes < 10000 FROM agui_threads WHERE thread_key = 'long'") == [(True,)]
    finally:
        await store.close()


async def test_a_rename_outlives_saves_and_the_store_keeps_unicode_and_nul(postgres: PostgresServer) -> None:
    url = database(postgres)
    store = PostgresThreadStore(url)
    try:
        await store.save(thread("alice\x1fx", "h\u00e9llo \x00 \u2603"))
        assert await store.rename("alice\x1fx", "Snow")
        assert not await store.rename("alice\x1fnope", "x")
        await store.save(thread("alice\x1fx", "again"))
        page = await store.list_threads("alice", 10, None)
        assert [(t.thread_id, t.title, t.preview) for t in page.threads] == [("x", "Snow", "again")]
        assert (await store.list_threads("bob", 10, None)).threads == []
        await store.save(thread("alice\x1fy", "h\u00e9llo \x00 \u2603"))
        got = await store.get("alice\x1fy")
        assert got is not None
        assert got.messages[0].content == "h\u00e9llo \x00 \u2603"  # type: ignore[union-attr]
        await store.delete("alice\x1fy")
        assert await store.get("alice\x1fy") is None
    finally:
        await store.close()
