"""The probes judge a refusal and, for valid but demanding requests, a whole run alike."""

from __future__ import annotations

import httpx

from conformance.probes import PROBES, _judge

DEEP = next(p for p in PROBES if p.rule == "probe.deep-nesting")
WRONG_TYPES = next(p for p in PROBES if p.rule == "probe.wrong-types")
RUN = (
    b'data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n'
    b'data: {"type":"RUN_FINISHED","threadId":"t","runId":"r"}\n\n'
)


def response(status: int, body: bytes, content_type: str) -> httpx.Response:
    return httpx.Response(status, content=body, headers={"content-type": content_type})


def test_a_deeply_nested_but_valid_request_may_run_to_its_end() -> None:
    assert _judge(DEEP, response(200, RUN, "text/event-stream")) is None
    assert _judge(DEEP, response(400, b'{"code":"INVALID_JSON"}', "application/json")) is None


def test_a_run_without_its_end_or_with_a_trace_still_fails() -> None:
    assert _judge(DEEP, response(200, RUN.split(b"\n\n")[0], "text/event-stream")) is not None
    assert _judge(DEEP, response(200, RUN + b"Traceback (most recent call last)", "text/event-stream")) is not None
    assert _judge(DEEP, response(500, b"{}", "application/json")) is not None


def test_an_invalid_request_must_still_be_refused() -> None:
    assert _judge(WRONG_TYPES, response(200, RUN, "text/event-stream")) is not None
