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

import msgspec

from agui_server.protocol.types import Interrupt, Message
from agui_server.runs.threads import AnsweredInterrupt, Thread, ThreadLimits

__all__ = ("SQLiteThreadStore",)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS threads (
    thread_id TEXT PRIMARY KEY,
    messages BLOB NOT NULL,
    state BLOB NOT NULL,
    updated_at REAL NOT NULL,
    interrupts BLOB NOT NULL DEFAULT '[]',
    answered_interrupts BLOB NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS threads_updated_at ON threads (updated_at);
"""
_ADDED_COLUMNS: Final = ("interrupts", "answered_interrupts")
"""Columns a file made by an earlier version lacks (added when it is opened)."""
_messages_decoder: Final = msgspec.json.Decoder(list[Message])
_interrupts_decoder: Final = msgspec.json.Decoder(list[Interrupt])
_answered_decoder: Final = msgspec.json.Decoder(list[AnsweredInterrupt])
_encoder: Final = msgspec.json.Encoder()


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
            for column in _ADDED_COLUMNS:
                if column not in columns:
                    db.execute(f"ALTER TABLE threads ADD COLUMN {column} BLOB NOT NULL DEFAULT '[]'")
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
        return Thread(
            thread_id=thread_id,
            messages=_messages_decoder.decode(messages),
            state=msgspec.json.decode(state),
            updated_at=updated_at,
            interrupts=_interrupts_decoder.decode(interrupts),
            answered_interrupts=_answered_decoder.decode(answered),
        )

    def _save(self, thread: Thread) -> None:
        db = self._connect()
        with db:
            db.execute(
                "INSERT INTO threads (thread_id, messages, state, updated_at, interrupts, answered_interrupts) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(thread_id) DO UPDATE SET messages = excluded.messages, "
                "state = excluded.state, updated_at = excluded.updated_at, interrupts = excluded.interrupts, "
                "answered_interrupts = excluded.answered_interrupts",
                (
                    thread.thread_id,
                    _encoder.encode(thread.messages),
                    _encoder.encode(thread.state),
                    thread.updated_at,
                    _encoder.encode(thread.interrupts),
                    _encoder.encode(thread.answered_interrupts),
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

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, unless it is unknown or older than ``max_age``."""
        result: Thread | None = await self._call(self._get, thread_id)
        return result

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
