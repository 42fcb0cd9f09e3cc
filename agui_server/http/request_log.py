"""One log line per request: method, path, caller, status and duration (until the last byte was sent).

The path is written with its control characters escaped, so a request cannot forge a log line; the caller
is its principal's id (never a credential).
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Final

from agui_server.http.auth import PRINCIPAL_STATE_KEY

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ("RequestLogMiddleware",)

logger = logging.getLogger("agui_server.http")


class RequestLogMiddleware:
    """ASGI middleware that logs each HTTP request once it has been answered."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # type: ignore[comparison-overlap]  # lifespan scopes pass through too
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            principal = (scope.get("state") or {}).get(PRINCIPAL_STATE_KEY)
            logger.info(
                "%s %s %s %d %.1fms",
                scope.get("method", "-"),
                _escaped(scope.get("path", "-")),
                _escaped(principal.id) if principal is not None else "-",
                status,
                (time.perf_counter() - started) * 1000,
            )


_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")


def _escaped(text: str) -> str:
    """``text`` with control characters written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
