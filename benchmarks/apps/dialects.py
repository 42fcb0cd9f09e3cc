"""Our server with ``POST /ag-ui`` in each dialect (a ``RunRoute`` at the same path replaces the built-in
route), serving the benchmark agent: ``uvicorn benchmarks.apps.dialects:<name>``; and AG-UI behind a static
bearer token (``ag_ui_auth``), to show what authentication costs a request."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from agui_server import AGUIConfig, create_app
from agui_server.dialects import ChatEvents, EventEnvelope, MessageEvents, ReaderExtras, RunRoute, ThreadMessages
from agui_server.http.auth import BearerTokens
from benchmarks.apps.agent import agent

if TYPE_CHECKING:
    from litestar import Litestar

    from agui_server.dialects import Dialect

__all__ = ("DIALECTS",)

DIALECTS: Final[dict[str, Dialect | None]] = {
    "ag_ui": None,
    "ag_ui_auth": None,
    "reader_extras": ReaderExtras(),
    "thread_messages": ThreadMessages(),
    "event_envelope": EventEnvelope(),
    "message_feed": MessageEvents(),
    "chat_events": ChatEvents(),
}
"""App attribute → the dialect of its ``POST /ag-ui`` (``None``: AG-UI itself)."""


def _app(dialect: Dialect | None) -> Litestar:
    routes = [] if dialect is None else [RunRoute("/ag-ui", dialect)]
    return create_app(AGUIConfig(agent=agent, log_requests=False, routes=routes))


ag_ui = _app(DIALECTS["ag_ui"])
BENCH_TOKEN: Final = "bench-token-0123456789"
"""The bearer token the benchmark client sends to ``ag_ui_auth``."""
ag_ui_auth = create_app(
    AGUIConfig(
        agent=agent,
        log_requests=False,
        auth=BearerTokens.parse(f"{BENCH_TOKEN} bench"),
        max_streams_per_principal=None,
        max_run_starts_per_minute=None,
    )
)
reader_extras = _app(DIALECTS["reader_extras"])
thread_messages = _app(DIALECTS["thread_messages"])
event_envelope = _app(DIALECTS["event_envelope"])
message_feed = _app(DIALECTS["message_feed"])
chat_events = _app(DIALECTS["chat_events"])
