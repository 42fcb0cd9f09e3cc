"""The OpenAI-compatible agent: Chat Completions streaming over httpx.

Works with OpenAI and every server that speaks its Chat Completions API (vLLM, Ollama, llama.cpp's
server, LM Studio, OpenRouter, Groq, Together...): point ``base_url`` at the server's ``/v1``.

.. code-block:: python

    agent = OpenAIAgent.from_env()                       # OPENAI_API_KEY, OPENAI_BASE_URL, AGUI_MODEL
    agent = OpenAIAgent("llama3.2", api_key="ollama", base_url="http://localhost:11434/v1")

How the stream maps to AG-UI:

- ``delta.content`` (and a ``delta.refusal``) → ``TEXT_MESSAGE_*`` of one assistant message per turn;
- ``delta.reasoning_content`` / ``delta.reasoning`` (DeepSeek, vLLM, Ollama, OpenRouter...) →
  ``REASONING_*``;
- ``delta.tool_calls``, several in parallel and their arguments in fragments, keyed by ``index`` →
  ``TOOL_CALL_START`` (with ``parentMessageId``) / ``ARGS`` / ``END``;
- the usage chunk (``stream_options.include_usage``) → ``RUN_FINISHED.usage``;
- the legacy ``delta.function_call`` → the same, once the stream is over, and only when the stream had no
  ``tool_calls`` (llama-cpp-python's server sends both in every delta, for one call);
- ``finish_reason``: ``stop`` ends the run; ``tool_calls`` and the legacy ``function_call`` run the tools;
  ``length`` ends it (with ``result.stopReason``) or, inside a tool call, fails it with
  ``OUTPUT_TRUNCATED``; ``content_filter`` fails it with ``CONTENT_FILTERED``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Unpack

import msgspec

from agui_server.agents import errors
from agui_server.agents._llm_http import error_for_stream_error, iter_sse, json_or_malformed
from agui_server.agents._llm_loop import LLMAgent, LLMOptions, model_from_env, read_env
from agui_server.agents._llm_openai_input import assistant_message, openai_messages, openai_tools, tool_message
from agui_server.protocol.types import TokenUsage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Mapping

    import httpx

    from agui_server.agents._llm_emit import Stop, Turn
    from agui_server.agents._llm_http import Deadline
    from agui_server.agents.tools import ToolResult
    from agui_server.protocol import events as ev
    from agui_server.protocol.types import RunAgentInput, Tool

__all__ = ("DEFAULT_OPENAI_BASE_URL", "OpenAIAgent", "OpenAIOptions", "openai_headers")

DEFAULT_OPENAI_BASE_URL: Final = "https://api.openai.com/v1"

_FINISH: Final[dict[str, Stop]] = {
    "stop": "end",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "filtered",
}
_LEGACY_KEY: Final = "function_call"


# --- the wire format (only what we read; unknown fields are ignored) ---------------------------


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCallDelta(msgspec.Struct):
    index: int | None = None
    id: str | None = None
    type: str | None = None
    function: _Function | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    refusal: str | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    tool_calls: list[_ToolCallDelta] | None = None
    function_call: _Function | None = None


class _Choice(msgspec.Struct):
    index: int = 0
    delta: _Delta | None = None
    finish_reason: str | None = None


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class _CompletionDetails(msgspec.Struct):
    reasoning_tokens: int | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None
    completion_tokens_details: _CompletionDetails | None = None


class _Error(msgspec.Struct):
    message: str | None = None
    type: str | None = None
    code: str | int | None = None


class _Chunk(msgspec.Struct):
    model: str | None = None
    choices: list[_Choice] | None = None
    usage: _Usage | None = None
    error: _Error | None = None


_DECODER: Final = msgspec.json.Decoder(_Chunk)


# --- the agent ---------------------------------------------------------------------------------


def openai_headers(api_key: str | None, extra: Mapping[str, str]) -> dict[str, str]:
    """The headers of a streamed OpenAI request (both APIs): JSON in, events out, the key as a bearer token."""
    headers = {"content-type": "application/json", "accept": "text/event-stream", **extra}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


class OpenAIOptions(LLMOptions, total=False):
    """The settings of :class:`OpenAIAgent` besides its model, key and URL."""

    provider_name: str
    stream_usage: bool


@dataclass(slots=True)
class _Conversation:
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]


@dataclass(slots=True)
class _PendingCall:
    """A tool call whose name has not arrived yet; its argument fragments wait here."""

    id: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Calls:
    """The tool calls of one streamed turn that have not started yet, and the latest call's key."""

    pending: dict[str, _PendingCall] = field(default_factory=dict)
    last: str | None = None
    saw_tool_calls: bool = False
    legacy: _PendingCall | None = None
    """The legacy ``function_call``, held back until the stream shows it had no ``tool_calls``."""


class OpenAIAgent(LLMAgent[_Conversation]):
    """An agent answered by an OpenAI-compatible Chat Completions server.

    Args:
        model: the model name.
        api_key: sent as ``Authorization: Bearer``; ``None`` sends none (local servers).
        base_url: the API root, ending in ``/v1`` as the official SDK expects.
        provider_name: the ``provider`` reported in token usage.
        stream_usage: ask for the usage chunk (``stream_options``); turn off for servers that reject it.
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
        stream_usage: bool = True,
        **options: Unpack[LLMOptions],
    ) -> None:
        super().__init__(model, api_key=api_key, base_url=base_url, **options)
        self.provider = provider_name
        self.stream_usage = stream_usage

    @classmethod
    def from_env(
        cls, model: str | None = None, *, environ: Mapping[str, str] | None = None, **options: Unpack[OpenAIOptions]
    ) -> OpenAIAgent:
        """Build from ``OPENAI_API_KEY``, ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``) and
        ``AGUI_MODEL`` (``model`` wins over it).

        Raises:
            LLMConfigurationError: no API key, or no model.
        """
        api_key, base_url = read_env(environ, "OPENAI_API_KEY", "OPENAI_BASE_URL", DEFAULT_OPENAI_BASE_URL)
        return cls(model_from_env(model, environ), api_key=api_key, base_url=base_url, **options)

    # -- the request ----------------------------------------------------------------------------

    def start(self, input: RunAgentInput, frontend_tools: list[Tool]) -> _Conversation:
        """The run's messages and tools."""
        return _Conversation(
            openai_messages(input, self.instructions), openai_tools(list(self.tools.values()), frontend_tools)
        )

    def request(self, conversation: _Conversation) -> tuple[str, dict[str, str], bytes]:
        """``POST {base_url}/chat/completions`` with ``stream: true``."""
        body: dict[str, Any] = {"model": self.model, "messages": conversation.messages, "stream": True}
        if self.stream_usage:
            body["stream_options"] = {"include_usage": True}
        if conversation.tools:
            body["tools"] = conversation.tools
        body.update(self.extra_body)
        headers = openai_headers(self.api_key, self.extra_headers)
        return f"{self.base_url}/chat/completions", headers, msgspec.json.encode(body)

    def extend(self, conversation: _Conversation, turn: Turn, results: list[ToolResult]) -> None:
        """Append the assistant's turn (text, tool calls) and the tools' results."""
        calls = turn.tool_calls
        assistant = assistant_message(turn.text, [(c.id, c.name, c.arguments) for c in calls])
        reasoning = "".join(turn.reasoning_text)
        if calls and reasoning:  # servers that stream it want it back within the tool loop (DeepSeek)
            assistant["reasoning_content"] = reasoning
        conversation.messages.append(assistant)
        for result in results:
            conversation.messages.append(tool_message(result.call.id, result.call.name, result.content))

    # -- the stream -----------------------------------------------------------------------------

    async def read(self, response: httpx.Response, turn: Turn, deadline: Deadline) -> AsyncIterator[ev.Event]:
        """Map the chunks of one streamed completion onto ``turn``."""
        calls = _Calls()
        finish: str | None = None
        done = False
        async with contextlib.aclosing(iter_sse(response, deadline)) as messages:
            async for message in messages:
                if message.data.strip() == "[DONE]":
                    done = True
                    break
                chunk: _Chunk = json_or_malformed(message.data, _DECODER, "stream chunk")
                if chunk.error is not None:
                    error = chunk.error
                    label = error.code if isinstance(error.code, str) else error.type
                    raise error_for_stream_error(label, error.message or "")
                if chunk.usage is not None:
                    turn.usage = self._usage(chunk.usage, chunk.model)
                for choice in chunk.choices or ():
                    if choice.index != 0:
                        continue
                    if choice.delta is not None:
                        for event in self._delta(choice.delta, turn, calls):
                            yield event
                    if choice.finish_reason:
                        finish = choice.finish_reason
        if not done and finish is None:
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM,
                "The model provider's stream ended before the answer was complete.",
                retryable=True,
            )
        if calls.legacy is not None and not calls.saw_tool_calls:
            legacy = _Function(calls.legacy.name, "".join(calls.legacy.arguments))
            for event in self._call_delta(_LEGACY_KEY, None, legacy, turn, calls):
                yield event
        if calls.pending:
            raise errors.UpstreamError(
                errors.UPSTREAM_MALFORMED_STREAM, "The model provider streamed a tool call without a name."
            )
        if finish == "insufficient_system_resource":  # DeepSeek: the server gave up mid-answer
            raise errors.UpstreamError(
                errors.UPSTREAM_UNAVAILABLE, "The model provider ran out of capacity mid-answer. Retry later."
            )
        turn.stop_reason = finish or "stop"
        stop = _FINISH.get(turn.stop_reason, "end")
        if stop == "end" and turn.tool_calls:
            stop = "tool_calls"  # some servers say "stop" after tool calls
        turn.stop = stop

    def _delta(self, delta: _Delta, turn: Turn, calls: _Calls) -> list[ev.Event]:
        out: list[ev.Event] = []
        reasoning = delta.reasoning_content or delta.reasoning
        if reasoning:
            out += turn.reasoning_delta(reasoning)
        if delta.content:
            out += turn.text_delta(delta.content)
        if delta.refusal:
            out += turn.text_delta(delta.refusal)
        for position, call in enumerate(delta.tool_calls or ()):
            calls.saw_tool_calls = True
            key = self._key(call, position, calls)
            out += self._call_delta(key, call.id, call.function or _Function(), turn, calls)
        if delta.function_call is not None and not calls.saw_tool_calls:
            legacy = calls.legacy = calls.legacy or _PendingCall()
            legacy.name = legacy.name or delta.function_call.name  # some servers repeat it in every delta
            legacy.arguments.append(delta.function_call.arguments or "")
        return out

    @staticmethod
    def _key(call: _ToolCallDelta, position: int, calls: _Calls) -> str:
        """Which call a fragment belongs to: by ``index``; servers that leave it out, by ``id`` or order."""
        if call.index is not None:
            return f"#{call.index}"
        if call.id is not None:
            return f"id:{call.id}"
        return calls.last or f"#{position}"

    @staticmethod
    def _call_delta(key: str, call_id: str | None, function: _Function, turn: Turn, calls: _Calls) -> list[ev.Event]:
        calls.last = key
        if turn.has_tool(key):
            return turn.tool_args(key, function.arguments or "")
        waiting = calls.pending.setdefault(key, _PendingCall())
        waiting.id = waiting.id or call_id
        waiting.name = ((waiting.name or "") + (function.name or "")) or None
        if function.arguments:
            waiting.arguments.append(function.arguments)
        if waiting.name is None:
            return []
        del calls.pending[key]
        out = turn.tool_start(key, waiting.id or turn.ctx.new_id("call"), waiting.name)
        for piece in waiting.arguments:
            out += turn.tool_args(key, piece)
        return out

    def _usage(self, usage: _Usage, model: str | None) -> TokenUsage:
        prompt, completion = usage.prompt_tokens, usage.completion_tokens
        total = prompt + completion if prompt is not None and completion is not None else usage.total_tokens
        return TokenUsage(
            provider=self.provider,
            model=model or self.model,
            input_tokens=prompt,
            output_tokens=completion,
            total_tokens=total,
            reasoning_tokens=usage.completion_tokens_details.reasoning_tokens
            if usage.completion_tokens_details
            else None,
            cached_input_tokens=usage.prompt_tokens_details.cached_tokens if usage.prompt_tokens_details else None,
        )
