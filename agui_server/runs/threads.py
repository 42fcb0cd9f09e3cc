"""Thread stores: each thread's messages and state, kept on the server.

:class:`ThreadStore` is the small protocol every backend implements (memory here, SQLite in
:mod:`agui_server.runs.sqlite_threads`, PostgreSQL in :mod:`agui_server.runs.postgres_threads`, Redis in
:mod:`agui_server.runs.redis.threads`). Stores are bounded: a number of threads (the least recently updated
go first), a number of messages per thread (the oldest go first), and an age.

Each store also lists an owner's threads (newest first, a page at a time: :class:`ThreadPage`), renames and
deletes them; the summary of a thread (its title and preview) and the page cursor are made here, once.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import msgspec

from agui_server.principals import client_thread_id, owner_of
from agui_server.protocol.types import Interrupt, Message, ResumeEntry, UserMessage

__all__ = (
    "MAX_PAGE",
    "MAX_TITLE",
    "PAGE_SIZE",
    "AnsweredInterrupt",
    "DurableThreadStore",
    "InvalidPageCursor",
    "MemoryThreadStore",
    "Thread",
    "ThreadLimits",
    "ThreadPage",
    "ThreadStore",
    "ThreadSummary",
)

PAGE_SIZE: Final = 20
"""Threads a page of ``GET <path>/threads`` holds when the request names no ``limit``."""
MAX_PAGE: Final = 100
"""Threads a page holds at most."""
MAX_TITLE: Final = 200
"""Characters of a thread's title (a rename's, or the first user message's, cut)."""
AUTO_TITLE: Final = 80
"""Characters of the first user message a thread is titled with until it is renamed."""
PREVIEW: Final = 120
"""Characters of the last message a thread's summary shows."""


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
_messages_decoder: Final = msgspec.json.Decoder(list[Message])
_interrupts_decoder: Final = msgspec.json.Decoder(list[Interrupt])
_answered_decoder: Final = msgspec.json.Decoder(list[AnsweredInterrupt])


def thread_columns(thread: Thread) -> tuple[bytes, bytes, bytes, bytes]:
    """The JSON of a thread's messages, state, open and answered interrupts, as the SQL stores keep them."""
    encode = _thread_encoder.encode
    return encode(thread.messages), encode(thread.state), encode(thread.interrupts), encode(thread.answered_interrupts)


def thread_of_columns(
    thread_id: str, messages: bytes, state: bytes, updated_at: float, interrupts: bytes, answered: bytes
) -> Thread:
    """A thread from the columns of :func:`thread_columns` (and its key and last update)."""
    return Thread(
        thread_id=thread_id,
        messages=_messages_decoder.decode(messages),
        state=msgspec.json.decode(state),
        updated_at=updated_at,
        interrupts=_interrupts_decoder.decode(interrupts),
        answered_interrupts=_answered_decoder.decode(answered),
    )


class ThreadSummary(msgspec.Struct, kw_only=True, rename="camel"):
    """A thread as the list of an owner's threads shows it."""

    thread_id: str
    """The client's thread id."""
    title: str
    """The title it was renamed to, else its first user message (cut to ``AUTO_TITLE``), else ``""``."""
    preview: str
    """The text of its last message that has text (cut to ``PREVIEW``)."""
    created_at: float
    updated_at: float


class ThreadPage(msgspec.Struct, kw_only=True, rename="camel"):
    """A page of an owner's threads, newest first, and the cursor of the next page (``None``: the last)."""

    threads: list[ThreadSummary]
    next_cursor: str | None = None


class InvalidPageCursor(ValueError):
    """A page cursor this server did not make."""


def _text(message: Message) -> str:
    content = getattr(message, "content", None)
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(text for part in content if isinstance(text := getattr(part, "text", None), str))
    return ""


def _cut(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "\u2026"


def auto_title(messages: Iterable[Message]) -> str:
    """A thread's title until it is renamed: its first user message with text, cut."""
    for message in messages:
        if isinstance(message, UserMessage) and (text := _text(message).strip()):
            return _cut(text, AUTO_TITLE)
    return ""


def preview(messages: list[Message]) -> str:
    """The text of the last message that has text, cut."""
    for message in reversed(messages):
        if text := _text(message).strip():
            return _cut(text, PREVIEW)
    return ""


def summary(thread: Thread, title: str | None, created_at: float) -> ThreadSummary:
    """The summary of a stored thread (``title``: the one it was renamed to)."""
    return ThreadSummary(
        thread_id=client_thread_id(thread.thread_id),
        title=title or auto_title(thread.messages),
        preview=preview(thread.messages),
        created_at=created_at or thread.updated_at,
        updated_at=thread.updated_at,
    )


def page_cursor(updated_at: float, thread_id: str) -> str:
    """The cursor of the page after the thread ``thread_id`` (a thread key) updated at ``updated_at``."""
    return base64.urlsafe_b64encode(_thread_encoder.encode([updated_at, thread_id])).decode().rstrip("=")


def read_cursor(cursor: str) -> tuple[float, str]:
    """``(updated_at, thread key)`` of a page cursor; raises :class:`InvalidPageCursor`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated_at, thread_id = msgspec.json.decode(raw, type=tuple[float, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidPageCursor(f"{cursor[:40]!r} is not a page cursor of this server") from None
    return updated_at, thread_id


def page_of(
    entries: Iterable[tuple[float, str]], owner: str, limit: int, cursor: str | None
) -> list[tuple[float, str]]:
    """The ``(updated_at, key)`` entries of ``owner``'s page after ``cursor``, newest first (ties: the greater
    key first), at most ``limit`` and one more to tell whether a next page exists. For stores that hold an
    owner's threads as such pairs (memory; Redis pages through its index with it)."""
    after = read_cursor(cursor) if cursor is not None else None
    mine = sorted(
        (entry for entry in entries if owner_of(entry[1]) == owner and (after is None or entry < after)),
        reverse=True,
    )
    return mine[: limit + 1]


def next_cursor(entries: list[tuple[float, str]], limit: int) -> str | None:
    """The next page's cursor when ``entries`` (a page and maybe one more) go past ``limit``."""
    return page_cursor(*entries[limit - 1]) if len(entries) > limit else None


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

    def to_drop(self, stored: int) -> int:
        """How many threads a store that holds ``stored`` drops, the least recently updated first, when each
        drop costs it a round trip (Redis): none within ``max_threads``; past it, down to ``max_threads`` less
        1 %, so that a full store drops a batch of threads once in a while rather than one on every run's
        end (which had cost a full store two more round trips per run)."""
        if stored <= self.max_threads:
            return 0
        return stored - self.max_threads + self.max_threads // 100

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

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s threads, newest first, ``limit`` at most, after ``cursor`` (a page's ``next_cursor``;
        raises :class:`InvalidPageCursor` for another)."""
        ...

    async def rename(self, thread_id: str, title: str) -> bool:
        """Give the thread a title (it keeps it through later saves); False for an unknown thread."""
        ...

    async def close(self) -> None:
        """Release what the store holds open."""
        ...


@runtime_checkable
class DurableThreadStore(ThreadStore, Protocol):
    """A store that can keep a Redis deployment's threads (``RedisBackend(threads_db=…)``)."""

    async def store_run(self, thread: Thread, run_id: str) -> bool:
        """Store the thread as run ``run_id`` left it, with its ``updated_at`` as given, unless the store holds
        that version or a newer one already: writing it again changes nothing. Whether it was written."""
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
        self._info: dict[str, tuple[float, str | None]] = {}
        """Each thread's creation time and the title it was renamed to."""

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
        self._info.pop(thread_id, None)

    async def save(self, thread: Thread) -> None:
        """Store the thread; drop the least recently updated ones over ``max_threads``."""
        self.save_now(thread)

    def save_now(self, thread: Thread) -> None:
        """:meth:`save`, without a coroutine: the run engine stores a run's thread this way at the run's end
        (nothing to wait for, so nothing a cancellation could interrupt)."""
        thread.updated_at = time.time()
        data = _thread_encoder.encode(self.limits.trim(thread))
        info = self._info.get(thread.thread_id, (thread.updated_at, None))
        self._drop(thread.thread_id)
        self._threads[thread.thread_id] = (thread.updated_at, data)
        self._info[thread.thread_id] = info
        self._bytes += len(data)
        while len(self._threads) > self.limits.max_threads or (
            self._bytes > self.limits.max_total_bytes and len(self._threads) > 1
        ):
            self._drop(next(iter(self._threads)))

    async def delete(self, thread_id: str) -> None:
        """Forget the thread."""
        self._drop(thread_id)

    async def list_threads(self, owner: str, limit: int, cursor: str | None) -> ThreadPage:
        """``owner``'s threads, newest first (a scan of the store, which ``max_threads`` bounds)."""
        entries = page_of(((at, key) for key, (at, _) in self._threads.items()), owner, limit, cursor)
        threads = []
        for _, key in entries[:limit]:
            thread = await self.get(key)
            if thread is not None:
                created_at, title = self._info.get(key, (0.0, None))
                threads.append(summary(thread, title, created_at))
        return ThreadPage(threads=threads, next_cursor=next_cursor(entries, limit))

    async def rename(self, thread_id: str, title: str) -> bool:
        """Give the thread a title."""
        if await self.get(thread_id) is None:
            return False
        created_at, _ = self._info.get(thread_id, (0.0, None))
        self._info[thread_id] = (created_at, title)
        return True

    async def close(self) -> None:
        """Nothing to release."""
