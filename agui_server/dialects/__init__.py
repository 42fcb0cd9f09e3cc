"""Dialects: the same AG-UI runs in the wire shapes other clients read.

A dialect maps a run's AG-UI events to other frames (:mod:`agui_server.dialects.base`); routes that
speak it are mounted with :class:`~agui_server.dialects.routes.RunRoute` and
:class:`~agui_server.dialects.routes.FeedRoute` in ``AGUIConfig(routes=[...])``. The built-in dialects
(:mod:`agui_server.dialects.builtin`) serve the clients of the documents the product was described from.
"""

from __future__ import annotations

from agui_server.dialects.base import AGUIEvent, Dialect, Frame, StreamInfo, Translator
from agui_server.dialects.builtin import ChatEvents, EventEnvelope, MessageEvents, ReaderExtras, ThreadMessages
from agui_server.dialects.routes import (
    FeedRoute,
    InvalidRequest,
    RequestFields,
    RunRoute,
    chat_request,
    message_request,
    thread_field,
    turn_input,
)

__all__ = (
    "AGUIEvent",
    "ChatEvents",
    "Dialect",
    "EventEnvelope",
    "FeedRoute",
    "Frame",
    "InvalidRequest",
    "MessageEvents",
    "ReaderExtras",
    "RequestFields",
    "RunRoute",
    "StreamInfo",
    "ThreadMessages",
    "Translator",
    "chat_request",
    "message_request",
    "thread_field",
    "turn_input",
)
