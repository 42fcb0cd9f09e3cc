"""The Anthropic agent: Messages API streaming over httpx.

.. code-block:: python

    agent = AnthropicAgent.from_env()            # ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL, AGUI_MODEL
    agent = AnthropicAgent("claude-sonnet-4-5", api_key=key, thinking_budget=2048)

How the stream maps to AG-UI (``event:`` lines of the Messages stream):

- ``text`` blocks (``text_delta``) → ``TEXT_MESSAGE_*`` of one assistant message per turn (left open at
  the block's end, so that its ``TEXT_MESSAGE_END`` can carry how the turn ended);
- ``thinking`` blocks (``thinking_delta``, ``signature_delta``) → a reasoning span and message, closed
  with ``REASONING_ENCRYPTED_VALUE`` carrying the signature, so the next request can send the block
  back; ``redacted_thinking`` → the same, its data as the encrypted value;
- ``tool_use`` blocks (``input_json_delta``) → ``TOOL_CALL_START`` (``parentMessageId`` set) / ``ARGS``
  / ``END``; the calls end with the message, not with their block, and a ``tool_use`` block whose id an
  earlier block of the message already opened continues that call (gateways that translate an OpenAI
  stream repeating the call's id in every chunk send one block per chunk);
- ``message_start`` / ``message_delta`` usage → ``RUN_FINISHED.usage``; ``ping`` is ignored; ``error``
  ends the run with the matching code;
- ``stop_reason``: ``end_turn`` and ``stop_sequence`` end the run; ``tool_use`` runs the tools;
  ``pause_turn`` sends the turn back for the model to go on; ``max_tokens`` (and
  ``model_context_window_exceeded``) ends it, or fails it with ``OUTPUT_TRUNCATED`` inside a tool call;
  ``refusal`` fails it with ``CONTENT_FILTERED``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Unpack

import msgspec

from agui_server.agents import errors
from agui_server.agents._llm_anthropic_input import (
    REDACTED_PREFIX,
    anthropic_conversation,
    anthropic_tools,
    tool_input,
)
from agui_server.agents._llm_http import error_for_stream_error, iter_sse, json_or_malformed
from agui_server.agents._llm_loop import LLMAgent, LLMOptions, model_from_env, read_env
from agui_server.protocol.types import TokenUsage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import httpx

    from agui_server.agents._llm_emit import Stop, Turn
    from agui_server.agents._llm_http import Deadline
    from agui_server.agents.tools import ToolResult
    from agui_server.protocol import events as ev
    from agui_server.protocol.types import RunAgentInput, Tool

__all__ = ("ANTHROPIC_VERSION", "DEFAULT_ANTHROPIC_BASE_URL", "AnthropicAgent", "AnthropicOptions")

DEFAULT_ANTHROPIC_BASE_URL: Final = "https://api.anthropic.com"
ANTHROPIC_VERSION: Final = "2023-06-01"

_STOP: Final[dict[str, Stop]] = {
    "end_turn": "end",
    "stop_sequence": "end",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "pause_turn": "pause",
    "refusal": "filtered",
}


# --- the wire format (only what we read; unknown fields are ignored) ---------------------------


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None


class _MessageInfo(msgspec.Struct):
    model: str | None = None
    usage: _Usage | None = None


class _MessageStart(msgspec.Struct):
    message: _MessageInfo


class _BlockInfo(msgspec.Struct):
    type: str
    id: str | None = None
    name: str | None = None
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    input: Any = None


class _BlockStart(msgspec.Struct):
    index: int
    content_block: msgspec.Raw


class _DeltaBody(msgspec.Struct):
    type: str
    text: str | None = None
    thinking: str | None = None
    signature: str | None = None
    partial_json: str | None = None


class _BlockDelta(msgspec.Struct):
    index: int
    delta: _DeltaBody


class _BlockStop(msgspec.Struct):
    index: int


class _StopInfo(msgspec.Struct):
    stop_reason: str | None = None


class _MessageDelta(msgspec.Struct):
    delta: _StopInfo = msgspec.field(default_factory=_StopInfo)
    usage: _Usage | None = None


class _ErrorBody(msgspec.Struct):
    type: str | None = None
    message: str | None = None


class _Error(msgspec.Struct):
    error: _ErrorBody = msgspec.field(default_factory=_ErrorBody)


class _Typed(msgspec.Struct):
    type: str = ""


_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    "message_start": msgspec.json.Decoder(_MessageStart),
    "content_block_start": msgspec.json.Decoder(_BlockStart),
    "content_block_delta": msgspec.json.Decoder(_BlockDelta),
    "content_block_stop": msgspec.json.Decoder(_BlockStop),
    "message_delta": msgspec.json.Decoder(_MessageDelta),
    "error": msgspec.json.Decoder(_Error),
}
_TYPED: Final = msgspec.json.Decoder(_Typed)
_BLOCK: Final = msgspec.json.Decoder(_BlockInfo)
_ANY: Final = msgspec.json.Decoder()


# --- the agent ---------------------------------------------------------------------------------


class AnthropicOptions(LLMOptions, total=False):
    """The settings of :class:`AnthropicAgent` besides its model, key and URL."""

    max_tokens: int
    thinking_budget: int | None
    anthropic_version: str


@dataclass(slots=True)
class _Conversation:
    system: str | None
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]


@dataclass(slots=True)
class _Block:
    """One content block of the streamed message, rebuilt for the next request."""

    kind: str
    raw: dict[str, Any]
    parts: list[str] = field(default_factory=list)
    signature: str = ""


@dataclass(slots=True)
class _Message:
    """The streamed message so far: its blocks by index, usage, stop reason."""

    blocks: dict[int, _Block] = field(default_factory=dict)
    aliases: dict[int, int] = field(default_factory=dict)
    """Blocks that repeat an earlier ``tool_use`` block's id: their index → that block's index."""
    tool_ids: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    usage: _Usage = field(default_factory=_Usage)
    stop_reason: str | None = None
    stopped: bool = False


class AnthropicAgent(LLMAgent[_Conversation]):
    """An agent answered by the Anthropic Messages API (or a server that speaks it).

    Args:
        model: the model name (``claude-...``).
        api_key: sent as ``x-api-key``.
        base_url: the API's host root, as the official SDK expects (``/v1/messages`` is added).
        max_tokens: the output limit of each turn (the API requires one).
        thinking_budget: enable extended thinking with this many tokens (below ``max_tokens``).
        anthropic_version: the ``anthropic-version`` header.
        **options: the shared settings of :class:`~agui_server.agents._llm_loop.LLMAgent` (tools,
            instructions, timeouts, retries, ``extra_body``, ``extra_headers``, ``http_client``).
    """

    provider = "anthropic"

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str = DEFAULT_ANTHROPIC_BASE_URL,
        max_tokens: int = 4096,
        thinking_budget: int | None = None,
        anthropic_version: str = ANTHROPIC_VERSION,
        **options: Unpack[LLMOptions],
    ) -> None:
        super().__init__(model, api_key=api_key, base_url=base_url, **options)
        if max_tokens <= 0:
            raise errors.LLMConfigurationError(f"max_tokens must be positive, got {max_tokens}")
        if thinking_budget is not None and not 0 < thinking_budget < max_tokens:
            raise errors.LLMConfigurationError(
                f"thinking_budget must be positive and below max_tokens ({max_tokens}), got {thinking_budget}"
            )
        self.max_tokens = max_tokens
        self.thinking_budget = thinking_budget
        self.anthropic_version = anthropic_version

    @classmethod
    def from_env(
        cls, model: str | None = None, *, environ: Mapping[str, str] | None = None, **options: Unpack[AnthropicOptions]
    ) -> AnthropicAgent:
        """Build from ``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL`` (the host root, default
        ``https://api.anthropic.com``) and ``AGUI_MODEL`` (``model`` wins over it).

        Raises:
            LLMConfigurationError: no API key, or no model.
        """
        api_key, base_url = read_env(environ, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", DEFAULT_ANTHROPIC_BASE_URL)
        return cls(model_from_env(model, environ), api_key=api_key, base_url=base_url, **options)

    # -- the request ----------------------------------------------------------------------------

    def start(self, input: RunAgentInput, frontend_tools: list[Tool]) -> _Conversation:
        """The run's system prompt, messages and tools."""
        system, messages = anthropic_conversation(input, self.instructions)
        return _Conversation(system, messages, anthropic_tools(list(self.tools.values()), frontend_tools))

    def request(self, conversation: _Conversation) -> tuple[str, dict[str, str], bytes]:
        """``POST {base_url}/v1/messages`` with ``stream: true``."""
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": conversation.messages,
            "stream": True,
        }
        if conversation.system:
            body["system"] = conversation.system
        if conversation.tools:
            body["tools"] = conversation.tools
        if self.thinking_budget is not None:
            body["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        body.update(self.extra_body)
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream",
            "anthropic-version": self.anthropic_version,
            **self.extra_headers,
        }
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return f"{self.base_url}/v1/messages", headers, msgspec.json.encode(body)

    def extend(self, conversation: _Conversation, turn: Turn, results: list[ToolResult]) -> None:
        """Append the assistant's turn as it was streamed, then the tools' results as one user turn."""
        blocks: list[dict[str, Any]] = turn.assistant or []
        if blocks:
            conversation.messages.append({"role": "assistant", "content": blocks})
        if results:
            conversation.messages.append(
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": r.call.id, "content": r.content, "is_error": r.is_error}
                        for r in results
                    ],
                }
            )

    # -- the stream -----------------------------------------------------------------------------

    async def read(self, response: httpx.Response, turn: Turn, deadline: Deadline) -> AsyncIterator[ev.Event]:
        """Map the events of one streamed message onto ``turn``."""
        message = _Message()
        async with contextlib.aclosing(iter_sse(response, deadline)) as stream:
            async for sse in stream:
                kind = sse.event or json_or_malformed(sse.data, _TYPED, "stream event").type
                for event in self._event(kind, sse.data, message, turn):
                    yield event
                if message.stopped:
                    break
        if not message.stopped and message.stop_reason is None:
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM,
                "The model provider's stream ended before the answer was complete.",
                retryable=True,
            )
        turn.stop_reason = message.stop_reason or "end_turn"
        turn.stop = _STOP.get(turn.stop_reason, "end")
        turn.usage = self._usage(message)
        rebuilt = (self._rebuilt(block) for _, block in sorted(message.blocks.items()))
        turn.assistant = [block for block in rebuilt if block is not None]

    def _event(self, kind: str, data: str, message: _Message, turn: Turn) -> list[ev.Event]:
        decoder = _DECODERS.get(kind)
        if decoder is None:  # ping, message_stop and event types added after this was written
            if kind == "message_stop":
                message.stopped = True
            return []
        payload = json_or_malformed(data, decoder, f"{kind} event")
        if isinstance(payload, _MessageStart):
            message.model = payload.message.model
            if payload.message.usage is not None:
                message.usage = payload.message.usage
            return []
        if isinstance(payload, _BlockStart):
            return self._block_start(payload, message, turn)
        if isinstance(payload, _BlockDelta):
            return self._block_delta(payload, message, turn)
        if isinstance(payload, _BlockStop):
            return self._block_stop(payload.index, message, turn)
        if isinstance(payload, _MessageDelta):
            message.stop_reason = payload.delta.stop_reason or message.stop_reason
            if payload.usage is not None:
                for name in _Usage.__struct_fields__:
                    value = getattr(payload.usage, name)
                    if value is not None:
                        setattr(message.usage, name, value)
            return []
        assert isinstance(payload, _Error)
        raise error_for_stream_error(payload.error.type, payload.error.message or "")

    @staticmethod
    def _block_start(start: _BlockStart, message: _Message, turn: Turn) -> list[ev.Event]:
        data = bytes(start.content_block)
        info: _BlockInfo = json_or_malformed(data, _BLOCK, "content block")
        if info.type == "tool_use" and info.id in message.tool_ids:  # the same call again: continue it
            message.aliases[start.index] = message.tool_ids[info.id]
            return []
        raw: dict[str, Any] = _ANY.decode(data)
        block = message.blocks[start.index] = _Block(info.type, raw)
        key = str(start.index)
        if info.type == "text":
            block.parts.append(info.text or "")
            return turn.text_delta(info.text or "")
        if info.type == "thinking":
            block.parts.append(info.thinking or "")
            block.signature = info.signature or ""
            return turn.start_reasoning() + turn.reasoning_delta(info.thinking or "")
        if info.type == "redacted_thinking":
            return turn.end_reasoning(encrypted_value=REDACTED_PREFIX + (info.data or ""))
        if info.type == "tool_use":
            if not info.id or not info.name:
                raise errors.UpstreamError(
                    errors.UPSTREAM_MALFORMED_STREAM, "The model provider streamed a tool call without an id or name."
                )
            message.tool_ids[info.id] = start.index
            out = turn.tool_start(key, info.id, info.name)
            if isinstance(info.input, dict) and info.input:  # some gateways send the whole input up front
                text = msgspec.json.encode(info.input).decode()
                block.parts.append(text)
                out += turn.tool_args(key, text)
            return out
        return []  # server tools and their results: kept for the next request, not shown

    @staticmethod
    def _block_delta(delta: _BlockDelta, message: _Message, turn: Turn) -> list[ev.Event]:
        index = message.aliases.get(delta.index, delta.index)
        block = message.blocks.get(index)
        if block is None:
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM, "The model provider streamed a delta for a block it never started."
            )
        body = delta.delta
        if body.type == "text_delta" and body.text:
            block.parts.append(body.text)
            return turn.text_delta(body.text)
        if body.type == "thinking_delta" and body.thinking:
            block.parts.append(body.thinking)
            return turn.reasoning_delta(body.thinking)
        if body.type == "signature_delta" and body.signature:
            block.signature += body.signature
            return []
        if body.type == "input_json_delta" and body.partial_json:
            block.parts.append(body.partial_json)
            if block.kind == "tool_use":
                return turn.tool_args(str(index), body.partial_json)
        return []  # citations and future delta types

    @staticmethod
    def _block_stop(index: int, message: _Message, turn: Turn) -> list[ev.Event]:
        block = message.blocks.get(index)
        if block is None:
            return []
        if block.kind == "thinking":
            return turn.end_reasoning(encrypted_value=block.signature or None)
        return []  # a tool call ends with the message (a later block may continue it)

    @staticmethod
    def _rebuilt(block: _Block) -> dict[str, Any] | None:
        text = "".join(block.parts)
        if block.kind == "text":
            return {"type": "text", "text": text} if text else None
        if block.kind == "thinking":
            return {"type": "thinking", "thinking": text, "signature": block.signature}
        if block.kind in ("tool_use", "server_tool_use"):
            return {**block.raw, "input": tool_input(text) if text else (block.raw.get("input") or {})}
        return block.raw

    def _usage(self, message: _Message) -> TokenUsage:
        usage = message.usage
        cache_read = usage.cache_read_input_tokens
        cache_write = usage.cache_creation_input_tokens
        parts = [usage.input_tokens, cache_read, cache_write]
        input_tokens = sum(n or 0 for n in parts) if any(n is not None for n in parts) else None
        output = usage.output_tokens
        return TokenUsage(
            provider=self.provider,
            model=message.model or self.model,
            input_tokens=input_tokens,
            output_tokens=output,
            total_tokens=input_tokens + output if input_tokens is not None and output is not None else None,
            cached_input_tokens=cache_read,
            cache_write_input_tokens=cache_write,
        )
