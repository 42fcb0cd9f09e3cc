"""The stable ``RUN_ERROR`` codes this server sends. Frontends may act on them; they never change."""

from __future__ import annotations

from enum import StrEnum

from agui_server.protocol.compat import CANCELLED_CODE

__all__ = ("ErrorCode",)


class ErrorCode(StrEnum):
    """``RUN_ERROR.code`` values."""

    AGENT_ERROR = "AGENT_ERROR"
    """The agent raised an exception. The message carries a reference to the server log, nothing else."""
    AGENT_PROTOCOL_ERROR = "AGENT_PROTOCOL_ERROR"
    """The agent produced an event that breaks an AG-UI rule (strict mode), or something not an event."""
    RUN_TIMEOUT = "RUN_TIMEOUT"
    """The run took longer than the configured limit."""
    CANCELLED = CANCELLED_CODE
    """The run was cancelled (sent to pre-1.0 clients, which know no ``cancelled`` outcome)."""
    INTERNAL_ERROR = "INTERNAL_ERROR"
    """The server itself failed."""
    UNKNOWN_AGENT = "UNKNOWN_AGENT"
    """A worker was asked to run an agent it does not have."""
    NO_WORKER = "NO_WORKER"
    """(Redis) No worker took the run before its start deadline."""
    WORKER_LOST = "WORKER_LOST"
    """(Redis) The worker executing the run stopped renewing its lease (it died)."""
    BACKEND_UNAVAILABLE = "BACKEND_UNAVAILABLE"
    """(Redis) Redis was unreachable for too long: the web process lost it mid-stream (resume from the last
    event id later), or a worker's buffered events outgrew their bounds while its agent went on."""
    RUN_LOST = "RUN_LOST"
    """(Redis) The run's record vanished from Redis before its end (Redis restarted without persistence, or
    was flushed)."""
    STREAM_BEHIND = "STREAM_BEHIND"
    """The client read so slowly that events it had not received yet were dropped from the run's log (past
    ``max_events_per_run``); its stream ends here. The thread (``GET …/threads/{id}``) holds the outcome."""
    WORKER_ERROR = "WORKER_ERROR"
    """(Envelope bridge) The outside worker published an ``error`` event; the message is the worker's."""
    WORKER_TIMEOUT = "WORKER_TIMEOUT"
    """(Envelope bridge) The outside worker published nothing for longer than the bridge's idle timeout."""
    UPSTREAM_AUTH_FAILED = "UPSTREAM_AUTH_FAILED"
    """The model provider rejected the API key (401/403)."""
    UPSTREAM_RATE_LIMITED = "UPSTREAM_RATE_LIMITED"
    """The provider's rate limit or quota; the message and ``metadata.retryAfterSeconds`` carry its hint."""
    UPSTREAM_UNAVAILABLE = "UPSTREAM_UNAVAILABLE"
    """The provider is unreachable, answered 5xx, is overloaded, or sent an error event."""
    UPSTREAM_TIMEOUT = "UPSTREAM_TIMEOUT"
    """The provider did not connect, went silent past the read timeout, or answered 408/504/524."""
    UPSTREAM_MALFORMED_STREAM = "UPSTREAM_MALFORMED_STREAM"
    """The provider's stream could not be read, or ended early."""
    UPSTREAM_BAD_REQUEST = "UPSTREAM_BAD_REQUEST"
    """The provider refused the request (unknown model, bad parameter)."""
    CONTEXT_TOO_LONG = "CONTEXT_TOO_LONG"
    """The conversation is longer than the model's context window."""
    OUTPUT_TRUNCATED = "OUTPUT_TRUNCATED"
    """The model hit its output limit in the middle of a tool call."""
    CONTENT_FILTERED = "CONTENT_FILTERED"
    """The provider filtered or refused the content."""
    TOOL_TURNS_EXCEEDED = "TOOL_TURNS_EXCEEDED"
    """Backend tools were called more times than ``max_tool_turns`` allows."""
    TOOL_ARGUMENTS_INVALID = "TOOL_ARGUMENTS_INVALID"
    """The model called a client (frontend) tool with arguments that are not a JSON object; the call was never
    completed (no ``TOOL_CALL_END``), so the client must not run it."""
    UNSUPPORTED_CONTENT = "UNSUPPORTED_CONTENT"
    """A user message holds a part (video, audio, a document by URL...) the model provider cannot take in that
    form; the message names the part. Nothing was sent to the provider."""
