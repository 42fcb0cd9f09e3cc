"""The three servers under test, each an ASGI app in its own module so a server process imports only its own.

- ``ceiling``: a raw ASGI callable writing pre-encoded frames: the most a Python ASGI server can do.
- ``ours``: ``agui_server.create_app`` serving an async generator agent.
- ``sdk``: how most Python peers serve AG-UI today: ``ag-ui-protocol``'s ``EventEncoder`` behind a
  Starlette ``StreamingResponse``.
"""

from __future__ import annotations

from typing import Final

APPS: Final = {
    "ceiling": "benchmarks.apps.ceiling:app",
    "ours": "benchmarks.apps.ours:app",
    "sdk": "benchmarks.apps.sdk:app",
}
"""Server name → the ``module:attribute`` uvicorn imports."""

SERVERS: Final = tuple(APPS)
