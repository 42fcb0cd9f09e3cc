"""Who is calling: a principal, as an authenticator (``agui_server.http.auth``) found it.

Threads and runs record their owner's id; every endpoint and dialect lets a principal see only what it
owns (or what the app's sharing rule grants), and answers 404 for the rest, so nothing tells whether
another principal's thread exists. The principal reaches agents as ``RunContext.principal`` and logs as
its id, never as a credential.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = (
    "ADMIN_ROLE",
    "ANONYMOUS",
    "OWNER_SEPARATOR",
    "Principal",
    "client_thread_id",
    "owner_of",
    "thread_key",
)

ADMIN_ROLE: Final = "admin"
"""The role that may subscribe to the server-wide and per-agent feeds (every principal's runs)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    id: str
    """Stable and not secret: it is stored as the owner of threads and runs and written to logs."""
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        """Whether the principal has the admin role."""
        return ADMIN_ROLE in self.roles


ANONYMOUS: Final = Principal("anonymous", frozenset({ADMIN_ROLE}))
"""Everyone, when the server authenticates nobody (local development): one owner of everything."""


OWNER_SEPARATOR: Final = "\x1f"
"""Between an owner and a thread id in a thread's key (ids cannot contain control characters, so a key
splits one way only)."""


def thread_key(owner: str, thread_id: str) -> str:
    """Where a thread lives: each owner has threads of its own, so two owners may use the same thread id
    and never meet. The anonymous owner's keys are the plain thread ids."""
    return thread_id if owner == ANONYMOUS.id else f"{owner}{OWNER_SEPARATOR}{thread_id}"


def owner_of(key: str) -> str:
    """The owner of a thread key."""
    owner, separator, _ = key.partition(OWNER_SEPARATOR)
    return owner if separator else ANONYMOUS.id


def client_thread_id(key: str) -> str:
    """The thread id the client knows, from a thread key."""
    return key.rpartition(OWNER_SEPARATOR)[2]
