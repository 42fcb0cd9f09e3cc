"""How events sit in a Redis stream: a batch of events per entry, so one ``XADD`` carries a whole batch.

An entry's id is ``0-<sequence number of its last event>``. Field ``t`` holds the events' types separated by
spaces, field ``d`` their JSON payloads separated by newlines (encoded JSON never holds a raw newline);
field ``c``, when present, says the run goes on after the terminal event that ends the entry.
Reading after cursor N (``XREAD`` or ``XRANGE`` from ``0-N``, exclusive) returns first the entry that holds
event N+1, which may begin with events at or before N: :func:`unpack` numbers them so readers skip those.
"""

from __future__ import annotations

from typing import Final

from agui_server.runs.reducer import TERMINAL_EVENT_TYPES

__all__ = (
    "MAX_BATCH",
    "MAX_PENDING_BYTES",
    "MAX_PENDING_EVENTS",
    "TERMINAL_TYPES",
    "Outbox",
    "continues",
    "first_seq",
    "unpack",
)

MAX_BATCH: Final = 1024
"""Events per entry at most."""
MAX_PENDING_EVENTS: Final = 100_000
"""Events of one run an outbox holds at most while Redis is unreachable (past this, or past
``MAX_PENDING_BYTES``, the run ends with ``BACKEND_UNAVAILABLE`` rather than grow without bound)."""
MAX_PENDING_BYTES: Final = 16 * 1024 * 1024
"""Bytes of payload one run's outbox holds at most while Redis is unreachable."""
TERMINAL_TYPES: Final = frozenset(name.encode() for name in TERMINAL_EVENT_TYPES)
"""The terminal event types as an entry's ``t`` field holds them."""


def _last_seq(entry_id: bytes) -> int:
    """The sequence number of an entry's last event."""
    return int(entry_id.split(b"-", 1)[1])


def first_seq(entry_id: bytes, fields: dict[bytes, bytes]) -> int:
    """The sequence number of an entry's first event."""
    return _last_seq(entry_id) - fields[b"t"].count(b" ")


def continues(fields: dict[bytes, bytes]) -> bool:
    """Whether the run goes on after the terminal event that ends this entry (it was queued once more after
    its worker died, and a new ``RUN_STARTED`` follows)."""
    return b"c" in fields


def unpack(entry_id: bytes, fields: dict[bytes, bytes]) -> tuple[int, list[bytes], list[bytes]]:
    """``(sequence number of the first event, types, payloads)`` of an entry."""
    types = fields[b"t"].split(b" ")
    return _last_seq(entry_id) - len(types) + 1, types, fields[b"d"].split(b"\n")


class Outbox:
    """Events of a run not yet in Redis: :meth:`add` takes them in order, :meth:`batch` gives the next batch as
    the tail of the ``APPEND`` script's arguments, and :meth:`drop` removes it once Redis has it (until then
    it stays, so a batch whose write failed is sent again)."""

    __slots__ = ("payloads", "size", "types")

    def __init__(self) -> None:
        self.types: list[str] = []
        self.payloads: list[bytes] = []
        self.size = 0
        """Bytes of payload held."""

    def __len__(self) -> int:
        return len(self.types)

    def add(self, payload: bytes, event_type: str) -> None:
        """Take one encoded event."""
        self.types.append(event_type)
        self.payloads.append(payload)
        self.size += len(payload)

    @property
    def full(self) -> bool:
        """Over its bounds (``MAX_PENDING_EVENTS``, ``MAX_PENDING_BYTES``)."""
        return len(self.types) > MAX_PENDING_EVENTS or self.size > MAX_PENDING_BYTES

    def batch(self, limit: int = MAX_BATCH) -> list[int | str | bytes]:
        """The first ``limit`` events at most: ``[count, types, payloads, terminal]`` for ``APPEND``."""
        types, payloads = self.types[:limit], self.payloads[:limit]
        terminal = 1 if types[-1] in TERMINAL_EVENT_TYPES else 0
        return [len(types), " ".join(types), b"\n".join(payloads), terminal]  # the t and d fields

    def drop(self, count: int) -> None:
        """Remove the first ``count`` events (Redis has them)."""
        self.size -= sum(len(payload) for payload in self.payloads[:count])
        del self.types[:count], self.payloads[:count]
