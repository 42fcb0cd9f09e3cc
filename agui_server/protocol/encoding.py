"""Turning events into bytes and request bodies into ``RunAgentInput``.

SSE frames are ``data: <json>\\nid: <seq>\\n\\n`` with ``\\n`` only: the official client splits the
stream on ``\\n\\n`` and fails on ``\\r\\n`` framing. The ``data:`` line comes first (the SSE format allows
any field order) so that the simplest hand-written readers, which keep the parts that start with
``data: ``, see every event; a named frame starts with its ``event:`` line. The JSON is compact (one
line), camelCase, with absent optionals left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec

from agui_server.protocol.events import Event
from agui_server.protocol.types import RunAgentInput

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = (
    "KEEPALIVE_FRAME",
    "SSE_HEADERS",
    "SSE_MEDIA_TYPE",
    "InputError",
    "decode_event",
    "decode_input",
    "encode_event",
    "encode_json",
    "frame_payload",
    "invalid_input",
    "sse_frame",
    "sse_retry_frame",
)

SSE_MEDIA_TYPE: Final = "text/event-stream"
SSE_HEADERS: Final[Mapping[str, str]] = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
KEEPALIVE_FRAME: Final = b": ping\n\n"

_encoder: Final = msgspec.json.Encoder()
_input_decoder: Final = msgspec.json.Decoder(RunAgentInput)
_event_decoder: Final = msgspec.json.Decoder(Event)

encode_json = _encoder.encode
"""Encode any msgspec-encodable value as compact JSON bytes."""


def encode_event(event: Event) -> bytes:
    """The compact JSON of one event."""
    return _encoder.encode(event)


def decode_event(data: bytes | str) -> Event:
    """Parse one event's JSON with the 1.0 model. Raises ``msgspec.ValidationError`` or ``DecodeError``."""
    return _event_decoder.decode(data)


def sse_frame(seq: int | None, payload: bytes, event_type: str | None = None) -> bytes:
    """One SSE frame: ``data:`` with ``payload`` (one line) first, then ``id: seq`` unless ``seq`` is
    ``None``. A named frame starts with its ``event:`` line instead, as hand-written readers of named
    events expect (they take the name, then the data that follows it)."""
    if event_type is None:
        if seq is None:
            return b"data: %s\n\n" % payload
        return b"data: %s\nid: %d\n\n" % (payload, seq)
    if seq is None:
        return b"event: %s\ndata: %s\n\n" % (event_type.encode(), payload)
    return b"event: %s\ndata: %s\nid: %d\n\n" % (event_type.encode(), payload, seq)


def frame_payload(frame: bytes) -> bytes:
    """The JSON of a frame made by :func:`sse_frame` (its one ``data:`` line)."""
    start = 6 if frame.startswith(b"data: ") else frame.index(b"\ndata: ") + 7
    return frame[start : frame.index(b"\n", start)]


def sse_retry_frame(milliseconds: int) -> bytes:
    """A frame that tells an ``EventSource`` how long to wait before it reconnects."""
    return b"retry: %d\n\n" % milliseconds


@dataclass(frozen=True, slots=True)
class InputError(Exception):
    """A request body that is not a valid ``RunAgentInput``.

    ``status`` is 400 for malformed JSON and 422 for a schema violation; ``field`` is the JSON path of
    the offending field (``messages[0].role``), or ``None`` when the body as a whole is at fault.
    """

    status: int
    message: str
    field: str | None = None

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        """The error as it goes into a JSON error body."""
        error: dict[str, Any] = {"message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return error


_AT_PATH: Final = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING: Final = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")


def _join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def invalid_input(exc: msgspec.ValidationError, what: str) -> InputError:
    """A msgspec validation error as a 422 :class:`InputError` naming the field (``what``: the body's kind)."""
    match = _AT_PATH.match(str(exc))
    assert match is not None  # the pattern matches any text
    message = match["message"]
    path = (match["path"] or "").lstrip(".")
    missing = _MISSING.match(message)
    if missing:
        path = _join_path(path, missing["name"])
    if not path and message.startswith("Expected `object`"):
        return InputError(422, f"The request body must be a JSON object ({what}).", None)
    if "matching regex" in message:
        message = "An id has no control characters (such as CR, LF or NUL) and no '/', and is not '.' or '..'."
    return InputError(422, message, path or None)


def decode_input(body: bytes) -> RunAgentInput:
    """Parse and validate a request body, raising :class:`InputError` with the failing field."""
    try:
        return _input_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise invalid_input(exc, "a RunAgentInput") from None
    except msgspec.DecodeError as exc:
        detail = str(exc)
        if not body.strip():
            detail = "The request body is empty; expected a RunAgentInput JSON object."
        elif not detail.startswith("JSON is malformed"):
            detail = f"JSON is malformed: {detail}"
        return _raise(400, detail, None)
    except RecursionError:
        return _raise(400, "JSON is nested too deeply.", None)
    except UnicodeDecodeError as exc:
        return _raise(400, f"The body is not valid UTF-8 (byte {exc.start} of a string).", None)


def _raise(status: int, message: str, field: str | None) -> RunAgentInput:
    raise InputError(status, message, field)
