"""JSON error responses sent before a stream starts.

Every error body has the same shape::

    {"status_code": 422, "code": "INVALID_INPUT", "detail": "...",
     "errors": [{"field": "messages[0].role", "message": "Invalid value 'bogus'"}]}

``status_code`` and ``detail`` are the keys Litestar uses for its own errors (404, 405), so a client
can read every error of the server the same way.
"""

from __future__ import annotations

from typing import Any, Final

from litestar.response.base import ASGIResponse

from agui_server.protocol.encoding import encode_json

__all__ = ("error_response",)

_JSON: Final = "application/json"


def error_response(
    status: int,
    code: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ASGIResponse:
    """A JSON error response."""
    body: dict[str, Any] = {"status_code": status, "code": code, "detail": detail}
    if errors:
        body["errors"] = errors
    return ASGIResponse(body=encode_json(body), status_code=status, media_type=_JSON, headers=headers)
