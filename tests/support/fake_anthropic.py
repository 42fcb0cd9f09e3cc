"""A loopback fake of the Anthropic Messages API, driven by scripts.

Served by :class:`~tests.support.fake_openai.ScriptedUpstream` at ``/v1/messages`` (so its base URL is
the server root, as the official SDK expects), checking ``x-api-key`` and ``anthropic-version`` and
validating each request body against the official SDK's request type.

``SCRIPTS`` holds every Anthropic stream the tests play; ``tests/e2e/test_llm_fakes_sdk.py`` feeds each
one through the official ``anthropic`` package, so the fake stays honest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from anthropic.types import message_create_params

from tests.support.fake_openai import HANG, Pause, Script, ScriptedUpstream, Step, json_script

API_KEY = "sk-ant-test-fake-0123456789abcdef"
MODEL = "claude-fake-1"
SIGNATURE = "EqQBCkgIAxABGAIiQFakeSignatureForTestsOnly0123456789abcdefABCDEF=="


def _error(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_fake"}


def _authorized(headers: dict[str, str]) -> bool:
    """The key as ``x-api-key`` (the API's documented header) or as a bearer token (newer SDKs), and a version."""
    key_ok = headers.get("x-api-key") == API_KEY or headers.get("authorization") == f"Bearer {API_KEY}"
    return key_ok and bool(headers.get("anthropic-version"))


def anthropic_upstream() -> ScriptedUpstream:
    """The fake at ``/v1/messages``; its base URL for clients is the server root."""
    return ScriptedUpstream(
        "/v1/messages",
        _authorized,
        message_create_params.MessageCreateParamsStreaming,
        _error,
    )


def event(kind: str, data: dict[str, Any]) -> bytes:
    """One ``event:``/``data:`` block."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, separators=(',', ':'))}\n\n".encode()


def message_start(input_tokens: int = 25, cache_read: int = 0, cache_write: int = 0) -> bytes:
    return event(
        "message_start",
        {
            "message": {
                "id": "msg_fake01",
                "type": "message",
                "role": "assistant",
                "content": [],
                "model": MODEL,
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": input_tokens,
                    "output_tokens": 1,
                    "cache_creation_input_tokens": cache_write,
                    "cache_read_input_tokens": cache_read,
                },
            }
        },
    )


PING = event("ping", {})


def block_start(index: int, block: dict[str, Any]) -> bytes:
    return event("content_block_start", {"index": index, "content_block": block})


def block_delta(index: int, delta: dict[str, Any]) -> bytes:
    return event("content_block_delta", {"index": index, "delta": delta})


def block_stop(index: int) -> bytes:
    return event("content_block_stop", {"index": index})


def message_delta(stop_reason: str, output_tokens: int = 15) -> bytes:
    return event(
        "message_delta",
        {"delta": {"stop_reason": stop_reason, "stop_sequence": None}, "usage": {"output_tokens": output_tokens}},
    )


MESSAGE_STOP = event("message_stop", {})


def text_block(index: int, pieces: Iterable[str]) -> list[Step]:
    return [
        block_start(index, {"type": "text", "text": ""}),
        *(block_delta(index, {"type": "text_delta", "text": p}) for p in pieces),
        block_stop(index),
    ]


def tool_block(index: int, call_id: str, name: str, fragments: Iterable[str]) -> list[Step]:
    return [
        block_start(index, {"type": "tool_use", "id": call_id, "name": name, "input": {}}),
        *(block_delta(index, {"type": "input_json_delta", "partial_json": f}) for f in fragments),
        block_stop(index),
    ]


def thinking_block(index: int, thoughts: Iterable[str], signature: str = SIGNATURE) -> list[Step]:
    return [
        block_start(index, {"type": "thinking", "thinking": "", "signature": ""}),
        *(block_delta(index, {"type": "thinking_delta", "thinking": t}) for t in thoughts),
        block_delta(index, {"type": "signature_delta", "signature": signature}),
        block_stop(index),
    ]


def _message(blocks: list[Step], stop_reason: str, **start: int) -> Script:
    return Script([message_start(**start), PING, *blocks, message_delta(stop_reason), MESSAGE_STOP])


def text(pieces: Iterable[str] = ("Hello", ", world", "!")) -> Script:
    """A plain answer, streamed in pieces, with usage (cache counts included)."""
    return _message(text_block(0, pieces), "end_turn", cache_read=10, cache_write=5)


def parallel_tool_calls() -> Script:
    """A sentence, then two ``tool_use`` blocks whose input arrives in fragments."""
    return _message(
        [
            *text_block(0, ["Checking both cities."]),
            *tool_block(1, "toolu_paris", "get_weather", ['{"ci', 'ty": "Par', 'is"}']),
            *tool_block(2, "toolu_rome", "get_weather", ['{"city":', ' "Rome"}']),
        ],
        "tool_use",
    )


def mixed_tool_calls() -> Script:
    """A backend tool (``get_weather``) and a frontend tool (``confirm``) called in one turn."""
    return _message(
        [
            *tool_block(0, "toolu_backend", "get_weather", ['{"city": "Paris"}']),
            *tool_block(1, "toolu_frontend", "confirm", ['{"action": "go"}']),
        ],
        "tool_use",
    )


def tool_call(name: str = "get_weather", arguments: str = '{"city": "Paris"}', call_id: str = "toolu_1") -> Script:
    """One ``tool_use`` block (the first turn of a tool loop)."""
    half = len(arguments) // 2
    return _message(tool_block(0, call_id, name, [arguments[:half], arguments[half:]]), "tool_use")


def thinking_then_tool(name: str = "confirm", arguments: str = '{"action": "book"}') -> Script:
    """Extended thinking, then a tool call: the signature must come back on the next request."""
    return _message(
        [*thinking_block(0, ["The user wants", " a booking."]), *tool_block(1, "toolu_think", name, [arguments])],
        "tool_use",
    )


def thinking(thoughts: Iterable[str] = ("Let me think", " about it."), answer: str = "42") -> Script:
    """A thinking block with its signature, then the answer."""
    return _message([*thinking_block(0, thoughts), *text_block(1, [answer])], "end_turn")


def redacted_thinking() -> Script:
    """A redacted thinking block, then the answer."""
    return _message(
        [
            block_start(
                0, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr"}
            ),
            block_stop(0),
            *text_block(1, ["Done."]),
        ],
        "end_turn",
    )


def stop(reason: str, pieces: Iterable[str] = ("Once upon a time",)) -> Script:
    """Text that ends with ``reason`` (``max_tokens``, ``stop_sequence``, ``refusal``...)."""
    return _message(text_block(0, pieces), reason)


def pause_turn() -> Script:
    """A server-tool turn the API paused: the client sends it back to let the model go on."""
    return _message(
        [
            *text_block(0, ["Searching."]),
            block_start(1, {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}),
            block_delta(1, {"type": "input_json_delta", "partial_json": '{"query": "weather"}'}),
            block_stop(1),
        ],
        "pause_turn",
    )


def truncated_tool_call() -> Script:
    """``max_tokens`` hits in the middle of a tool call's input."""
    return _message(tool_block(0, "toolu_cut", "get_weather", ['{"city": "Par']), "max_tokens")


def cut_off() -> Script:
    """The stream stops mid-answer: no ``message_delta``, no ``message_stop``."""
    return Script(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            block_delta(0, {"type": "text_delta", "text": "I was"}),
        ]
    )


def malformed() -> Script:
    """A ``data:`` line that is not JSON."""
    return Script([message_start(), b"event: content_block_start\ndata: {not json\n\n"])


def stream_error(kind: str = "overloaded_error") -> Script:
    """An ``error`` event inside the stream."""
    return Script([message_start(), PING, event("error", {"error": {"type": kind, "message": "Overloaded"}})])


def slow(seconds: float) -> Script:
    """Goes silent for ``seconds`` after ``message_start``."""
    return Script([message_start(), Pause(seconds), *text_block(0, ["late"]), message_delta("end_turn"), MESSAGE_STOP])


def hang_after_text() -> Script:
    """Streams one piece of text, then waits for the client to disconnect."""
    return Script(
        [
            message_start(),
            block_start(0, {"type": "text", "text": ""}),
            block_delta(0, {"type": "text_delta", "text": "Thinking"}),
            HANG,
        ]
    )


def unauthorized() -> Script:
    """HTTP 401."""
    return json_script(401, _error(401, "authentication_error", "invalid x-api-key"))


def rate_limited(retry_after: str = "7") -> Script:
    """HTTP 429 with ``retry-after``."""
    return json_script(
        429,
        _error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit."),
        {"retry-after": retry_after},
    )


def overloaded() -> Script:
    """HTTP 529."""
    return json_script(529, _error(529, "overloaded_error", "Overloaded"))


def context_too_long() -> Script:
    """HTTP 400 for a prompt over the context window."""
    return json_script(400, _error(400, "invalid_request_error", "prompt is too long: 210000 tokens > 200000 maximum"))


SCRIPTS: dict[str, Callable[[], Script]] = {
    "text": text,
    "parallel_tool_calls": parallel_tool_calls,
    "tool_call": tool_call,
    "mixed_tool_calls": mixed_tool_calls,
    "thinking_then_tool": thinking_then_tool,
    "thinking": thinking,
    "redacted_thinking": redacted_thinking,
    "stop_max_tokens": lambda: stop("max_tokens"),
    "stop_sequence": lambda: stop("stop_sequence"),
    "stop_refusal": lambda: stop("refusal"),
    "pause_turn": pause_turn,
    "truncated_tool_call": truncated_tool_call,
    "cut_off": cut_off,
    "malformed": malformed,
    "stream_error": stream_error,
    "slow": lambda: slow(0.3),
    "hang_after_text": hang_after_text,
    "unauthorized": unauthorized,
    "rate_limited": rate_limited,
    "overloaded": overloaded,
    "context_too_long": context_too_long,
}
"""Every Anthropic stream the tests play, by name (each one is also fed to the official SDK)."""
