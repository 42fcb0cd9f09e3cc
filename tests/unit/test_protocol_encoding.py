"""SSE framing and request-body decoding (``agui_server.protocol.encoding``).

PROTOCOL.md §8 item 1: each event is ``data: <compact JSON>\\n\\n`` with LF only, because ``\\r\\n`` framing
breaks the official TypeScript client. Request bodies that are not JSON are a 400, bodies that are JSON
but not a ``RunAgentInput`` are a 422 naming the offending field.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agui_server.protocol import events as ev
from agui_server.protocol.encoding import (
    KEEPALIVE_FRAME,
    SSE_MEDIA_TYPE,
    InputError,
    decode_input,
    encode_event,
    frame_payload,
    sse_frame,
    sse_retry_frame,
)

# --- framing ---------------------------------------------------------------------------------------


def test_sse_frame_is_id_then_data_then_a_blank_line() -> None:
    assert sse_frame(7, b'{"type":"RUN_ERROR","message":"x"}') == (
        b'data: {"type":"RUN_ERROR","message":"x"}\nid: 7\n\n'
    )


def test_sse_frame_with_an_event_line() -> None:
    assert sse_frame(1, b"{}", "message") == b"event: message\ndata: {}\nid: 1\n\n"


def test_sse_frame_without_an_id_is_a_data_line_alone() -> None:
    assert sse_frame(None, b"{}") == b"data: {}\n\n"
    assert sse_frame(None, b"{}", "token") == b"event: token\ndata: {}\n\n"


def test_frame_payload_is_the_data_line() -> None:
    assert frame_payload(sse_frame(3, b'{"a":1}')) == b'{"a":1}'
    assert frame_payload(sse_frame(3, b'{"a":1}', "X")) == b'{"a":1}'
    assert frame_payload(sse_frame(None, b'{"a":1}')) == b'{"a":1}'


def test_sse_frame_ids_count_up_as_given() -> None:
    assert sse_frame(0, b"{}").endswith(b"\nid: 0\n\n")
    assert sse_frame(123456789, b"{}").endswith(b"\nid: 123456789\n\n")


TRICKY_EVENTS = [
    ev.TextMessageContentEvent(message_id="m", delta="line one\r\nline two\rthree\nfour"),
    ev.TextMessageContentEvent(message_id="m", delta="\n\n"),
    ev.TextMessageContentEvent(message_id="m", delta="data: fake\n\nid: 99\n\n"),
    ev.TextMessageContentEvent(message_id="m", delta="unicode \u2028 \u2029 \u00e9 \U0001f600 \x00 \t"),
    ev.CustomEvent(name="x", value={"multi\nline key": "v\r\n"}),
    ev.StateSnapshotEvent(snapshot={"text": "a\r\nb"}),
]


@pytest.mark.parametrize("event", TRICKY_EVENTS, ids=lambda e: repr(e)[:40])
def test_frames_use_lf_only_and_one_blank_line(event: Any) -> None:
    payload = encode_event(event)
    frame = sse_frame(5, payload)
    assert b"\r" not in payload
    assert b"\n" not in payload  # compact JSON: newlines inside strings are escaped
    assert b"\r" not in frame
    assert frame.endswith(b"\n\n")
    assert frame.count(b"\n\n") == 1
    lines = frame[:-2].split(b"\n")
    assert lines == [b"data: " + payload, b"id: 5"]
    # And the payload comes back out of the frame intact.
    assert json.loads(lines[0][len(b"data: ") :]) == json.loads(payload)


def test_encoded_events_are_compact_json() -> None:
    payload = encode_event(ev.RunStartedEvent(thread_id="t", run_id="r"))
    assert payload == b'{"type":"RUN_STARTED","threadId":"t","runId":"r"}'


def test_keepalive_and_retry_frames() -> None:
    assert KEEPALIVE_FRAME == b": ping\n\n"
    assert sse_retry_frame(3000) == b"retry: 3000\n\n"
    assert b"\r" not in KEEPALIVE_FRAME + sse_retry_frame(1)
    assert SSE_MEDIA_TYPE == "text/event-stream"


# --- decode_input: 400 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"   \n\t", id="whitespace"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b'{"threadId": "t",}', id="trailing-comma"),
        pytest.param(b"not json", id="text"),
        pytest.param(b'{"threadId":"t","runId":"r","messages":[]} trailing', id="trailing-garbage"),
        pytest.param(b"\xff\xfe\x00\x00", id="binary"),
        pytest.param('{"threadId":"t","runId":"r","messages":[]}'.encode("utf-16"), id="utf-16"),
        pytest.param(b'{"threadId":"t\xff","runId":"r","messages":[]}', id="invalid-utf8-in-string"),
        pytest.param(b'{"threadId":"t\xc3","runId":"r","messages":[]}', id="truncated-utf8-in-string"),
        pytest.param(
            b'{"threadId":"t","runId":"r","messages":[],"state":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            id="nested-too-deeply",
        ),
    ],
)
def test_malformed_bodies_are_400(body: bytes) -> None:
    with pytest.raises(InputError) as caught:
        decode_input(body)
    assert caught.value.status == 400
    assert caught.value.field is None
    assert caught.value.message
    assert caught.value.as_dict() == {"message": caught.value.message}


def test_empty_body_says_so() -> None:
    with pytest.raises(InputError) as caught:
        decode_input(b"")
    assert "empty" in caught.value.message
    assert str(caught.value) == caught.value.message


# --- decode_input: 422 -----------------------------------------------------------------------------

VALID: dict[str, Any] = {"threadId": "t", "runId": "r", "messages": [{"id": "u", "role": "user", "content": "hi"}]}


def _with(**changes: Any) -> bytes:
    body = {**VALID, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not _DROP}).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(_with(threadId=1), "threadId", id="wrong-type-threadId"),
        pytest.param(_with(runId=None), "runId", id="null-runId"),
        pytest.param(_with(runId=_DROP), "runId", id="missing-runId"),
        pytest.param(_with(threadId=_DROP), "threadId", id="missing-threadId"),
        pytest.param(_with(messages=_DROP), "messages", id="missing-messages"),
        pytest.param(_with(messages={}), "messages", id="messages-not-a-list"),
        pytest.param(
            _with(messages=[{"id": "u", "role": "wizard", "content": "x"}]), "messages[0].role", id="unknown-role"
        ),
        pytest.param(_with(messages=[{"id": "u", "content": "x"}]), "messages[0].role", id="missing-role"),
        pytest.param(_with(messages=[{"id": "u", "role": "user"}]), "messages[0].content", id="missing-content"),
        pytest.param(_with(messages=[{"role": "user", "content": "x"}]), "messages[0].id", id="missing-message-id"),
        pytest.param(
            _with(messages=[VALID["messages"][0], {"id": "t", "role": "tool", "content": "x"}]),
            "messages[1].toolCallId",
            id="tool-missing-toolCallId",
        ),
        pytest.param(
            _with(messages=[{"id": "u", "role": "user", "content": [{"type": "image"}]}]),
            "messages[0].content[0].source",
            id="image-part-missing-source",
        ),
        pytest.param(_with(tools=[{"name": "f"}]), "tools[0].description", id="tool-missing-description"),
        pytest.param(_with(context=[{"description": "d"}]), "context[0].value", id="context-missing-value"),
        pytest.param(
            _with(resume=[{"interruptId": "i", "status": "maybe"}]), "resume[0].status", id="resume-bad-status"
        ),
    ],
)
def test_schema_violations_are_422_with_the_field_path(body: bytes, field: str) -> None:
    with pytest.raises(InputError) as caught:
        decode_input(body)
    assert caught.value.status == 422
    assert caught.value.field == field
    assert caught.value.message
    assert caught.value.as_dict() == {"message": caught.value.message, "field": field}


def test_wrong_type_message_names_the_types() -> None:
    with pytest.raises(InputError) as caught:
        decode_input(_with(threadId=1))
    assert caught.value.message == "Expected `str`, got `int`"


def test_missing_field_message_names_the_field() -> None:
    with pytest.raises(InputError) as caught:
        decode_input(_with(runId=_DROP))
    assert "runId" in caught.value.message


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null", b"true", b'[{"threadId":"t"}]'])
def test_non_object_body_is_422_without_a_field(body: bytes) -> None:
    with pytest.raises(InputError) as caught:
        decode_input(body)
    assert caught.value.status == 422
    assert caught.value.field is None
    assert "JSON object" in caught.value.message
    assert caught.value.as_dict() == {"message": caught.value.message}


def test_a_valid_body_decodes() -> None:
    decoded = decode_input(_with())
    assert (decoded.thread_id, decoded.run_id, len(decoded.messages)) == ("t", "r", 1)
