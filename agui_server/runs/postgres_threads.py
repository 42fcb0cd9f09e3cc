"""A thread store in PostgreSQL: threads every process of a deployment shares, kept across restarts.

Needs ``agui-server[postgres]`` (psycopg 3 and its connection pool). Selected by
``MemoryBackend(threads_db="postgresql://…")`` or ``agui-server serve --threads-db postgresql://…``.

The schema is made and changed by :data:`MIGRATIONS`, applied in order when the store first connects: each
one in the transaction that records it in ``agui_schema_version``, under an advisory lock, so processes that
start together apply each migration once. A database whose schema is newer than this version knows is
refused (:class:`SchemaTooNew`). Nothing is ever created by hand.

Threads are bounded as every store bounds them (``ThreadLimits``): messages per thread by count and bytes
on each save, and the store by age and by count in a retention sweep (at most every ``sweep_interval``
seconds, on a save) that deletes through the ``updated_at`` index.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Final

from agui_server.principals import client_thread_id, owner_of
from agui_server.runs.threads import (
    Thread,
    ThreadLimits,
    ThreadPage,
    next_cursor,
    read_cursor,
    summary,
    thread_columns,
    thread_of_columns,
)

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

__all__ = ("MIGRATIONS", "POOL_SIZE", "SWEEP_INTERVAL", "TIMEOUT", "PostgresThreadStore", "SchemaTooNew")

TIMEOUT: Final = 10.0
"""Seconds a connection, a statement or the wait for a pooled connection may take before it fails."""
POOL_SIZE: Final = 10
"""Connections a process keeps to PostgreSQL at most."""
SWEEP_INTERVAL: Final = 10.0
"""Seconds between retention sweeps (age, then count), each run by a save."""
_LOCK: Final = 0x61677569  # 'agui': the advisory lock migrations take

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: the threads. thread_key is the owner-namespaced key (principals.thread_key); the JSON columns hold
    # what msgspec encodes (bytea: a message may carry "\u0000", which jsonb refuses).
    """
    CREATE TABLE agui_threads (
        thread_key text PRIMARY KEY,
        owner text NOT NULL,
        thread_id text NOT NULL,
        title text,
        messages bytea NOT NULL,
        state bytea NOT NULL,
        interrupts bytea NOT NULL,
        answered_interrupts bytea NOT NULL,
        bytes integer NOT NULL,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL
    );
    CREATE INDEX agui_threads_updated ON agui_threads (updated_at, thread_key);
    CREATE INDEX agui_threads_owner ON agui_threads (owner, updated_at, thread_key);
    """,
    # 2: the run that last stored each thread, for a Redis deployment's threads (store_run)
    """
    ALTER TABLE agui_threads ADD COLUMN last_run_id text;
    """,
)
"""The schema's migrations: number ``n`` (from 1) is ``MIGRATIONS[n - 1]``. Append, never edit."""

_VERSIONS: Final = """
CREATE TABLE IF NOT EXISTS agui_schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""
_COLUMNS: Final = "messages, state, updated_at, interrupts, answered_interrupts"


class SchemaTooNew(RuntimeError):
    """The database's schema was made by a newer agui-server than this one."""


async def migrate(conn: AsyncConnection[Any]) -> int:
    """Apply the migrations the database lacks, each once; the schema version it then has."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        await conn.execute(_VERSIONS)
        row = await (await conn.execute("SELECT coalesce(max(version), 0) FROM agui_schema_version")).fetchone()
        version = int(row[0]) if row else 0
        if version > len(MIGRATIONS):
            raise SchemaTooNew(
                f"the database's thread schema is version {version}; this agui-server knows {len(MIGRATIONS)}"
            )
        for number in range(version + 1, len(MIGRATIONS) + 1):
            await conn.execute(MIGRATIONS[number - 1].encode())
            await conn.execute("INSERT INTO agui_schema_version (version) VALUES (%s)", (number,))
    return len(MIGRATIONS)


def _thread(key: str, row: tuple[Any, ...]) -> Thread:
    messages, state, updated_at, interrupts, answered = row[:5]
    return thread_of_columns(key, messages, state, updated_at, interrupts, answered)


class PostgresThreadStore:
    """Threads in the PostgreSQL database at ``url`` (``postgresql://user:password@host:5432/db``)."""

    def __init__(
        self,
        url: str,
        limits: ThreadLimits | None = None,
        *,
        pool_size: int = POOL_SIZE,
        timeout: float = TIMEOUT,
        sweep_interval: float = SWEEP_INTERVAL,
    ) -> None:
        self.url = url
        self.limits = limits or ThreadLimits()
        self.pool_size = pool_size
        self.timeout = timeout
        self.sweep_interval = sweep_interval
        self._pool: AsyncConnectionPool[Any] | None = None
        self._opening = asyncio.Lock()
        self._swept = float("-inf")

    async def _ready(self) -> AsyncConnectionPool[Any]:
        """The pool, opened and the schema migrated at the first call."""
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                from psycopg_pool import AsyncConnectionPool

                timeout_ms = int(self.timeout * 1000)
                pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self.pool_size,
                    open=False,
                    timeout=self.timeout,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": max(1, int(self.timeout)),
                        "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}",
                    },
                )
                try:
                    await pool.open(wait=True, timeout=self.timeout)
                    async with pool.connection(timeout=self.timeout) as conn:
                        await migrate(conn)
                except BaseException:
                    await pool.close(timeout=self.timeout)
                    raise
                self._pool = pool
        return self._pool

    async def schema_version(self) -> int:
        """The version of the database's schema (migrating it first)."""
        pool = await self._ready()
        async with pool.connection(timeout=self.timeout) as conn:
            row = await (await conn.execute("SELECT max(version) FROM agui_schema_version")).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def _oldest(self) -> float:
        return -1.0 if self.limits.max_age is None else time.time() - self.limits.max_age

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, unless it is unknown or older than ``max_age``."""
        pool = await self._ready()
        async with pool.connection(timeout=self.timeout) as conn:
            cursor = await conn.execute(
                f"SELECT {_COLUMNS} FROM agui_threads WHERE thread_key = %s AND updated_at >= %s",
                (thread_id, self._oldest()),
            )
            row = await cursor.fetchone()
        return None if row is None else _thread(thread_id, row)

    async def save(self, thread: Thread) -> None:
        """Store the thread (its title and creation time stay); sweep when ``sweep_interval`` has passed."""
        thread.updated_at = time.time()
        self.limits.trim(thread)
        await self._upsert(thread, None)

    async def store_run(self, thread: Thread, run_id: str) -> bool:
        """Store the thread as run ``run_id`` left it (its ``updated_at`` as stamped where it was made, e.g. by
        Redis's ``FINISH``), unless the row is that version or newer: a retried write changes nothing, an
        older one never overwrites a newer one. Whether it was written."""
        return await self._upsert(self.limits.trim(thread), run_id)

    async def _upsert(self, thread: Thread, run_id: str | None) -> bool:
        messages, state, interrupts, answered = thread_columns(thread)
        pool = await self._ready()
        async with pool.connection(timeout=self.timeout) as conn:
            cursor = await conn.execute(
                "INSERT INTO agui_threads (thread_key, owner, thread_id, messages, state, interrupts, "
                "answered_interrupts, bytes, created_at, updated_at, last_run_id) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (thread_key) DO UPDATE SET messages = excluded.messages, state = excluded.state, "
                "interrupts = excluded.interrupts, answered_interrupts = excluded.answered_interrupts, "
                "bytes = excluded.bytes, updated_at = excluded.updated_at, last_run_id = excluded.last_run_id"
                + ("" if run_id is None else " WHERE agui_threads.updated_at < excluded.updated_at"),
                (
                    thread.thread_id, owner_of(thread.thread_id), client_thread_id(thread.thread_id), messages, state,
                    interrupts, answered, len(messages), thread.updated_at, thread.updated_at, run_id,
                ),
            )  # fmt: skip
            written = bool(cursor.rowcount > 0)
        if time.monotonic() - self._swept >= self.sweep_interval:
            await self.sweep()
        return written

    async def sweep(self) -> int:
        """Delete the threads older than ``max_age`` and those beyond ``max_threads`` (the least recently
        updated), through the ``updated_at`` index; how many went."""
        self._swept = time.monotonic()
        pool = await self._ready()
        deleted = 0
        async with pool.connection(timeout=self.timeout) as conn:
            if self.limits.max_age is not None:
                cursor = await conn.execute("DELETE FROM agui_threads WHERE updated_at < %s", (self._oldest(),))
                deleted += max(0, int(cursor.rowcount))
            cursor = await conn.execute(
                "DELETE FROM agui_threads WHERE thread_key IN (SELECT thread_key FROM agui_threads "
                "ORDER BY updated_at DESC, thread_key DESC OFFSET %s)",
                (self.limits.max_threads,),
            )
            deleted += max(0, int(cursor.rowcount))
        return deleted

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        pool = await self._ready()
        async with pool.connection(timeout=self.timeout) as conn:
            await conn.execute("DELETE FROM agui_threads WHERE thread_key = %s", (thread_id,))

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s threads, newest first (the ``(owner, updated_at, thread_key)`` index)."""
        query = (
            f"SELECT thread_key, updated_at, title, created_at, {_COLUMNS} FROM agui_threads "
            "WHERE owner = %s AND updated_at >= %s"
        )
        args: tuple[Any, ...] = (owner, self._oldest())
        if cursor is not None:
            query += " AND (updated_at, thread_key) < (%s, %s)"
            args += read_cursor(cursor)
        pool = await self._ready()
        async with pool.connection(timeout=self.timeout) as conn:
            rows = await (
                await conn.execute(query + " ORDER BY updated_at DESC, thread_key DESC LIMIT %s", (*args, limit + 1))
            ).fetchall()
        threads = [summary(_thread(row[0], row[4:]), row[2], row[3]) for row in rows[:limit]]
        return ThreadPage(threads=threads, next_cursor=next_cursor([(row[1], row[0]) for row in rows], limit))

    async def rename(self, thread_id: str, title: str) -> bool:
        """Give the thread a title (kept through later saves)."""
        pool = await self._ready()
        async with pool.connection(timeout=self.timeout) as conn:
            cursor = await conn.execute(
                "UPDATE agui_threads SET title = %s WHERE thread_key = %s AND updated_at >= %s",
                (title, thread_id, self._oldest()),
            )
            return bool(cursor.rowcount > 0)

    async def close(self) -> None:
        """Close the pool's connections."""
        async with self._opening:
            pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close(timeout=self.timeout)
