"""The built-in dialects: the wire shapes of the clients people already run.

=====================  ==========================================================================
dialect                what its clients read
=====================  ==========================================================================
:class:`ReaderExtras`  AG-UI, plus ``finalContent`` on ``TEXT_MESSAGE_END`` and an ``ERROR`` event
                       (``message``) beside ``RUN_ERROR``, for hand-written readers that expect them
:class:`ThreadMessages` AG-UI events named by type (``event: TEXT_MESSAGE_CONTENT`` …), plus one
                       unnamed frame per assistant message, ``{agent_id, thread_id, message}``, for an
                       ``EventSource``'s ``onmessage``
:class:`EventEnvelope` data-only frames ``{"event_type", "payload"}``: ``worker_ack``,
                       ``AgentThoughtStream``, ``AgentToolCallStart``, ``FinalAnswerStream``,
                       ``FinalAnswerStreamEnd``, ``error``
:class:`MessageEvents`   ``event: message`` (or ``agent_message``) frames with the whole text of each
                       assistant message, and ``event: complete`` when a run ends
:class:`ChatEvents`    named events ``token``, ``tool_call``, ``tool_progress``, ``tool_result``,
                       ``done``, ``error``
=====================  ==========================================================================
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.dialects.base import Frame

if TYPE_CHECKING:
    from agui_server.dialects.base import AGUIEvent, StreamInfo

__all__ = ("AGUIDialect", "ChatEvents", "EventEnvelope", "MessageEvents", "ReaderExtras", "ThreadMessages")

_NOTHING: Final[list[Frame]] = []


class _Texts:
    """The text of each message so far, by message id (joined once, at the end)."""

    __slots__ = ("_pieces", "_roles")

    def __init__(self) -> None:
        self._pieces: dict[str, list[str]] = {}
        self._roles: dict[str, str] = {}

    def add(self, event: AGUIEvent) -> None:
        if event.type in ("TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CHUNK"):
            delta = event.fields.get("delta")
            if isinstance(delta, str):
                self._pieces.setdefault(str(event.fields.get("messageId")), []).append(delta)
        elif event.type == "TEXT_MESSAGE_START":
            self._roles[str(event.fields.get("messageId"))] = str(event.fields.get("role", "assistant"))

    def pop(self, message_id: Any) -> str:
        self._roles.pop(str(message_id), None)
        return "".join(self._pieces.pop(str(message_id), ()))

    def reply(self, event: AGUIEvent) -> tuple[str, str] | None:
        """After :meth:`add`: ``(message id, whole text)`` when ``event`` ends an assistant message."""
        if event.type != "TEXT_MESSAGE_END":
            return None
        message_id = str(event.fields.get("messageId"))
        role = self._roles.get(message_id, "assistant")
        text = self.pop(message_id)
        return (message_id, text) if role == "assistant" else None


def _error_message(event: AGUIEvent) -> str:
    return str(event.fields.get("message") or "The run failed.")


# -- AG-UI ------------------------------------------------------------------------------------------------


class AGUIDialect:
    """AG-UI itself, event for event (used where frames need ids of another form, e.g. a GET stream's)."""

    name = "ag-ui"
    ids = True

    def translator(self, stream: StreamInfo) -> _AGUITranslator:
        """A fresh translator."""
        return _AGUITranslator()


class _AGUITranslator:
    __slots__ = ()

    def translate(self, event: AGUIEvent) -> list[Frame]:
        return [Frame(event.json)]


# -- AG-UI with extras for hand-written readers -------------------------------------------------------------


class ReaderExtras:
    """AG-UI as it is, plus what some hand-written readers look for: ``finalContent`` (the message's whole
    text) on ``TEXT_MESSAGE_END`` and an ``{"type": "ERROR", "message", "code"}`` event right after each
    ``RUN_ERROR``. Strict AG-UI clients ignore neither gracefully, so this is opt-in
    (``AGUIConfig(reader_extras=True)``)."""

    name = "ag-ui+reader-extras"
    ids = True

    def translator(self, stream: StreamInfo) -> _ReaderExtrasTranslator:
        """A fresh translator."""
        return _ReaderExtrasTranslator()


class _ReaderExtrasTranslator:
    __slots__ = ("_texts",)

    def __init__(self) -> None:
        self._texts = _Texts()

    def translate(self, event: AGUIEvent) -> list[Frame]:
        self._texts.add(event)
        if event.type == "TEXT_MESSAGE_END":
            return [Frame({**event.fields, "finalContent": self._texts.pop(event.fields.get("messageId"))})]
        if event.type == "RUN_ERROR":
            error: dict[str, Any] = {"type": "ERROR", "message": _error_message(event)}
            if "code" in event.fields:
                error["code"] = event.fields["code"]
            return [Frame(event.json), Frame(error)]
        return [Frame(event.json)]


# -- a thread's events for EventSource.onmessage ----------------------------------------------------------------


class ThreadMessages:
    """Every AG-UI event as a named frame (``event: <TYPE>``, for ``addEventListener``), plus an unnamed
    frame ``{"agent_id", "thread_id", "message"}`` with the whole text of each assistant message when it
    ends (for ``onmessage``), and ``{"agent_id", "thread_id", "error"}`` when a run fails."""

    name = "thread-messages"
    ids = True

    def translator(self, stream: StreamInfo) -> _ThreadMessagesTranslator:
        """A fresh translator."""
        return _ThreadMessagesTranslator(stream)


class _ThreadMessagesTranslator:
    __slots__ = ("_stream", "_texts")

    def __init__(self, stream: StreamInfo) -> None:
        self._stream = stream
        self._texts = _Texts()

    def translate(self, event: AGUIEvent) -> list[Frame]:
        named = Frame(event.json, event.type)
        self._texts.add(event)
        reply = self._texts.reply(event)
        if reply is not None:
            return [named, Frame(self._about({"message": reply[1]}))]
        if event.type == "RUN_ERROR":
            return [named, Frame(self._about({"error": _error_message(event), "code": event.fields.get("code")}))]
        return [named]

    def _about(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"agent_id": self._stream.agent_id, "thread_id": self._stream.thread_id, **body}


# -- the {event_type, payload} envelope ---------------------------------------------------------------------------


class EventEnvelope:
    """Frames of one ``data:`` line each, no ``id:``, carrying ``{"event_type", "payload"}``:

    ==========================  =====================================================
    AG-UI                       envelope
    ==========================  =====================================================
    ``RUN_STARTED``             ``worker_ack`` ``{run_id, thread_id}`` (a worker has taken the run)
    reasoning text              ``AgentThoughtStream`` ``{char}``
    ``TOOL_CALL_START``         ``AgentToolCallStart`` ``{tool_name, tool_call_id}``
    ``TOOL_CALL_RESULT``        ``AgentToolCallResult`` ``{tool_call_id, content}``
    assistant text              ``FinalAnswerStream`` ``{char}``
    ``RUN_FINISHED``            ``FinalAnswerStreamEnd`` ``{run_id, thread_id}``
    ``RUN_ERROR``               ``error`` ``{error, code}``
    ``CUSTOM``                  ``<name>`` with the value as the payload
    ==========================  =====================================================

    Readers that split the stream on blank lines and parse everything after ``data: `` as JSON need the
    data line alone, so this dialect has no ids (its clients start a run with each POST; they do not
    resume)."""

    name = "event-envelope"
    ids = False

    def translator(self, stream: StreamInfo) -> _EnvelopeTranslator:
        """A fresh translator."""
        return _EnvelopeTranslator()


def _envelope(event_type: str, payload: dict[str, Any]) -> list[Frame]:
    return [Frame({"event_type": event_type, "payload": payload})]


class _EnvelopeTranslator:
    __slots__ = ()

    def translate(self, event: AGUIEvent) -> list[Frame]:
        fields = event.fields
        kind = event.type
        if kind in ("TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CHUNK"):
            return _envelope("FinalAnswerStream", {"char": fields.get("delta", "")})
        if kind in ("REASONING_MESSAGE_CONTENT", "REASONING_MESSAGE_CHUNK"):
            return _envelope("AgentThoughtStream", {"char": fields.get("delta", "")})
        if kind == "TOOL_CALL_START":
            return _envelope(
                "AgentToolCallStart",
                {"tool_name": fields.get("toolCallName"), "tool_call_id": fields.get("toolCallId")},
            )
        if kind == "TOOL_CALL_RESULT":
            return _envelope(
                "AgentToolCallResult", {"tool_call_id": fields.get("toolCallId"), "content": fields.get("content")}
            )
        if kind == "RUN_STARTED":
            return _envelope("worker_ack", {"run_id": fields.get("runId"), "thread_id": fields.get("threadId")})
        if kind == "RUN_FINISHED":
            return _envelope(
                "FinalAnswerStreamEnd", {"run_id": fields.get("runId"), "thread_id": fields.get("threadId")}
            )
        if kind == "RUN_ERROR":
            return _envelope("error", {"error": _error_message(event), "code": fields.get("code")})
        if kind == "CUSTOM":  # what an outside worker published under a name of its own (runs/redis/bridge.py)
            value = fields.get("value")
            return _envelope(str(fields.get("name")), value if isinstance(value, dict) else {"value": value})
        return _NOTHING


# -- whole messages and a complete event for EventSource feeds ------------------------------------------------------


def _iso(milliseconds: Any) -> str:
    moment = (
        datetime.datetime.fromtimestamp(milliseconds / 1000, datetime.UTC)
        if isinstance(milliseconds, int)
        else datetime.datetime.now(datetime.UTC)
    )
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class MessageEvents:
    """For ``EventSource`` feeds: ``event: message`` ``{message, message_id, timestamp}`` with the whole
    text of each assistant message (``event: agent_message`` with ``agent_id`` on an agent's feed), and
    ``event: complete`` ``{thread_id, run_id, outcome}`` (plus ``error`` and ``code`` when it failed) when
    a run ends."""

    name = "message-events"
    ids = True

    def translator(self, stream: StreamInfo) -> _MessageEventsTranslator:
        """A fresh translator."""
        return _MessageEventsTranslator(stream)


class _MessageEventsTranslator:
    __slots__ = ("_stream", "_texts")

    def __init__(self, stream: StreamInfo) -> None:
        self._stream = stream
        self._texts = _Texts()

    def translate(self, event: AGUIEvent) -> list[Frame]:
        fields = event.fields
        self._texts.add(event)
        kind = event.type
        reply = self._texts.reply(event)
        if reply is not None:
            message_id, text = reply
            body = {"message": text, "message_id": message_id, "timestamp": _iso(fields.get("timestamp"))}
            if self._stream.scope == "agent":
                return [Frame({"agent_id": self._stream.agent_id, **body}, "agent_message")]
            return [Frame(body, "message")]
        if kind in ("RUN_FINISHED", "RUN_ERROR"):
            done: dict[str, Any] = {"thread_id": fields.get("threadId"), "run_id": fields.get("runId")}
            if kind == "RUN_ERROR":
                done.update(outcome="error", error=_error_message(event), code=fields.get("code"))
            else:
                outcome = fields.get("outcome")
                done["outcome"] = outcome.get("type", "success") if isinstance(outcome, dict) else "success"
            if self._stream.agent_id is not None:
                done["agent_id"] = self._stream.agent_id
            return [Frame(done, "complete")]
        return _NOTHING


# -- chat events: token, tool_call, tool_progress, tool_result, done, error -------------------------------------


class ChatEvents:
    """Named events for chat UIs:

    ================  ========================================================================
    ``token``         ``{content}``: a piece of the assistant's text
    ``tool_call``     ``{tool, args}``: a tool call, once its arguments are complete
    ``tool_progress`` ``{tool, message}``: a backend tool's progress (``ToolContext.progress``)
    ``tool_result``   ``{tool, result}``
    ``done``          ``{message: "complete", sessionId, historyLength}``: the run ended; the session
                      (thread) now holds ``historyLength`` messages (user, assistant and tool)
    ``error``         ``{code, message}``
    ================  ========================================================================
    """

    name = "chat-events"
    ids = True

    def translator(self, stream: StreamInfo) -> _ChatTranslator:
        """A fresh translator."""
        return _ChatTranslator(stream)


_CONVERSATION_ROLES: Final = frozenset({"user", "assistant", "tool", "system", "developer"})


class _ChatTranslator:
    __slots__ = ("_args", "_messages", "_stream", "_tools")

    def __init__(self, stream: StreamInfo) -> None:
        self._stream = stream
        history = stream.input.messages if stream.input is not None else []
        self._messages = {m.id for m in history if m.__struct_config__.tag in _CONVERSATION_ROLES}
        self._tools: dict[str, str] = {}
        self._args: dict[str, list[str]] = {}

    def translate(self, event: AGUIEvent) -> list[Frame]:
        fields = event.fields
        kind = event.type
        if kind in ("TEXT_MESSAGE_CONTENT", "TEXT_MESSAGE_CHUNK"):
            return [Frame({"content": fields.get("delta", "")}, "token")]
        if kind == "TEXT_MESSAGE_START":
            self._messages.add(str(fields.get("messageId")))
        elif kind == "TOOL_CALL_START":
            call_id = str(fields.get("toolCallId"))
            self._tools[call_id] = str(fields.get("toolCallName"))
            self._args[call_id] = []
            self._messages.add(str(fields.get("parentMessageId") or f"call:{call_id}"))
        elif kind == "TOOL_CALL_ARGS":
            self._args.setdefault(str(fields.get("toolCallId")), []).append(str(fields.get("delta", "")))
        elif kind == "TOOL_CALL_END":
            call_id = str(fields.get("toolCallId"))
            text = "".join(self._args.pop(call_id, ()))
            try:
                args: Any = msgspec.json.decode(text) if text else {}
            except msgspec.DecodeError:
                args = text
            return [Frame({"tool": self._tools.get(call_id), "args": args}, "tool_call")]
        elif kind == "ACTIVITY_SNAPSHOT":
            content = fields.get("content")
            if isinstance(content, dict) and "message" in content:
                tool = content.get("toolName") or self._tools.get(str(content.get("toolCallId")))
                return [Frame({"tool": tool, "message": content["message"]}, "tool_progress")]
        elif kind == "TOOL_CALL_RESULT":
            self._messages.add(str(fields.get("messageId")))
            tool = self._tools.get(str(fields.get("toolCallId")))
            return [Frame({"tool": tool, "result": fields.get("content")}, "tool_result")]
        elif kind == "RUN_FINISHED":
            done = {"message": "complete", "sessionId": self._stream.thread_id, "historyLength": len(self._messages)}
            return [Frame(done, "done")]
        elif kind == "RUN_ERROR":
            return [Frame({"code": fields.get("code") or "AGENT_ERROR", "message": _error_message(event)}, "error")]
        return _NOTHING
