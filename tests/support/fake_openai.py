"""A loopback fake of the OpenAI Chat Completions API, driven by scripts; and the scripted server itself.

:class:`ScriptedUpstream` is a raw ASGI app (served with ``running_server``) that answers each POST with
the next queued :class:`Script`: a status, headers and body steps (bytes, pauses, or a hang that waits
for the client to go away and records when it did). It checks what a real provider checks first (the
path, the key) and validates every request body against the official SDK's own request types, so a
request the real API would refuse is refused here too (``validation_errors``).

``SCRIPTS`` holds every OpenAI stream the tests play; ``tests/e2e/test_llm_fakes_sdk.py`` feeds each one
through the official ``openai`` package, so the fake stays honest.

:func:`run_guarded` runs an agent under the strict guard and checks every event it produced against a
strict ordering machine and the official ``ag-ui-protocol`` models (shared by all the LLM tests).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ag_ui import core as sdk
from openai.types.chat import completion_create_params
from pydantic import TypeAdapter, ValidationError

from agui_server.agents.base import RunContext
from agui_server.protocol.compat import is_legacy_client
from agui_server.protocol.encoding import decode_event, decode_input
from agui_server.protocol.ordering import OrderingMachine
from agui_server.runs.guard import Guard

API_KEY = "sk-test-fake-0123456789abcdef"
MODEL = "gpt-fake-1"


# --- the scripted server (shared with fake_anthropic) ----------------------------------------------


@dataclass(frozen=True)
class Pause:
    """Wait this many seconds before the next step."""

    seconds: float


@dataclass(frozen=True)
class Hang:
    """Send nothing more; wait until the client goes away and record when."""


HANG = Hang()

Step = bytes | Pause | Hang


@dataclass
class Script:
    """One scripted response."""

    steps: list[Step]
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/event-stream"})


@dataclass
class Recorded:
    """A request the fake received."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def _deep_list(value: Any) -> Any:
    """Consume pydantic's lazy iterables so that every nested item is validated."""
    if isinstance(value, dict):
        return {k: _deep_list(v) for k, v in value.items()}
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, list | tuple) or hasattr(value, "__iter__"):
        return [_deep_list(v) for v in value]
    return value


class ScriptedUpstream:
    """An ASGI app playing :class:`Script` objects, one per request, in order.

    Args:
        path: the only path it serves (others get 404, as from the real API).
        authorized: tells whether the request's headers carry the right key.
        request_type: the official SDK's type for the request body; bodies are validated against it.
        error_body: builds the provider's JSON error body from ``(status, type, message)``.
    """

    def __init__(
        self,
        path: str,
        authorized: Callable[[dict[str, str]], bool],
        request_type: Any,
        error_body: Callable[[int, str, str], dict[str, Any]],
    ) -> None:
        self.path = path
        self._authorized = authorized
        self._adapter: TypeAdapter[Any] = TypeAdapter(request_type)
        self._error_body = error_body
        self.scripts: deque[Script] = deque()
        self.requests: list[Recorded] = []
        self.validation_errors: list[str] = []
        self.disconnect_times: list[float] = []
        self.disconnected = asyncio.Event()
        self.active = 0
        """Responses being written right now."""

    def add(self, *scripts: Script) -> ScriptedUpstream:
        """Queue scripts for the next requests."""
        self.scripts.extend(scripts)
        return self

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        self.active += 1
        try:
            await self._serve(scope, receive, send)
        finally:
            self.active -= 1

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if scope["method"] != "POST" or scope["path"] != self.path:
            await self._json(send, 404, self._error_body(404, "not_found_error", "Not found"))
            return
        if not self._authorized(headers):
            await self._json(send, 401, self._error_body(401, "authentication_error", "invalid x-api-key"))
            return
        try:
            parsed = json.loads(body)
            _deep_list(self._adapter.validate_python(parsed))
        except (ValueError, ValidationError) as exc:
            self.validation_errors.append(str(exc))
            await self._json(send, 400, self._error_body(400, "invalid_request_error", "invalid request"))
            return
        self.requests.append(Recorded(scope["path"], headers, parsed))
        if not self.scripts:
            await self._json(send, 500, self._error_body(500, "api_error", "the test queued no script"))
            return
        await self._play(self.scripts.popleft(), send, receive)

    async def _play(self, script: Script, send: Any, receive: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": script.status,
                "headers": [(k.encode(), v.encode()) for k, v in script.headers.items()],
            }
        )
        for step in script.steps:
            if isinstance(step, Pause | Hang):
                timeout = step.seconds if isinstance(step, Pause) else None
                try:
                    await asyncio.wait_for(self._client_gone(receive), timeout)
                except TimeoutError:
                    continue
                return
            else:
                await send({"type": "http.response.body", "body": step, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _client_gone(self, receive: Any) -> None:
        """Return when the client disconnects, recording when."""
        while (await receive())["type"] != "http.disconnect":
            pass
        self.disconnect_times.append(time.perf_counter())
        self.disconnected.set()

    @staticmethod
    async def _json(send: Any, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": data, "more_body": False})


def json_script(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Script:
    """A non-streaming JSON (error) response."""
    return Script([json.dumps(body).encode()], status, {"content-type": "application/json", **(headers or {})})


# --- OpenAI ------------------------------------------------------------------------------------


def _openai_error(status: int, kind: str, message: str) -> dict[str, Any]:
    code = {401: "invalid_api_key", 404: "model_not_found"}.get(status)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def openai_upstream() -> ScriptedUpstream:
    """The fake at ``/v1/chat/completions``; its base URL for clients is ``<server>/v1``."""
    return ScriptedUpstream(
        "/v1/chat/completions",
        lambda h: h.get("authorization") == f"Bearer {API_KEY}",
        completion_create_params.CompletionCreateParamsStreaming,
        _openai_error,
    )


def sse(data: Any) -> bytes:
    """One ``data:`` event (a dict is JSON-encoded)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


DONE = sse("[DONE]")


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None) -> bytes:
    """A ``chat.completion.chunk`` with one choice."""
    return sse(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "system_fingerprint": "fp_fake",
            "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}],
        }
    )


def usage_chunk(prompt: int = 12, completion: int = 5, cached: int = 2, reasoning: int = 0) -> bytes:
    """The last chunk asked for with ``stream_options.include_usage``: no choices, only usage."""
    return sse(
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0},
            },
        }
    )


def _role() -> bytes:
    return chunk({"role": "assistant", "content": "", "refusal": None})


def _text_chunks(pieces: Iterable[str]) -> Iterator[bytes]:
    for piece in pieces:
        yield chunk({"content": piece})


def _call_start(index: int, call_id: str, name: str) -> bytes:
    return chunk(
        {
            "tool_calls": [
                {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
            ]
        }
    )


def _call_args(index: int, fragment: str) -> bytes:
    return chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})


def text(pieces: Iterable[str] = ("Hello", ", world", "!")) -> Script:
    """A plain answer, streamed in pieces, with usage."""
    return Script([_role(), *_text_chunks(pieces), chunk(finish="stop"), usage_chunk(), DONE])


def parallel_tool_calls() -> Script:
    """A sentence, then two tool calls whose arguments arrive in fragments."""
    return Script(
        [
            _role(),
            chunk({"content": "Checking both cities."}),
            _call_start(0, "call_paris", "get_weather"),
            _call_args(0, '{"ci'),
            _call_args(0, 'ty": "Par'),
            _call_args(0, 'is"}'),
            _call_start(1, "call_rome", "get_weather"),
            _call_args(1, '{"city":'),
            _call_args(1, ' "Rome"}'),
            chunk(finish="tool_calls"),
            usage_chunk(prompt=40, completion=30),
            DONE,
        ]
    )


def tool_call(name: str = "get_weather", arguments: str = '{"city": "Paris"}', call_id: str = "call_1") -> Script:
    """One tool call and nothing else (the first turn of a tool loop)."""
    half = len(arguments) // 2
    return Script(
        [
            _role(),
            _call_start(0, call_id, name),
            _call_args(0, arguments[:half]),
            _call_args(0, arguments[half:]),
            chunk(finish="tool_calls"),
            usage_chunk(prompt=20, completion=10),
            DONE,
        ]
    )


def reasoning(thoughts: Iterable[str] = ("Let me think", " about it."), answer: str = "42") -> Script:
    """``reasoning_content`` deltas (DeepSeek, vLLM), then the answer."""
    return Script(
        [
            _role(),
            *(chunk({"content": None, "reasoning_content": t}) for t in thoughts),
            chunk({"content": answer}),
            chunk(finish="stop"),
            usage_chunk(completion=9, reasoning=6),
            DONE,
        ]
    )


def finish(reason: str, pieces: Iterable[str] = ("Once upon a time",)) -> Script:
    """Text that ends with ``reason`` (``length``, ``content_filter``...)."""
    return Script([_role(), *_text_chunks(pieces), chunk(finish=reason), usage_chunk(), DONE])


def truncated_tool_call() -> Script:
    """The output limit hits in the middle of a tool call's arguments."""
    return Script(
        [
            _role(),
            _call_start(0, "call_cut", "get_weather"),
            _call_args(0, '{"city": "Par'),
            chunk(finish="length"),
            usage_chunk(),
            DONE,
        ]
    )


def legacy_function_call() -> Script:
    """The deprecated ``function_call`` delta and finish reason."""
    return Script(
        [
            _role(),
            chunk({"function_call": {"name": "get_weather", "arguments": ""}}),
            chunk({"function_call": {"arguments": '{"city": "Oslo"}'}}),
            chunk(finish="function_call"),
            DONE,
        ]
    )


def no_usage_no_done() -> Script:
    """A server that sends neither a usage chunk nor ``[DONE]``, but does say how it finished."""
    return Script([_role(), chunk({"content": "Short."}), chunk(finish="stop")])


def cut_off() -> Script:
    """The stream stops mid-answer: no finish reason, no ``[DONE]``."""
    return Script([_role(), chunk({"content": "I was about to"})])


def malformed() -> Script:
    """A data line that is not JSON."""
    return Script([_role(), b"data: {not json\n\n", DONE])


def stream_error() -> Script:
    """An error object inside the stream (vLLM, OpenRouter)."""
    return Script([sse({"error": {"message": "upstream overloaded", "type": "server_error", "code": None}})])


def slow(seconds: float) -> Script:
    """Goes silent for ``seconds`` after the role chunk."""
    return Script([_role(), Pause(seconds), chunk({"content": "late"}), chunk(finish="stop"), DONE])


def hang_after_text() -> Script:
    """Streams one piece of text, then waits for the client to disconnect."""
    return Script([_role(), chunk({"content": "Thinking"}), HANG])


def unauthorized() -> Script:
    """HTTP 401 with the provider's body (which quotes part of the key, as OpenAI's does)."""
    return json_script(
        401,
        _openai_error(401, "invalid_request_error", f"Incorrect API key provided: {API_KEY[:8]}****{API_KEY[-4:]}."),
    )


def rate_limited(retry_after: str = "7") -> Script:
    """HTTP 429 with a ``retry-after`` header."""
    return json_script(
        429,
        {"error": {"message": "Rate limit reached", "type": "requests", "param": None, "code": "rate_limit_exceeded"}},
        {"retry-after": retry_after},
    )


def unavailable() -> Script:
    """HTTP 503."""
    return json_script(503, _openai_error(503, "server_error", "The server is overloaded"))


def context_too_long() -> Script:
    """HTTP 400 for a prompt over the context window."""
    return json_script(
        400,
        {
            "error": {
                "message": "This model's maximum context length is 8192 tokens. However, your messages resulted "
                "in 9000 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
    )


SCRIPTS: dict[str, Callable[[], Script]] = {
    "text": text,
    "parallel_tool_calls": parallel_tool_calls,
    "tool_call": tool_call,
    "reasoning": reasoning,
    "finish_length": lambda: finish("length"),
    "finish_content_filter": lambda: finish("content_filter"),
    "truncated_tool_call": truncated_tool_call,
    "legacy_function_call": legacy_function_call,
    "no_usage_no_done": no_usage_no_done,
    "cut_off": cut_off,
    "malformed": malformed,
    "stream_error": stream_error,
    "slow": lambda: slow(0.3),
    "hang_after_text": hang_after_text,
    "unauthorized": unauthorized,
    "rate_limited": rate_limited,
    "unavailable": unavailable,
    "context_too_long": context_too_long,
}
"""Every OpenAI stream the tests play, by name (each one is also fed to the official SDK)."""


# --- running an agent against a fake (shared by the LLM tests) -------------------------------------


async def run_guarded(agent: Any, body: dict[str, Any], *, run_timeout: float | None = None) -> list[dict[str, Any]]:
    """Run ``agent`` on ``body`` (a RunAgentInput dict) under the strict guard; the events as wire JSON.

    Every event is also fed to a strict :class:`OrderingMachine` and validated by the official
    ``ag-ui-protocol`` models; the guard's own strict mode would end the run with
    ``AGENT_PROTOCOL_ERROR``, which this asserts never happens.
    """
    run_input = decode_input(json.dumps(body).encode())
    ctx = RunContext(
        thread_id=run_input.thread_id,
        run_id=run_input.run_id,
        legacy_client=is_legacy_client(run_input.protocol_version),
    )
    out: list[dict[str, Any]] = []
    guard = Guard(run_input, ctx, lambda data, _t: out.append(json.loads(data)), strict=True, run_timeout=run_timeout)
    await guard.run(agent)
    machine = OrderingMachine(strict=True)
    adapter: TypeAdapter[Any] = TypeAdapter(sdk.Event)
    for event in out:
        machine.check(decode_event(json.dumps(event)))
        adapter.validate_python(event)
    machine.finish()
    assert not any(e.get("code") == "AGENT_PROTOCOL_ERROR" for e in out), out
    return out


def types(events: list[dict[str, Any]]) -> list[str]:
    """The events' types, in order."""
    return [e["type"] for e in events]


def user_input(text: str = "What is the weather in Paris?", **extra: Any) -> dict[str, Any]:
    """A 1.0 RunAgentInput body with one user message."""
    body: dict[str, Any] = {
        "threadId": "thread-1",
        "runId": "run-1",
        "protocolVersion": "1.0",
        "messages": [{"id": "u1", "role": "user", "content": text}],
    }
    body.update(extra)
    return body
