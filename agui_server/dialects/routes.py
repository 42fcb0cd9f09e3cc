"""Routes that speak a dialect, declared in ``AGUIConfig(routes=[...])`` and mounted by the plugin.

.. code-block:: python

    from agui_server import AGUIConfig, AGUIPlugin
    from agui_server.dialects import ChatEvents, FeedRoute, MessageEvents, RunRoute, chat_request

    AGUIConfig(routes=[
        RunRoute("/api/chat/stream", ChatEvents(), request=chat_request, methods=("GET", "POST")),
        FeedRoute("/events", MessageEvents(), scope="server"),
    ])

Every route goes through the same runs as ``POST /ag-ui``: admission, one run per thread, disconnect
policies, resume, threads and the Redis backend work alike in every dialect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agui_server.protocol.types import MAX_ID_LENGTH, RunAgentInput, UserMessage, is_valid_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from agui_server.dialects.base import Dialect

__all__ = (
    "FeedRoute",
    "InvalidRequest",
    "RequestFields",
    "RunRoute",
    "chat_request",
    "message_request",
    "thread_field",
    "turn_input",
)

RequestFields = dict[str, Any]
"""What a route's request mapping gets: the JSON body's object (POST) or the query parameters (GET)."""


class InvalidRequest(Exception):
    """A request mapping's answer to fields it cannot use: 422 ``INVALID_INPUT`` naming ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class RunRoute:
    """Start a run per request and stream it in ``dialect``.

    ``path`` may hold ``{agent_id}``; otherwise the run goes to ``agent_id`` (default: the default agent).
    ``request`` maps the JSON body (POST) or the query (GET) to a ``RunAgentInput``; without it the POST
    body is a ``RunAgentInput`` itself. A ``GET`` stream answers frames whose ids name the run, so an
    ``EventSource`` that reconnects with ``Last-Event-ID`` resumes that run (204 once it is over) instead of
    starting another.
    """

    path: str
    dialect: Dialect | None = None
    """``None``: AG-UI."""
    request: Callable[[RequestFields], RunAgentInput] | None = None
    methods: tuple[Literal["GET", "POST"], ...] = ("POST",)
    agent_id: str | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"a route's path must start with '/', got {self.path!r}")
        if not self.methods or set(self.methods) - {"GET", "POST"}:
            raise ValueError(f"a run route answers GET and/or POST, got {self.methods!r}")
        if "GET" in self.methods and self.request is None:
            raise ValueError("a GET run route needs a request mapping (the query is no RunAgentInput)")


@dataclass(frozen=True, slots=True)
class FeedRoute:
    """Follow runs as they happen, for ``EventSource``: every run of the ``server``, of an ``agent`` (the
    path's ``{agent_id}``, or ``agent_id``), or of a ``thread`` (the ``thread_id`` query parameter).
    ``Last-Event-ID`` resumes; without it a feed starts now (a thread's feed: at its latest run's start
    when that run is running or just ended)."""

    path: str
    dialect: Dialect | None = None
    scope: Literal["server", "agent", "thread"] = "server"
    agent_id: str | None = None

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"a route's path must start with '/', got {self.path!r}")
        if self.scope not in ("server", "agent", "thread"):
            raise ValueError(f"a feed's scope is server, agent or thread, got {self.scope!r}")


def turn_input(
    thread_id: str | None, text: str, *, forwarded_props: Any = None, protocol_version: str = "1.0"
) -> RunAgentInput:
    """A one-message turn on a thread (a new thread when ``thread_id`` is ``None``), with fresh ids: the
    thread's stored history is merged in when the run starts."""
    return RunAgentInput(
        thread_id=thread_id or f"thread-{uuid.uuid4().hex}",
        run_id=f"run-{uuid.uuid4().hex}",
        messages=[UserMessage(id=f"msg-{uuid.uuid4().hex}", content=text)],
        forwarded_props=forwarded_props,
        protocol_version=protocol_version,
    )


def thread_field(fields: RequestFields, *names: str) -> str | None:
    """The thread id under the first of ``names`` present (``None``: none is), checked as an id.

    Raises:
        InvalidRequest: it is not a string of 1 to 256 characters without control characters.
    """
    for name in names:
        value = fields.get(name)
        if value is None:
            continue
        if not is_valid_id(value):
            raise InvalidRequest(
                name, f"{name} must be 1 to {MAX_ID_LENGTH} characters without control characters or '/'"
            )
        return str(value)
    return None


def message_request(fields: RequestFields) -> RunAgentInput:
    """``{message, threadId?}`` (or ``thread_id``), a JSON body or a query: one user message on a thread
    (a new thread when absent)."""
    message = fields.get("message")
    if not isinstance(message, str) or not message:
        raise InvalidRequest("message", "message is required: the user's text")
    return turn_input(thread_field(fields, "threadId", "thread_id"), message)


def _flag(fields: RequestFields, name: str, default: bool) -> bool:
    value = fields.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise InvalidRequest(name, f"{name} must be true or false, got {value!r}")


def chat_request(fields: RequestFields) -> RunAgentInput:
    """``{message, sessionId?, enableTools?}`` (a JSON body or a query): ``message`` is the user's text,
    ``sessionId`` the thread (its history is kept; a new one when absent), ``enableTools`` (default true)
    goes to the agent as ``forwardedProps.enableTools``."""
    message = fields.get("message")
    if not isinstance(message, str) or not message:
        raise InvalidRequest("message", "message is required: the user's text")
    session = thread_field(fields, "sessionId")
    enable_tools = _flag(fields, "enableTools", True)
    return turn_input(session, message, forwarded_props={"enableTools": enable_tools})
