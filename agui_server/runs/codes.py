"""The stable ``RUN_ERROR`` codes this server sends. Frontends may act on them; they never change."""

from __future__ import annotations

from enum import StrEnum

__all__ = ("ErrorCode",)


class ErrorCode(StrEnum):
    """``RUN_ERROR.code`` values."""

    AGENT_ERROR = "AGENT_ERROR"
    """The agent raised an exception. The message carries a reference to the server log, nothing else."""
    AGENT_PROTOCOL_ERROR = "AGENT_PROTOCOL_ERROR"
    """The agent produced an event that breaks an AG-UI rule (strict mode), or something not an event."""
    RUN_TIMEOUT = "RUN_TIMEOUT"
    """The run took longer than the configured limit."""
    CANCELLED = "CANCELLED"
    """The run was cancelled (sent to pre-1.0 clients, which know no ``cancelled`` outcome)."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """The server itself failed."""
