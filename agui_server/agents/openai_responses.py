"""The OpenAI Responses API agent: ``POST /v1/responses`` streaming over httpx.

The Responses API is OpenAI's current API for reasoning models (and the one several gateways, LiteLLM's
proxy among them, translate to other providers). The conversation is sent whole on every turn as input
items (``store`` is false, no ``previous_response_id``), so the agent keeps no state at the provider and a
thread continues on any server process.

.. code-block:: python

    agent = OpenAIResponsesAgent.from_env()                  # OPENAI_API_KEY, OPENAI_BASE_URL, AGUI_MODEL
    agent = OpenAIResponsesAgent("o4-mini", api_key=key, reasoning_effort="low")

How the stream maps to AG-UI (the ``type`` of each streamed event):

- ``response.output_text.delta`` (and ``response.refusal.delta``) → ``TEXT_MESSAGE_*`` of one assistant
  message per turn;
- ``response.reasoning_summary_text.delta`` (and ``response.reasoning_text.delta``, the raw reasoning some
  compatible servers stream) → ``REASONING_*``, one reasoning message per reasoning item; the item (with
  its ``encrypted_content`` when asked for) is sent back on the next turn of the tool loop;
- ``response.output_item.added`` of a ``function_call`` → ``TOOL_CALL_START`` (``parentMessageId`` set),
  ``response.function_call_arguments.delta`` → ``TOOL_CALL_ARGS`` (calls in parallel are told apart by
  their item id, else their output index), ``.done`` gives the arguments of a call that streamed none;
- ``response.completed`` → the turn's end, its ``usage`` → ``RUN_FINISHED.usage``;
  ``response.incomplete`` → ``length`` (``max_output_tokens``: the run ends with ``result.stopReason``, or
  ``OUTPUT_TRUNCATED`` inside a tool call) or ``CONTENT_FILTERED`` (``content_filter``);
- ``response.failed`` and ``error`` events → ``RUN_ERROR`` with the code of the provider's error (retried
  like an HTTP failure when nothing reached the client yet); a stream that ends without one of the terminal
  events → ``UPSTREAM_MALFORMED_STREAM``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Unpack

import msgspec

from agui_server.agents import errors
from agui_server.agents._llm_http import error_for_stream_error, iter_sse, json_or_malformed
from agui_server.agents._llm_loop import LLMAgent, LLMOptions, model_from_env, read_env
from agui_server.agents._llm_responses_input import (
    function_call_item,
    function_call_output_item,
    responses_input,
    responses_tools,
)
from agui_server.agents.openai import DEFAULT_OPENAI_BASE_URL, openai_headers
from agui_server.protocol.types import TokenUsage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import httpx

    from agui_server.agents._llm_emit import Stop, Turn
    from agui_server.agents._llm_http import Deadline
    from agui_server.agents.tools import ToolResult
    from agui_server.protocol import events as ev
    from agui_server.protocol.types import RunAgentInput, Tool

__all__ = ("OpenAIResponsesAgent", "OpenAIResponsesOptions", "ReasoningEffort")

ReasoningEffort = Literal["minimal", "low", "medium", "high"]

_INCOMPLETE: Final[dict[str, Stop]] = {"max_output_tokens": "length", "content_filter": "filtered"}


# --- the wire format (only what we read; unknown fields are ignored) ---------------------------


class _InputDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _OutputDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    input_tokens_details: _InputDetails | None = None
    output_tokens_details: _OutputDetails | None = None


class _Error(msgspec.Struct):
    code: str | None = None
    message: str | None = None
    type: str | None = None


class _Incomplete(msgspec.Struct):
    reason: str | None = None


class _Response(msgspec.Struct):
    model: str | None = None
    status: str | None = None
    usage: _Usage | None = None
    error: _Error | None = None
    incomplete_details: _Incomplete | None = None


class _Item(msgspec.Struct):
    type: str = ""
    id: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    encrypted_content: str | None = None


class _Event(msgspec.Struct):
    type: str = ""
    output_index: int | None = None
    item_id: str | None = None
    summary_index: int | None = None
    delta: str | None = None
    arguments: str | None = None
    item: _Item | None = None
    response: _Response | None = None
    code: str | None = None
    message: str | None = None
    error: _Error | None = None


_DECODER: Final = msgspec.json.Decoder(_Event)
_ANY: Final = msgspec.json.Decoder()


# --- the agent ---------------------------------------------------------------------------------


class OpenAIResponsesOptions(LLMOptions, total=False):
    """The settings of :class:`OpenAIResponsesAgent` besides its model, key and URL."""

    provider_name: str
    reasoning_effort: ReasoningEffort | None
    reasoning_summary: Literal["auto", "concise", "detailed"] | None


@dataclass(slots=True)
class _Conversation:
    items: list[dict[str, Any]]
    tools: list[dict[str, Any]]


@dataclass(slots=True)
class _Stream:
    """What one streamed response said so far."""

    keys: dict[str, str] = field(default_factory=dict)
    """Each function call's item id (or ``#output_index``) → the key it has in the turn."""
    streamed_args: set[str] = field(default_factory=set)
    """The calls whose arguments arrived as deltas (their ``.done`` adds nothing)."""
    reasoning: dict[str, int] = field(default_factory=dict)
    """Reasoning items with text so far → the summary part last seen."""
    replay: list[dict[str, Any]] = field(default_factory=list)
    """The reasoning items to send back on the next turn (with their encrypted content)."""
    response: _Response | None = None
    terminal: str | None = None


class OpenAIResponsesAgent(LLMAgent[_Conversation]):
    """An agent answered by the OpenAI Responses API (``/v1/responses``) or a server that speaks it.

    Args:
        model: the model name.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends none (local servers).
        base_url: the API root, ending in ``/v1`` as the official SDK expects.
        provider_name: the ``provider`` reported in token usage.
        reasoning_effort: ask a reasoning model for this effort (``reasoning.effort``); also asks for
            reasoning summaries and the items' encrypted content, sent back within the run's tool loop.
        reasoning_summary: the summary asked for with ``reasoning_effort`` (default ``auto``).
        **options: the shared settings of :class:`~agui_server.agents._llm_loop.LLMAgent` (tools,
            instructions, timeouts, retries, ``extra_body``, ``extra_headers``, ``http_client``).
    """

    provider = "openai"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_OPENAI_BASE_URL,
        provider_name: str = "openai",
        reasoning_effort: ReasoningEffort | None = None,
        reasoning_summary: Literal["auto", "concise", "detailed"] | None = "auto",
        **options: Unpack[LLMOptions],
    ) -> None:
        super().__init__(model, api_key=api_key, base_url=base_url, **options)
        self.provider = provider_name
        self.reasoning_effort = reasoning_effort
        self.reasoning_summary = reasoning_summary

    @classmethod
    def from_env(
        cls,
        model: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        **options: Unpack[OpenAIResponsesOptions],
    ) -> OpenAIResponsesAgent:
        """Build from ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``) and
        ``AGUI_MODEL`` (``model`` wins over it).

        Raises:
            LLMConfigurationError: no API key, or no model.
        """
        api_key, base_url = read_env(environ, "OPENAI_API_KEY", "OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL)
        return cls(model_from_env(model, environ), api_key=api_key, base_url=base_url, **options)

    # -- the request ----------------------------------------------------------------------------

    def start(self, input: RunAgentInput, frontend_tools: list[Tool]) -> _Conversation:
        """The run's input items and tools."""
        return _Conversation(responses_input(input), responses_tools(list(self.tools.values()), frontend_tools))

    def request(self, conversation: _Conversation) -> tuple[str, dict[str, str], bytes]:
        """``POST {base_url}/responses`` with ``stream: true`` and ``store: false``."""
        body: dict[str, Any] = {"model": self.model, "input": conversation.items, "stream": True, "store": False}
        if self.instructions:
            body["instructions"] = self.instructions
        if conversation.tools:
            body["tools"] = conversation.tools
        if self.reasoning_effort is not None:
            reasoning: dict[str, Any] = {"effort": self.reasoning_effort}
            if self.reasoning_summary is not None:
                reasoning["summary"] = self.reasoning_summary
            body["reasoning"] = reasoning
            body["include"] = ["reasoning.encrypted_content"]
        body.update(self.extra_body)
        return f"{self.base_url}/responses", openai_headers(self.api_key, self.extra_headers), msgspec.json.encode(body)

    def extend(self, conversation: _Conversation, turn: Turn, results: list[ToolResult]) -> None:
        """Append the turn's reasoning items, its text, its calls, then the tools' results."""
        conversation.items.extend(turn.assistant or ())
        if turn.text:
            conversation.items.append({"role": "assistant", "content": turn.text})
        for call in turn.tool_calls:
            conversation.items.append(function_call_item(call.id, call.name, call.arguments))
        for result in results:
            conversation.items.append(function_call_output_item(result.call.id, result.content))

    # -- the stream -----------------------------------------------------------------------------

    async def read(self, response: httpx.Response, turn: Turn, deadline: Deadline) -> AsyncIterator[ev.Event]:
        """Map the events of one streamed response onto ``turn``."""
        stream = _Stream()
        async with contextlib.aclosing(iter_sse(response, deadline)) as messages:
            async for message in messages:
                if message.data.strip() == "[DONE]":
                    break
                event: _Event = json_or_malformed(message.data, _DECODER, "stream event")
                for out in self._event(event, message.data, turn, stream):
                    yield out
                if stream.terminal is not None:
                    break
        if stream.terminal is None:
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM,
                "The model provider's stream ended before the answer was complete.",
                retryable=True,
            )
        final = stream.response or _Response()
        if final.usage is not None:
            turn.usage = self._usage(final.usage, final.model)
        reason = final.incomplete_details.reason if final.incomplete_details else None
        if stream.terminal == "response.incomplete":
            turn.stop_reason = reason or "incomplete"
            turn.stop = _INCOMPLETE.get(reason or "", "length")
        else:
            turn.stop_reason = final.status or "completed"
            turn.stop = "tool_calls" if turn.tool_calls else "end"
        turn.assistant = stream.replay

    def _event(self, event: _Event, data: str, turn: Turn, stream: _Stream) -> list[ev.Event]:
        kind = event.type
        if kind in ("response.output_text.delta", "response.refusal.delta"):
            return turn.text_delta(event.delta or "")
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return self._reasoning(event, turn, stream)
        if kind == "response.output_item.added" and event.item is not None and event.item.type == "function_call":
            return self._call_start(event, event.item, turn, stream)
        if kind == "response.function_call_arguments.delta":
            key = self._key(event, stream)
            if key is None or not event.delta:
                return []
            stream.streamed_args.add(key)
            return turn.tool_args(key, event.delta)
        if kind == "response.function_call_arguments.done":
            key = self._key(event, stream)
            if key is None or key in stream.streamed_args or not event.arguments:
                return []
            stream.streamed_args.add(key)
            return turn.tool_args(key, event.arguments)
        if kind == "response.output_item.done" and event.item is not None:
            return self._item_done(event, event.item, data, turn, stream)
        if kind in ("response.completed", "response.incomplete"):
            stream.terminal = kind
            stream.response = event.response
            return []
        if kind == "response.failed":
            error = (event.response.error if event.response else None) or _Error()
            raise error_for_stream_error(error.code or error.type, error.message or "")
        if kind == "error":
            error = event.error or _Error(code=event.code, message=event.message)
            raise error_for_stream_error(error.code or error.type, error.message or "")
        return []  # created, in_progress, content parts, built-in tools and event types added later

    @staticmethod
    def _reasoning(event: _Event, turn: Turn, stream: _Stream) -> list[ev.Event]:
        if not event.delta:
            return []
        item = event.item_id or f"#{event.output_index}"
        part = event.summary_index or 0
        seen = stream.reasoning.get(item)
        stream.reasoning[item] = part
        if seen is not None and seen != part:  # the next summary part of the same item: a new paragraph
            return turn.reasoning_delta("\n\n" + event.delta)
        return turn.reasoning_delta(event.delta)

    @staticmethod
    def _key(event: _Event, stream: _Stream) -> str | None:
        if event.item_id is not None and event.item_id in stream.keys:
            return stream.keys[event.item_id]
        return stream.keys.get(f"#{event.output_index}")

    @staticmethod
    def _call_start(event: _Event, item: _Item, turn: Turn, stream: _Stream) -> list[ev.Event]:
        key = item.id or f"#{event.output_index}"
        if turn.has_tool(key):
            return []
        if not item.name:
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM, "The model provider streamed a tool call without a name."
            )
        stream.keys[key] = key
        stream.keys[f"#{event.output_index}"] = key
        return turn.tool_start(key, item.call_id or item.id or turn.ctx.new_id("call"), item.name)

    def _item_done(self, event: _Event, item: _Item, data: str, turn: Turn, stream: _Stream) -> list[ev.Event]:
        if item.type == "reasoning":
            if item.encrypted_content:
                raw = _ANY.decode(data).get("item") or {}
                stream.replay.append({k: raw[k] for k in ("type", "id", "summary", "encrypted_content") if k in raw})
            return turn.end_reasoning()
        if item.type != "function_call":
            return []
        out: list[ev.Event] = []
        key = self._key(event, stream) or stream.keys.get(item.id or "")
        if key is None:  # a server that sent the call only when done
            out += self._call_start(event, item, turn, stream)
            key = self._key(event, stream)
            assert key is not None
        if key not in stream.streamed_args and item.arguments:
            stream.streamed_args.add(key)
            out += turn.tool_args(key, item.arguments)
        return out

    def _usage(self, usage: _Usage, model: str | None) -> TokenUsage:
        given, output = usage.input_tokens, usage.output_tokens
        return TokenUsage(
            provider=self.provider,
            model=model or self.model,
            input_tokens=given,
            output_tokens=output,
            total_tokens=given + output if given is not None and output is not None else usage.total_tokens,
            reasoning_tokens=usage.output_tokens_details.reasoning_tokens if usage.output_tokens_details else None,
            cached_input_tokens=usage.input_tokens_details.cached_tokens if usage.input_tokens_details else None,
        )
