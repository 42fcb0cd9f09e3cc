"""Provider failures as RUN_ERROR codes: statuses, in-stream errors, transport errors, retry hints, secrets."""

from __future__ import annotations

import email.utils
import json
import time

import httpx
import pytest

from agui_server.agents import errors
from agui_server.agents._llm_http import (
    RetryPolicy,
    error_for_status,
    error_for_stream_error,
    error_for_transport,
    redact,
    retry_after_seconds,
)


def _body(kind: str | None = None, code: str | None = None, message: str = "") -> bytes:
    return json.dumps({"error": {"type": kind, "code": code, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "code", "retryable"),
    [
        (
            401,
            _body("invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-abc***"),
            "UPSTREAM_AUTH_FAILED",
            False,
        ),
        (403, _body("permission_error"), "UPSTREAM_AUTH_FAILED", False),
        (429, _body("requests", "rate_limit_exceeded"), "UPSTREAM_RATE_LIMITED", True),
        (429, _body("insufficient_quota", "insufficient_quota"), "UPSTREAM_RATE_LIMITED", False),
        (400, _body("invalid_request_error", "context_length_exceeded"), "CONTEXT_TOO_LONG", False),
        (
            400,
            _body("invalid_request_error", None, "prompt is too long: 210000 tokens > 200000 maximum"),
            "CONTEXT_TOO_LONG",
            False,
        ),
        (400, b'{"error": "the request exceeds the available context size"}', "CONTEXT_TOO_LONG", False),
        (413, _body("request_too_large"), "CONTEXT_TOO_LONG", False),
        (400, _body("invalid_request_error", None, "temperature out of range"), "UPSTREAM_BAD_REQUEST", False),
        (404, _body("not_found_error"), "UPSTREAM_BAD_REQUEST", False),
        (500, b"<html>oops</html>", "UPSTREAM_UNAVAILABLE", True),
        (503, _body("server_error"), "UPSTREAM_UNAVAILABLE", True),
        (529, _body("overloaded_error"), "UPSTREAM_UNAVAILABLE", True),
    ],
)
def test_statuses_map_to_codes(status: int, body: bytes, code: str, retryable: bool) -> None:
    error = error_for_status(status, {}, body)
    assert error.code == code
    assert error.retryable is retryable
    assert f"HTTP {status}" in error.message
    assert "sk-abc" not in error.message
    assert "temperature" not in error.message
    assert "prompt is too long" not in error.message


def test_only_plain_labels_are_quoted() -> None:
    error = error_for_status(400, {}, _body("invalid_request_error", "sk-live-very-secret-key-0123 oops"))
    assert error.message == "The model provider refused the request (HTTP 400, invalid_request_error)."
    assert error_for_status(404, {}, b"nope").message.endswith("Check the model name and the base URL.")


def test_rate_limit_messages_carry_the_retry_hint() -> None:
    error = error_for_status(429, {"retry-after": "7"}, b"")
    assert error.retry_after == 7
    assert error.message == "The model provider is rate limiting requests (HTTP 429). Retry after 7 seconds."
    assert error_for_status(429, {"retry-after-ms": "1500"}, b"").message.endswith("Retry after 2 seconds.")
    assert error_for_status(429, {}, b"").message.endswith("Retry later.")
    assert error_for_status(429, {"retry-after": "1"}, b"").message.endswith("Retry after 1 second.")


def test_retry_after_forms() -> None:
    assert retry_after_seconds({"retry-after": "12"}) == 12
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "12"}) == 0.25
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < (retry_after_seconds({"retry-after": future}) or 0) <= 30
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


@pytest.mark.parametrize(
    ("label", "text", "code"),
    [
        ("overloaded_error", "Overloaded", "UPSTREAM_UNAVAILABLE"),
        ("api_error", "Internal error", "UPSTREAM_UNAVAILABLE"),
        ("rate_limit_error", "slow down", "UPSTREAM_RATE_LIMITED"),
        ("authentication_error", "bad key", "UPSTREAM_AUTH_FAILED"),
        ("invalid_request_error", "prompt is too long", "CONTEXT_TOO_LONG"),
        ("invalid_request_error", "bad image", "UPSTREAM_BAD_REQUEST"),
        ("request_too_large", "", "CONTEXT_TOO_LONG"),
        ("timeout_error", "", "UPSTREAM_TIMEOUT"),
        (None, "something", "UPSTREAM_UNAVAILABLE"),
    ],
)
def test_in_stream_errors_map_to_codes(label: str | None, text: str, code: str) -> None:
    error = error_for_stream_error(label, text)
    assert error.code == code
    assert text not in error.message or not text


def test_transport_errors_map_to_codes() -> None:
    request = httpx.Request("POST", "http://x")
    cases = [
        (httpx.ConnectTimeout("t", request=request), "UPSTREAM_TIMEOUT", "Connecting"),
        (httpx.ReadTimeout("t", request=request), "UPSTREAM_TIMEOUT", "sent nothing for 30 seconds"),
        (httpx.ConnectError("refused", request=request), "UPSTREAM_UNAVAILABLE", "Could not connect"),
        (httpx.RemoteProtocolError("peer closed", request=request), "UPSTREAM_UNAVAILABLE", "broke off"),
    ]
    for exc, code, phrase in cases:
        error = error_for_transport(exc, connect_timeout=5, read_timeout=30)
        assert (error.code, error.retryable) == (code, True)
        assert phrase in error.message


def test_redact_hides_keys() -> None:
    assert redact("key sk-proj-abcdefgh1234 and mine", ["mine-secret"]) == "key sk-*** and mine"
    assert redact("token mine-secret here", ["mine-secret"]) == "token *** here"


def test_retry_policy() -> None:
    policy = RetryPolicy(max_retries=2, backoff=0.1, max_wait=5)
    retryable = errors.UpstreamError("X", "x", retryable=True)
    assert 0.05 <= (policy.delay(0, retryable) or 0) <= 0.1
    assert 0.1 <= (policy.delay(1, retryable) or 0) <= 0.2
    assert policy.delay(2, retryable) is None
    assert policy.delay(0, errors.UpstreamError("X", "x")) is None
    assert policy.delay(0, errors.UpstreamError("X", "x", retryable=True, retry_after=3)) == 3
    assert policy.delay(0, errors.UpstreamError("X", "x", retryable=True, retry_after=60)) is None


def test_codes_are_stable_strings() -> None:
    assert errors.LLM_ERROR_CODES == (
        "UPSTREAM_AUTH_FAILED",
        "UPSTREAM_RATE_LIMITED",
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_TIMEOUT",
        "UPSTREAM_MALFORMED_STREAM",
        "UPSTREAM_BAD_REQUEST",
        "CONTEXT_TOO_LONG",
        "OUTPUT_TRUNCATED",
        "CONTENT_FILTERED",
        "TOOL_TURNS_EXCEEDED",
        "TOOL_ARGUMENTS_INVALID",
        "UNSUPPORTED_CONTENT",
    )


@pytest.mark.parametrize(
    "body",
    [
        _body("invalid_request_error", "sk-live-0123456789abcdef"),
        _body("sk-live-0123456789abcdef", None),
        _body(None, "sk-live-0123456789abcdef"),
        _body("key_sk-live-0123456789abcdef", "also_sk-live-0123456789abcdef"),
        b'{"type": "sk-live-0123456789abcdef"}',
    ],
)
@pytest.mark.parametrize("status", [400, 401, 404, 429, 500])
def test_an_upstream_label_that_echoes_a_key_never_reaches_the_message(body: bytes, status: int) -> None:
    message = error_for_status(status, {}, body).message
    assert "0123456789abcdef" not in message


def test_a_stream_error_label_is_shown_only_when_it_is_a_known_code() -> None:
    assert "sk-live-0123456789abcdef" not in error_for_stream_error("sk-live-0123456789abcdef", "x").message
    assert "(overloaded_error)" in error_for_stream_error("overloaded_error", "x").message


@pytest.mark.parametrize("status", [408, 504, 524])
def test_a_timeout_status_is_upstream_timeout_and_retryable(status: int) -> None:
    error = error_for_status(status, {}, b"")
    assert error.code == "UPSTREAM_TIMEOUT"
    assert error.retryable


def test_a_known_type_is_named_when_the_code_is_a_bare_number() -> None:
    message = error_for_status(400, {}, _body("invalid_request_error", "400", "bad")).message
    assert "(HTTP 400, invalid_request_error)" in message
    assert "400, 400" not in message
