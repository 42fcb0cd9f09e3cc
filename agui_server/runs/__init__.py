"""Runs apart from HTTP: the guard, the event log, the run manager."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from agui_server.runs.backend import (
    BusyPolicy,
    CursorAhead,
    CursorExpired,
    DisconnectPolicy,
    FrameSource,
    RunBackend,
    RunConflict,
    ThreadBusy,
)
from agui_server.runs.codes import ErrorCode
from agui_server.runs.config import MemoryBackend, RedisBackend
from agui_server.runs.guard import Guard, coerce_event
from agui_server.runs.log import Feed, RunLog
from agui_server.runs.manager import Run, RunLimits, RunManager
from agui_server.runs.reducer import ThreadFold, merge_messages
from agui_server.runs.threads import MemoryThreadStore, Thread, ThreadLimits, ThreadStore

if TYPE_CHECKING:
    from agui_server.runs.sqlite_threads import SQLiteThreadStore


def __getattr__(name: str) -> Any:
    """``SQLiteThreadStore`` on first use: a server that keeps threads in memory never imports sqlite3."""
    if name != "SQLiteThreadStore":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = importlib.import_module("agui_server.runs.sqlite_threads").SQLiteThreadStore
    globals()[name] = value
    return value


__all__ = (
    "BusyPolicy",
    "CursorAhead",
    "CursorExpired",
    "DisconnectPolicy",
    "ErrorCode",
    "Feed",
    "FrameSource",
    "Guard",
    "MemoryBackend",
    "MemoryThreadStore",
    "RedisBackend",
    "Run",
    "RunBackend",
    "RunConflict",
    "RunLimits",
    "RunLog",
    "RunManager",
    "SQLiteThreadStore",
    "Thread",
    "ThreadBusy",
    "ThreadFold",
    "ThreadLimits",
    "ThreadStore",
    "coerce_event",
    "merge_messages",
)
