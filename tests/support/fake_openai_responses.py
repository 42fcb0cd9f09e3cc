"""A loopback fake of the OpenAI Responses API (``POST /v1/responses``, streaming), driven by scripts.

It is the :class:`~tests.support.fake_openai.ScriptedUpstream` of the Chat Completions fake, at
``/v1/responses``, validating every request body against the official SDK's
``ResponseCreateParamsStreaming``. The streams follow the API's event sequence (``response.created``,
``output_item.added``, the deltas, ``output_item.done``, ``response.completed``...), each event with its
``event:`` line and ``sequence_number``; ``tests/e2e/test_llm_fakes_sdk.py`` feeds every script in
``SCRIPTS`` through the official ``openai`` package and validates each event strictly against its types.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from openai.types.responses import response_create_params

from tests.support.fake_openai import API_KEY, MODEL, Script, ScriptedUpstream, json_script, rate_limited, unavailable

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

__all__ = ("API_KEY", "MODEL", "SCRIPTS", "Stream", "responses_upstream")


def _error(status: int, kind: str, message: str) -> dict[str, Any]:
    code = {401: "invalid_api_key", 404: "model_not_found"}.get(status)
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def responses_upstream() -> ScriptedUpstream:
    """The fake at ``/v1/responses``; its base URL for clients is ``<server>/v1``."""
    return ScriptedUpstream(
        "/v1/responses",
        lambda h: h.get("authorization") == f"Bearer {API_KEY}",
        response_create_params.ResponseCreateParamsStreaming,
        _error,
    )


def _usage(given: int, output: int, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": given,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": given + output,
    }


class Stream:
    """Builds one streamed response, event by event, numbering them as the API does."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.output: list[dict[str, Any]] = []
        self._emit("response.created", response=self._response("in_progress", [], None))

    def _emit(self, kind: str, **fields: Any) -> None:
        self.events.append({"type": kind, "sequence_number": len(self.events), **fields})

    @staticmethod
    def _response(status: str, output: list[dict[str, Any]], usage: dict[str, Any] | None, **extra: Any) -> Any:
        return {
            "id": "resp_fake",
            "object": "response",
            "created_at": 1_700_000_000,
            "model": MODEL,
            "status": status,
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": usage,
            **extra,
        }

    def text(self, pieces: Iterable[str], item_id: str = "msg_1") -> Stream:
        index = len(self.output)
        self._emit(
            "response.output_item.added",
            output_index=index,
            item={"type": "message", "id": item_id, "role": "assistant", "status": "in_progress", "content": []},
        )
        part = {"type": "output_text", "text": "", "annotations": []}
        self._emit("response.content_part.added", item_id=item_id, output_index=index, content_index=0, part=part)
        text = ""
        for piece in pieces:
            text += piece
            self._emit(
                "response.output_text.delta",
                item_id=item_id,
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        self._emit(
            "response.output_text.done", item_id=item_id, output_index=index, content_index=0, text=text, logprobs=[]
        )
        done = {**part, "text": text}
        self._emit("response.content_part.done", item_id=item_id, output_index=index, content_index=0, part=done)
        item = {"type": "message", "id": item_id, "role": "assistant", "status": "completed", "content": [done]}
        self._emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)
        return self

    def reasoning(self, parts: Iterable[Iterable[str]], item_id: str = "rs_1", encrypted: str | None = None) -> Stream:
        index = len(self.output)
        self._emit("response.output_item.added", output_index=index, item={"type": "reasoning", "id": item_id,
                                                                           "summary": []})  # fmt: skip
        summary = []
        for n, pieces in enumerate(parts):
            where = {"item_id": item_id, "output_index": index, "summary_index": n}
            self._emit("response.reasoning_summary_part.added", **where, part={"type": "summary_text", "text": ""})
            text = ""
            for piece in pieces:
                text += piece
                self._emit("response.reasoning_summary_text.delta", **where, delta=piece)
            self._emit("response.reasoning_summary_text.done", **where, text=text)
            self._emit("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text})
            summary.append({"type": "summary_text", "text": text})
        item: dict[str, Any] = {"type": "reasoning", "id": item_id, "summary": summary}
        if encrypted is not None:
            item["encrypted_content"] = encrypted
        self._emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)
        return self

    def call(self, call_id: str, name: str, fragments: Iterable[str], *, done: bool = True) -> Stream:
        index = len(self.output)
        item_id = f"fc_{call_id}"
        item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": "",
                "status": "in_progress"}  # fmt: skip
        self._emit("response.output_item.added", output_index=index, item=item)
        arguments = ""
        for fragment in fragments:
            arguments += fragment
            self._emit("response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=fragment)
        if done:
            self._emit("response.function_call_arguments.done", item_id=item_id, output_index=index,
                       arguments=arguments)  # fmt: skip
            item = {**item, "arguments": arguments, "status": "completed"}
            self._emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)
        return self

    def completed(self, given: int = 12, output: int = 5, reasoning: int = 0) -> Script:
        usage = _usage(given, output, cached=2, reasoning=reasoning)
        self._emit("response.completed", response=self._response("completed", self.output, usage))
        return self.script()

    def incomplete(self, reason: str) -> Script:
        response = self._response("incomplete", self.output, _usage(12, 5), incomplete_details={"reason": reason})
        self._emit("response.incomplete", response=response)
        return self.script()

    def failed(self, code: str, message: str) -> Script:
        response = self._response("failed", self.output, None, error={"code": code, "message": message})
        self._emit("response.failed", response=response)
        return self.script()

    def script(self) -> Script:
        return Script([f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in self.events])


def text(pieces: Iterable[str] = ("Hello", ", world", "!")) -> Script:
    """A plain answer in pieces, with usage."""
    return Stream().text(pieces).completed()


def reasoning() -> Script:
    """A reasoning summary in two parts (with encrypted content), then the answer."""
    return (
        Stream()
        .reasoning([["Let me", " think."], ["Done."]], encrypted="gAAAA-opaque")
        .text(["42"])
        .completed(output=9, reasoning=6)
    )


def parallel_tool_calls() -> Script:
    """A sentence, then two calls whose arguments arrive in fragments."""
    return (
        Stream()
        .text(["Checking both cities."])
        .call("call_paris", "get_weather", ['{"ci', 'ty": "Par', 'is"}'])
        .call("call_rome", "get_weather", ['{"city":', ' "Rome"}'])
        .completed(given=40, output=30)
    )


def tool_call(name: str = "get_weather", arguments: str = '{"city": "Paris"}', call_id: str = "call_1") -> Script:
    """One call and nothing else (the first turn of a tool loop)."""
    half = len(arguments) // 2
    return Stream().call(call_id, name, [arguments[:half], arguments[half:]]).completed(given=20, output=10)


def reasoning_then_call() -> Script:
    """A reasoning item with encrypted content, then a call: the item goes back on the next turn."""
    return (
        Stream()
        .reasoning([["Need the weather."]], encrypted="gAAAA-secret")
        .call("call_r", "get_weather", ['{"city": "Oslo"}'])
        .completed()
    )


def incomplete(reason: str = "max_output_tokens") -> Script:
    """Text, then ``response.incomplete`` for ``reason``."""
    return Stream().text(["Once upon a time"]).incomplete(reason)


def truncated_tool_call() -> Script:
    """The output limit hits inside a call's arguments."""
    return Stream().call("call_cut", "get_weather", ['{"city": "Par'], done=False).incomplete("max_output_tokens")


def failed() -> Script:
    """``response.failed`` with a server error before any output."""
    return Stream().failed("server_error", "The model failed to generate a response.")


def stream_error() -> Script:
    """An ``error`` event (rate limit) before any output."""
    stream = Stream()
    stream._emit("error", code="rate_limit_exceeded", message="Rate limit reached", param=None)
    return stream.script()


def cut_off() -> Script:
    """The stream stops mid-answer: no terminal event."""
    return Script(Stream().text(["I was about to"]).script().steps[:-2])


def malformed() -> Script:
    """A data line that is not JSON."""
    return Script([*Stream().script().steps, b"event: response.output_text.delta\ndata: {not json\n\n"])


SCRIPTS: dict[str, Callable[[], Script]] = {
    "text": text,
    "reasoning": reasoning,
    "parallel_tool_calls": parallel_tool_calls,
    "tool_call": tool_call,
    "reasoning_then_call": reasoning_then_call,
    "incomplete_length": incomplete,
    "incomplete_content_filter": lambda: incomplete("content_filter"),
    "truncated_tool_call": truncated_tool_call,
    "failed": failed,
    "stream_error": stream_error,
    "cut_off": cut_off,
    "malformed": malformed,
    "rate_limited": rate_limited,
    "unavailable": unavailable,
    "unauthorized": lambda: json_script(401, _error(401, "invalid_request_error", "Incorrect API key provided")),
}
"""Every Responses stream the tests play, by name (each one is also fed to the official SDK)."""
