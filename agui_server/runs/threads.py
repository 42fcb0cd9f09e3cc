"""Thread stores: each thread's messages and state, kept on the server.

:class:`ThreadStore` is the small protocol every backend implements (memory here, SQLite in
:mod:`agui_server.runs.sqlite_threads`, Redis later). Stores are bounded: a number of threads (the least
recently updated go first), a number of messages per thread (the oldest go first), and an age.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import msgspec

from agui_server.principals import client_thread_id
from agui_server.protocol.types import Interrupt, Message, ResumeEntry

__all__ = ("AnsweredInterrupt", "MemoryThreadStore", "Thread", "ThreadLimits", "ThreadStore")


class AnsweredInterrupt(msgspec.Struct, kw_only=True, rename="camel", omit_defaults=True):
    """An interrupt of the thread, the answer a request gave it, and the run that took the answer."""

    interrupt: Interrupt
    answer: ResumeEntry
    run_id: str


class Thread(msgspec.Struct, kw_only=True, gc=False):
    """A thread as the server keeps it (not GC-tracked: it holds no cycles, and thousands are kept)."""

    thread_id: str
    """The thread's key: the owner's namespace and the client's thread id (``principals.thread_key``)."""
    messages: list[Message] = msgspec.field(default_factory=list)
    state: Any = None
    updated_at: float = 0.0
    interrupts: list[Interrupt] = msgspec.field(default_factory=list)
    """The interrupts its last run left open: the next request must answer them (``runs/interrupts.py``)."""
    answered_interrupts: list[AnsweredInterrupt] = msgspec.field(default_factory=list)
    """The interrupts answered before, with their answers (the newest ``interrupts.MAX_ANSWERED``)."""

    def public(self) -> dict[str, Any]:
        """The thread as ``GET /threads/{id}`` shows it: AG-UI message shapes, camelCase."""
        return {
            "threadId": client_thread_id(self.thread_id),
            "messages": self.messages,
            "state": self.state if self.state is not None else {},
            "interrupts": self.interrupts,
            "answeredInterrupts": self.answered_interrupts,
        }


_thread_decoder = msgspec.json.Decoder(Thread)
_thread_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class ThreadLimits:
    """Bounds of a thread store."""

    max_threads: int = 10_000
    """Threads kept; the least recently updated are dropped first."""
    max_messages: int = 1_000
    """Messages kept per thread; the oldest are dropped first."""
    max_age: float | None = 7 * 24 * 3600.0
    """Seconds a thread is kept after its last update (``None``: no limit)."""
    max_bytes: int = 4 * 1024 * 1024
    """Bytes of messages kept per thread (as JSON); the oldest messages are dropped first. A thread that
    grows without end would otherwise be copied into every run's history."""
    max_total_bytes: int = 512 * 1024 * 1024
    """Bytes the in-memory store keeps in all (the least recently updated threads go first)."""

    def trim(self, thread: Thread) -> Thread:
        """``thread`` with its messages within the limits (count and bytes)."""
        if len(thread.messages) > self.max_messages:
            thread.messages = thread.messages[-self.max_messages :]
        sizes = [len(_thread_encoder.encode(m)) for m in thread.messages]
        total = sum(sizes)
        if total > self.max_bytes:
            drop = 0
            while drop < len(sizes) and total > self.max_bytes:
                total -= sizes[drop]
                drop += 1
            thread.messages = thread.messages[drop:]
        return thread


@runtime_checkable
class ThreadStore(Protocol):
    """Where threads live."""

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, or ``None`` if it is unknown (or expired)."""
        ...

    async def save(self, thread: Thread) -> None:
        """Store the thread (replacing what was there) and stamp ``updated_at``."""
        ...

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        ...

    async def close(self) -> None:
        """Release what the store holds open."""
        ...


class MemoryThreadStore:
    """Threads in this process's memory: the default, gone at restart.

    Each thread is kept encoded (JSON bytes), as the other stores keep it: what a caller gets is its own
    copy, and thousands of stored threads are a few bytes objects, not object graphs the garbage
    collector has to walk.
    """

    def __init__(self, limits: ThreadLimits | None = None) -> None:
        self.limits = limits or ThreadLimits()
        self._threads: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._threads)

    async def get(self, thread_id: str) -> Thread | None:
        """The thread, unless it is unknown or older than ``max_age``."""
        stored = self._threads.get(thread_id)
        if stored is None:
            return None
        updated_at, data = stored
        if self.limits.max_age is not None and time.time() - updated_at > self.limits.max_age:
            self._drop(thread_id)
            return None
        return _thread_decoder.decode(data)

    def _drop(self, thread_id: str) -> None:
        stored = self._threads.pop(thread_id, None)
        if stored is not None:
            self._bytes -= len(stored[1])

    async def save(self, thread: Thread) -> None:
        """Store the thread; drop the least recently updated ones over ``max_threads``."""
        thread.updated_at = time.time()
        data = _thread_encoder.encode(self.limits.trim(thread))
        self._drop(thread.thread_id)
        self._threads[thread.thread_id] = (thread.updated_at, data)
        self._bytes += len(data)
        while len(self._threads) > self.limits.max_threads or (
            self._bytes > self.limits.max_total_bytes and len(self._threads) > 1
        ):
            self._drop(next(iter(self._threads)))

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        self._drop(thread_id)

    async def close(self) -> None:
        """Nothing to release."""
