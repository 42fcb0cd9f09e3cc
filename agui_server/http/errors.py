"""JSON error responses sent before a stream starts.

Every error body has the same shape::

    {"status_code": 422, "code": "INVALID_INPUT", "detail": "...",
     "errors": [{"field": "messages[0].role", "message": "Invalid value 'bogus'"}]}

``status_code`` and ``detail`` are the keys Litestar uses for its own errors (404, 405), so a client
can read every error of the server the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from litestar.response.base import ASGIResponse

from agui_server.protocol.encoding import encode_json
from agui_server.runs.interrupts import (
    INTERRUPT_ALREADY_RESOLVED,
    INTERRUPT_EXPIRED,
    INTERRUPT_RESUME_INCOMPLETE,
    INTERRUPT_RESUME_REQUIRED,
    INTERRUPT_UNKNOWN,
)

__all__ = ("HTTP_ERRORS", "APIError", "HTTPError", "error_response")

_JSON: Final = "application/json"


@dataclass(frozen=True, slots=True)
class HTTPError:
    """A stable code of the JSON errors answered before a stream, with its one HTTP status."""

    code: str
    status: int
    meaning: str


HTTP_ERRORS: Final = {
    error.code: error
    for error in (
        HTTPError("INVALID_JSON", 400, "The body is not JSON (or is nested too deeply)."),
        HTTPError("INVALID_CURSOR", 400, "A cursor is not an event id up to the newest, nor a page's nextCursor."),
        HTTPError("INVALID_DISCONNECT_POLICY", 400, "The disconnect policy is not cancel, continue or grace[:S]."),
        HTTPError("UNAUTHENTICATED", 401, "The server has an authenticator and the request no valid credential."),
        HTTPError("FORBIDDEN", 403, "The caller lacks the role the route needs (the wide feeds: admin)."),
        HTTPError("CROSS_SITE", 403, "Another site's page sent it, from an origin not in allowed_origins."),
        HTTPError("UNKNOWN_AGENT", 404, "No agent with that id."),
        HTTPError("UNKNOWN_RUN", 404, "No run with that id that the caller may see."),
        HTTPError("UNKNOWN_THREAD", 404, "No thread with that id that the caller may see."),
        HTTPError("RUN_ID_CONFLICT", 409, "The runId belongs to another thread, owner or protocol version."),
        HTTPError("THREAD_BUSY", 409, "The thread has a run in progress (busy_policy reject)."),
        HTTPError(INTERRUPT_RESUME_REQUIRED, 409, "The thread has open interrupts and the request no resume."),
        HTTPError(INTERRUPT_RESUME_INCOMPLETE, 409, "resume leaves some of the thread's open interrupts unanswered."),
        HTTPError(INTERRUPT_UNKNOWN, 409, "resume answers an interrupt the thread never had open."),
        HTTPError(INTERRUPT_ALREADY_RESOLVED, 409, "resume answers an interrupt already answered (or one twice)."),
        HTTPError(INTERRUPT_EXPIRED, 409, "resume resolves an interrupt past its expiresAt (it may be cancelled)."),
        HTTPError("CURSOR_EXPIRED", 410, "The events after the cursor are no longer kept."),
        HTTPError("BODY_TOO_LARGE", 413, "The body is over max_body_size."),
        HTTPError("UNSUPPORTED_MEDIA_TYPE", 415, "No Content-Type, or one other than JSON."),
        HTTPError("INVALID_INPUT", 422, "The JSON is not a valid request; errors[0].field names the field."),
        HTTPError("TOO_MANY_REQUESTS", 429, "The caller is over its runs, streams or run starts (Retry-After)."),
        HTTPError("BACKEND_UNAVAILABLE", 503, "The run store (Redis) cannot be reached (Retry-After)."),
        HTTPError("SERVER_BUSY", 503, "The deployment runs max_runs runs already (Retry-After)."),
    )
}
"""Every code a JSON error before the stream may carry (``RUN_ERROR`` codes: ``runs.codes.ErrorCode``)."""


def error_response(
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ASGIResponse:
    """A JSON error response with ``code``'s status (``HTTP_ERRORS``)."""
    status = HTTP_ERRORS[code].status
    body: dict[str, Any] = {"status_code": status, "code": code, "detail": detail}
    if errors:
        body["errors"] = errors
    return ASGIResponse(body=encode_json(body), status_code=status, media_type=_JSON, headers=headers)


class APIError(Exception):
    """An answer before the stream, raised by an endpoint and mapped in one place (the plugin's handlers)."""

    def __init__(
        self,
        code: str,
        detail: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        if code not in HTTP_ERRORS:
            raise ValueError(f"{code!r} is not in HTTP_ERRORS")
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers

    def response(self) -> ASGIResponse:
        """The JSON error response."""
        return error_response(self.code, self.detail, self.errors, self.headers)
