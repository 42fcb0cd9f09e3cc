"""What can go wrong with an LLM adapter, as exceptions and as ``RUN_ERROR`` codes.

::

    LLMConfigurationError (ValueError)   bad or missing settings; raised at start-up, never mid-run
    UpstreamError (Exception)            the model provider failed a request; becomes one RUN_ERROR

Every :class:`UpstreamError` carries one of the codes below, a message written for a user (it never
quotes the provider's response body, which may echo a key or the prompt) and whether the request may be
retried. The adapters catch it and end the run with ``RUN_ERROR {code, message}``.
"""

from __future__ import annotations

from typing import Final

__all__ = (
    "CONTENT_FILTERED",
    "CONTEXT_TOO_LONG",
    "LLM_ERROR_CODES",
    "OUTPUT_TRUNCATED",
    "RUN_TIMEOUT",
    "TOOL_ARGUMENTS_INVALID",
    "TOOL_TURNS_EXCEEDED",
    "UNSUPPORTED_CONTENT",
    "UPSTREAM_AUTH_FAILED",
    "UPSTREAM_BAD_REQUEST",
    "UPSTREAM_MALFORMED_STREAM",
    "UPSTREAM_RATE_LIMITED",
    "UPSTREAM_TIMEOUT",
    "UPSTREAM_UNAVAILABLE",
    "LLMConfigurationError",
    "UpstreamError",
)

UPSTREAM_AUTH_FAILED: Final = "UPSTREAM_AUTH_FAILED"
"""The provider rejected the API key (HTTP 401/403). Fix the server's configuration."""
UPSTREAM_RATE_LIMITED: Final = "UPSTREAM_RATE_LIMITED"
"""The provider is rate limiting or the quota is used up (HTTP 429). The message, and
``metadata.retryAfterSeconds`` when the provider said, tell how long to wait."""
UPSTREAM_UNAVAILABLE: Final = "UPSTREAM_UNAVAILABLE"
"""The provider could not be reached, failed (HTTP 5xx) or is overloaded. Retrying later may work."""
UPSTREAM_TIMEOUT: Final = "UPSTREAM_TIMEOUT"
"""Connecting took too long, the stream went silent for longer than the read timeout, or the provider (or a
gateway before it) answered that it timed out (HTTP 408, 504, 524)."""
UPSTREAM_MALFORMED_STREAM: Final = "UPSTREAM_MALFORMED_STREAM"
"""The provider's stream could not be understood, or ended before it was complete."""
UPSTREAM_BAD_REQUEST: Final = "UPSTREAM_BAD_REQUEST"
"""The provider refused the request for another reason (unknown model, bad parameter: HTTP 400/404/422)."""
CONTEXT_TOO_LONG: Final = "CONTEXT_TOO_LONG"
"""The conversation no longer fits the model's context window. Start a new thread or shorten it."""
OUTPUT_TRUNCATED: Final = "OUTPUT_TRUNCATED"
"""The model hit its output limit in the middle of a tool call, so the call cannot be used."""
CONTENT_FILTERED: Final = "CONTENT_FILTERED"
"""The provider's safety system stopped the answer (``content_filter``, ``refusal``)."""
TOOL_ARGUMENTS_INVALID: Final = "TOOL_ARGUMENTS_INVALID"
"""The model called a client (frontend) tool with arguments that are not a JSON object, so the call was never
completed (no ``TOOL_CALL_END``) and the client must not run it. (A backend tool's invalid arguments do not
end the run: they become an error result the model sees and can correct.)"""
TOOL_TURNS_EXCEEDED: Final = "TOOL_TURNS_EXCEEDED"
"""The model kept calling backend tools past the adapter's ``max_tool_turns``."""
UNSUPPORTED_CONTENT: Final = "UNSUPPORTED_CONTENT"
"""A user message holds a part the provider's API cannot take in that form (a video anywhere, audio on
Anthropic or the Responses API, a document by URL on Chat Completions...). The message names the part
(its message id, position, kind and media type); nothing was sent to the provider."""
RUN_TIMEOUT: Final = "RUN_TIMEOUT"
"""The adapter's whole-run time limit passed (the same code the guard uses for its own limit)."""

LLM_ERROR_CODES: Final = (
    UPSTREAM_AUTH_FAILED,
    UPSTREAM_RATE_LIMITED,
    UPSTREAM_UNAVAILABLE,
    UPSTREAM_TIMEOUT,
    UPSTREAM_MALFORMED_STREAM,
    UPSTREAM_BAD_REQUEST,
    CONTEXT_TOO_LONG,
    OUTPUT_TRUNCATED,
    CONTENT_FILTERED,
    TOOL_TURNS_EXCEEDED,
    TOOL_ARGUMENTS_INVALID,
    UNSUPPORTED_CONTENT,
)
"""Every code the LLM adapters add to the server's own (``RUN_TIMEOUT`` is the server's)."""


class LLMConfigurationError(ValueError):
    """An adapter cannot be built from its settings: a missing API key or model, a bad URL or timeout."""


class UpstreamError(Exception):
    """A request to the model provider failed.

    Args:
        code: one of this module's codes.
        message: what the user is told; never contains the provider's body or a secret.
        retryable: the same request may succeed if sent again (only done before any output).
        retry_after: seconds the provider asked us to wait, when it said.
    """

    def __init__(self, code: str, message: str, *, retryable: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"UpstreamError({self.code!r}, {self.message!r}, retryable={self.retryable})"
