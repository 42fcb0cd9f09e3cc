"""A thread store in one SQLite file: threads survive a restart, no server to run.

SQLite calls run in a worker thread (``asyncio.to_thread``) so they never block the event loop. One
connection, serialised by a lock; WAL mode so readers of other processes are not blocked.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any, Final

from agui_server.principals import owner_of
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

__all__ = ("SQLiteThreadStore",)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    messages BLOB NOT NULL,
    state BLOB NOT NULL,
    updated_at REAL NOT NULL,
    interrupts BLOB NOT NULL DEFAULT '[]',
    answered_interrupts BLOB NOT NULL DEFAULT '[]',
    owner TEXT,
    title TEXT,
    created_at REAL
);
CREATE INDEX IF NOT EXISTS threads_updated_at ON threads (updated_at);
"""
_ADDED_COLUMNS: Final = {
    "interrupts": "BLOB NOT NULL DEFAULT '[]'",
    "answered_interrupts": "BLOB NOT NULL DEFAULT '[]'",
    "owner": "TEXT",
    "title": "TEXT",
    "created_at": "REAL",
}
"""Columns a file made by an earlier version lacks (added when it is opened; its threads' owners filled in)."""
_OWNER_INDEX: Final = "CREATE INDEX IF NOT EXISTS threads_owner ON threads (owner, updated_at, thread_id)"


class SQLiteThreadStore:
    """Threads in a SQLite file at ``path`` (created if missing)."""

    def __init__(self, path: str | Path, limits: ThreadLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or ThreadLimits()
        self._lock = asyncio.Lock()
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(threads)")}
            with db:
                for column, kind in _ADDED_COLUMNS.items():
                    if column not in columns:
                        db.execute(f"ALTER TABLE threads ADD COLUMN {column} {kind}")
                keys = [row[0] for row in db.execute("SELECT thread_id FROM threads WHERE owner IS NULL")]
                db.executemany("UPDATE threads SET owner = ? WHERE thread_id = ?", [(owner_of(k), k) for k in keys])
                db.execute(_OWNER_INDEX)
            self._db = db
        return self._db

    async def _call(self, fn: Any, *args: Any) -> Any:
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    def _get(self, thread_id: str) -> Thread | None:
        row = (
            self._connect()
            .execute(
                "SELECT messages, state, updated_at, interrupts, answered_interrupts FROM threads WHERE thread_id = ?",
                (thread_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        messages, state, updated_at, interrupts, answered = row
        if self.limits.max_age is not None and time.time() - updated_at > self.limits.max_age:
            return None
        return thread_of_columns(thread_id, messages, state, updated_at, interrupts, answered)

    def _save(self, thread: Thread) -> None:
        messages, state, interrupts, answered = thread_columns(thread)
        db = self._connect()
        with db:
            db.execute(
                "INSERT INTO threads (thread_id, messages, state, updated_at, interrupts, answered_interrupts, owner, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(thread_id) DO UPDATE SET messages = excluded.messages, "
                "state = excluded.state, updated_at = excluded.updated_at, interrupts = excluded.interrupts, "
                "answered_interrupts = excluded.answered_interrupts",
                (
                    thread.thread_id,
                    messages,
                    state,
                    thread.updated_at,
                    interrupts,
                    answered,
                    owner_of(thread.thread_id),
                    thread.updated_at,
                ),
            )
            if self.limits.max_age is not None:
                db.execute("DELETE FROM threads WHERE updated_at < ?", (time.time() - self.limits.max_age,))
            db.execute(
                "DELETE FROM threads WHERE thread_id IN (SELECT thread_id FROM threads "
                "ORDER BY updated_at DESC LIMIT -1 OFFSET ?)",
                (self.limits.max_threads,),
            )

    def _delete(self, thread_id: str) -> None:
        db = self._connect()
        with db:
            db.execute("DELETE FROM threads WHERE thread_id = ?", (thread_id,))

    def _list(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        db = self._connect()
        oldest = -1.0 if self.limits.max_age is None else time.time() - self.limits.max_age
        query = "SELECT thread_id, updated_at FROM threads WHERE owner = ? AND updated_at >= ?"
        args: tuple[Any, ...] = (owner, oldest)
        if cursor is not None:
            updated_at, key = read_cursor(cursor)
            query += " AND (updated_at < ? OR (updated_at = ? AND thread_id < ?))"
            args += (updated_at, updated_at, key)
        entries = db.execute(query + " ORDER BY updated_at DESC, thread_id DESC LIMIT ?", (*args, limit + 1)).fetchall()
        threads = []
        for key, _ in entries[:limit]:
            thread = self._get(key)
            row = db.execute("SELECT title, created_at FROM threads WHERE thread_id = ?", (key,)).fetchone()
            if thread is not None and row is not None:
                threads.append(summary(thread, row[0], row[1] or 0.0))
        return ThreadPage(threads=threads, next_cursor=next_cursor([(at, key) for key, at in entries], limit))

    def _rename(self, thread_id: str, title: str) -> bool:
        if self._get(thread_id) is None:
            return False
        db = self._connect()
        with db:
            db.execute("UPDATE threads SET title = ? WHERE thread_id = ?", (title, thread_id))
        return True

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, unless it is unknown or older than ``max_age``."""
        result: Thread | None = await self._call(self._get, thread_id)
        return result

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s threads, newest first (the ``(owner, updated_at, thread_id)`` index)."""
        page: ThreadPage = await self._call(self._list, owner, limit, cursor)
        return page

    async def rename(self, thread_id: str, title: str) -> bool:
        """Give the thread a title (kept through later saves)."""
        renamed: bool = await self._call(self._rename, thread_id, title)
        return renamed

    async def save(self, thread: Thread) -> None:
        """Store the thread; drop the least recently updated over ``max_threads`` and the expired."""
        thread.updated_at = time.time()
        await self._call(self._save, self.limits.trim(thread))

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        await self._call(self._delete, thread_id)

    async def close(self) -> None:
        """Close the database."""
        async with self._lock:
            if self._db is not None:
                db, self._db = self._db, None
                await asyncio.to_thread(db.close)
