"""What both LLM adapters share: settings, the per-run HTTP client, retries and the tool loop.

One run is a loop of model turns:

1. send the conversation, stream the turn's text, reasoning and tool calls to the client;
2. the turn ended normally: ``RUN_FINISHED`` with the run's token usage and, in ``metadata``, how the last
   turn ended (``finishReason``, ``providerFinishReason``; see :meth:`Turn.metadata`);
3. it called backend tools: run them, send each ``TOOL_CALL_RESULT``, add the results to the
   conversation and go to 1 (at most ``max_tool_turns`` times);
4. it called frontend tools (``RunAgentInput.tools``): ``RUN_FINISHED`` right after their
   ``TOOL_CALL_END``, with their ids as ``pendingToolCallIds``; the client runs them and its next request,
   carrying the results, continues the conversation. A frontend call whose arguments are not a JSON object
   is never ended and the run ends with ``TOOL_ARGUMENTS_INVALID``; a backend call's invalid arguments
   become an error result the model sees (3.), so it can correct them;
5. it called backend tools that need the client's approval (``@tool(requires_approval=...)``): the others
   run, then ``RUN_FINISHED`` with the interrupt outcome, one interrupt per call; the next request's
   ``resume`` answers them and, before its first turn, the approved calls run and the refused ones get a
   refusal as their result. A call whose run ended before its result is reported as of unknown outcome,
   never run again.

A request that fails before anything of its turn reached the client is retried (rate limits, 5xx,
connection failures, with backoff and the provider's ``retry-after``). Any other failure ends the run
with one ``RUN_ERROR`` whose code says what happened (:mod:`agui_server.agents.errors`).

Cancellation (the client went away) raises inside the read of the upstream stream; leaving the
``open_stream`` block closes the response and the per-run client closes its connections.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import logging
import math
import os
import ssl
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypedDict, TypeVar
from urllib.parse import urlsplit

import httpx
import msgspec

from agui_server.agents import errors
from agui_server.agents._llm_emit import Turn
from agui_server.agents._llm_http import Deadline, RetryPolicy, open_stream
from agui_server.agents.tools import BackendTool, ToolCallRequest, ToolResult, run_tool_calls, toolset
from agui_server.observability.telemetry import ModelCall, current_run
from agui_server.protocol import events as ev
from agui_server.protocol.types import AssistantMessage, Interrupt, Message, TokenUsage, ToolCall, ToolMessage

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from agui_server.agents.base import RunContext
    from agui_server.protocol.types import RunAgentInput, Tool

__all__ = ("LLMAgent", "LLMOptions", "UsageTotals", "model_from_env", "read_env")

logger = logging.getLogger("agui_server.agents.llm")

C = TypeVar("C")
"""The provider's conversation: what is sent, and grows, turn after turn."""


class LLMOptions(TypedDict, total=False):
    """The settings every LLM adapter takes besides its model, key and URL (see :class:`LLMAgent`)."""

    tools: Iterable[BackendTool | Callable[..., Any]]
    instructions: str | None
    connect_timeout: float
    read_timeout: float
    run_timeout: float | None
    max_tool_turns: int
    max_retries: int
    retry_backoff: float
    max_retry_wait: float
    extra_body: Mapping[str, Any] | None
    extra_headers: Mapping[str, str] | None
    http_client: httpx.AsyncClient | None


_USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "reasoning_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
)


class UsageTotals:
    """Token usage summed over a run's turns, one entry per provider and model."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[tuple[str | None, str | None], TokenUsage] = {}

    def add(self, usage: TokenUsage | None) -> None:
        """Count one turn's usage."""
        if usage is None:
            return
        key = (usage.provider, usage.model)
        total = self._entries.get(key)
        if total is None:
            self._entries[key] = TokenUsage(provider=usage.provider, model=usage.model)
            total = self._entries[key]
        for name in _USAGE_FIELDS:
            value = getattr(usage, name)
            if value is not None:
                setattr(total, name, (getattr(total, name) or 0) + value)

    def as_list(self) -> list[TokenUsage] | None:
        """The entries for ``RUN_FINISHED.usage`` / ``RUN_ERROR.usage`` (``None`` when nothing was counted)."""
        return list(self._entries.values()) or None


def read_env(environ: Mapping[str, str] | None, key_var: str, url_var: str, default_url: str) -> tuple[str, str]:
    """The API key and base URL from the environment.

    Raises:
        LLMConfigurationError: the key is missing.
    """
    env = os.environ if environ is None else environ
    key = env.get(key_var, "").strip()
    if not key:
        raise errors.LLMConfigurationError(
            f"{key_var} is not set: the {key_var.split('_', 1)[0].title()} adapter needs an API key "
            f"(set {key_var} in the environment or the .env file)"
        )
    return key, (env.get(url_var) or "").strip() or default_url


def model_from_env(model: str | None, environ: Mapping[str, str] | None) -> str:
    """``model``, else ``AGUI_MODEL``.

    Raises:
        LLMConfigurationError: neither is set.
    """
    env = os.environ if environ is None else environ
    chosen = (model or env.get("AGUI_MODEL") or "").strip()
    if not chosen:
        raise errors.LLMConfigurationError("no model chosen: pass --model NAME or set AGUI_MODEL")
    return chosen


def _positive(name: str, value: float | None, *, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or value <= 0:
        raise errors.LLMConfigurationError(f"{name} must be a positive number of seconds, got {value!r}")


class LLMAgent(abc.ABC, Generic[C]):
    """The shared body of :class:`~agui_server.agents.openai.OpenAIAgent` and
    :class:`~agui_server.agents.anthropic.AnthropicAgent` (see the module docstring).

    Args:
        model: the model name the provider knows.
        api_key: the provider's API key (``None``: send no key, for local servers that want none).
        base_url: where the provider's API lives.
        tools: backend tools, as :func:`~agui_server.agents.tools.tool` objects or plain typed functions.
        instructions: a system prompt put before the conversation.
        connect_timeout: seconds to wait for a connection to the provider.
        read_timeout: seconds the provider's stream may stay silent.
        run_timeout: seconds the whole run may take, tool calls included (``None``: no limit).
        max_tool_turns: how many times per run backend tools may run before the run ends with
            ``TOOL_TURNS_EXCEEDED``.
        max_retries: retries of a request that failed before any output reached the client.
        retry_backoff: seconds before the first retry (doubled each time, with jitter).
        max_retry_wait: the longest wait accepted before a retry, a ``retry-after`` included.
        extra_body: more fields for every request body (``temperature``, ``max_tokens``...).
        extra_headers: more HTTP headers for every request.
        http_client: an ``httpx.AsyncClient`` to use (its timeouts win); by default each run has its own.

    Raises:
        LLMConfigurationError: a setting cannot work.
    """

    provider: str = "llm"
    """The provider's name in token usage and messages."""

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str,
        tools: Iterable[BackendTool | Callable[..., Any]] = (),
        instructions: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        run_timeout: float | None = 600.0,
        max_tool_turns: int = 8,
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        max_retry_wait: float = 20.0,
        extra_body: Mapping[str, Any] | None = None,
        extra_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if not model or not model.strip():
            raise errors.LLMConfigurationError("the model name is empty")
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise errors.LLMConfigurationError(f"the base URL must be an http(s) URL, got {base_url!r}")
        _positive("connect_timeout", connect_timeout)
        _positive("read_timeout", read_timeout)
        _positive("run_timeout", run_timeout, allow_none=True)
        if max_tool_turns < 0 or max_retries < 0 or retry_backoff < 0 or max_retry_wait < 0:
            raise errors.LLMConfigurationError("max_tool_turns, max_retries and the retry waits must not be negative")
        try:
            self.tools: dict[str, BackendTool] = toolset(tools)
        except (TypeError, ValueError) as exc:
            raise errors.LLMConfigurationError(str(exc)) from exc
        self.model = model.strip()
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.instructions = instructions
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.run_timeout = run_timeout
        self.max_tool_turns = max_tool_turns
        self.retry = RetryPolicy(max_retries, retry_backoff, max_retry_wait)
        self.extra_body: dict[str, Any] = dict(extra_body or {})
        self.extra_headers: dict[str, str] = dict(extra_headers or {})
        self.http_client = http_client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={self.base_url!r}, tools={sorted(self.tools)})"

    # -- what a provider supplies ----------------------------------------------------------------

    @abc.abstractmethod
    def start(self, input: RunAgentInput, frontend_tools: list[Tool]) -> C:
        """The conversation for the first turn, with the tools offered (backend and frontend)."""

    @abc.abstractmethod
    def request(self, conversation: C) -> tuple[str, dict[str, str], bytes]:
        """The URL, headers and body of the next turn's request."""

    @abc.abstractmethod
    def read(self, response: httpx.Response, turn: Turn, deadline: Deadline) -> AsyncIterator[ev.Event]:
        """Read one streamed turn, driving ``turn``; set ``turn.stop``, ``turn.usage`` and ``turn.assistant``.

        Raises:
            UpstreamError: the stream reported an error, broke off or could not be read.
        """

    @abc.abstractmethod
    def extend(self, conversation: C, turn: Turn, results: list[ToolResult]) -> None:
        """Add the turn's assistant message and the backend tools' results to the conversation."""

    # -- the run --------------------------------------------------------------------------------

    async def run(self, input: RunAgentInput, ctx: RunContext) -> AsyncIterator[ev.Event]:
        """Stream the model's answer to the run's conversation (see the module docstring)."""
        deadline = Deadline(self.run_timeout)
        usage = UsageTotals()
        frontend = self._frontend_tools(input)
        frontend_names = {t.name for t in frontend}
        tool_turns = 0
        try:
            answered: list[ToolMessage] = []
            async for event in self._answer_approvals(input, ctx, deadline, answered):
                yield event
            if answered:
                input = msgspec.structs.replace(input, messages=[*input.messages, *answered])
            conversation = self.start(input, frontend)
            async with self._client() as client:
                while True:
                    turn = Turn(ctx, frontend_names)
                    async for event in self._turn(client, conversation, turn, deadline):
                        yield event
                    usage.add(turn.usage)
                    ending = self._ending(input, turn, usage)
                    if ending is not None:
                        yield ending
                        return
                    backend_calls = [c for c in turn.tool_calls if c.name not in frontend_names]
                    asks = [
                        c
                        for c in backend_calls
                        if c.name in self.tools and self.tools[c.name].needs_approval(c.arguments)
                    ]
                    backend_calls = [c for c in backend_calls if c not in asks]
                    pending = [c.id for c in turn.tool_calls if c.name in frontend_names]
                    if backend_calls or turn.stop == "pause":
                        if tool_turns >= self.max_tool_turns:
                            yield ev.RunErrorEvent(
                                code=errors.TOOL_TURNS_EXCEEDED,
                                message=f"The model kept calling tools after {self.max_tool_turns} rounds; "
                                "the run was stopped.",
                                usage=usage.as_list(),
                            )
                            return
                        tool_turns += 1
                    results: list[ToolResult] = []
                    async for event in self._run_tools(backend_calls, ctx, deadline, results):
                        yield event
                    if asks:
                        yield ev.RunFinishedEvent(
                            thread_id=input.thread_id,
                            run_id=input.run_id,
                            outcome=ev.InterruptOutcome(interrupts=[_approval(call) for call in asks]),
                            usage=usage.as_list(),
                            metadata=turn.metadata(usage=False),
                        )
                        return
                    if pending:
                        yield ev.RunFinishedEvent(
                            thread_id=input.thread_id,
                            run_id=input.run_id,
                            outcome=ev.SuccessOutcome(pending_tool_call_ids=pending),
                            usage=usage.as_list(),
                            metadata=turn.metadata(usage=False),
                        )
                        return
                    self.extend(conversation, turn, results)
        except errors.UpstreamError as exc:
            yield ev.RunErrorEvent(
                code=exc.code,
                message=exc.message,
                usage=usage.as_list(),
                metadata={"retryAfterSeconds": math.ceil(exc.retry_after)} if exc.retry_after is not None else None,
            )
        except TimeoutError:
            yield ev.RunErrorEvent(
                code=errors.RUN_TIMEOUT,
                message=f"The run took longer than {self.run_timeout:g} seconds.",
                usage=usage.as_list(),
            )

    async def _run_tools(
        self, calls: list[ToolCallRequest], ctx: RunContext, deadline: Deadline, results: list[ToolResult]
    ) -> AsyncIterator[ev.Event]:
        """Run one turn's backend calls: their events, then a ``TOOL_CALL_RESULT`` each (kept in ``results``)."""
        if not calls:
            return
        async for item in run_tool_calls(calls, self.tools, ctx, deadline):
            if isinstance(item, ToolResult):
                results.append(item)
                yield ev.ToolCallResultEvent(
                    message_id=ctx.new_id("tool"), tool_call_id=item.call.id, content=item.content, role="tool"
                )
            else:
                yield item

    async def _answer_approvals(
        self, input: RunAgentInput, ctx: RunContext, deadline: Deadline, answered: list[ToolMessage]
    ) -> AsyncIterator[ev.Event]:
        """The backend calls of earlier runs still without a result that needed approval: the approved ones
        run (with the client's edited arguments, if any), the others get a refusal, and a call whose approval
        was not in this request (its run ended while it ran, or before it asked) is reported as of unknown
        outcome. Each gets its ``TOOL_CALL_RESULT`` and, in ``answered``, its tool message for the model."""
        answers = {entry.interrupt_id: entry for entry in input.resume or ()}
        run_now: list[ToolCallRequest] = []
        verdicts: list[tuple[str, str]] = []  # (tool call id, content) of the calls that do not run
        for call in _unanswered_calls(input.messages):
            tool = self.tools.get(call.function.name)
            if tool is None or not tool.needs_approval(call.function.arguments):
                continue
            entry = answers.get(approval_id(call.id))
            payload = entry.payload if entry is not None and isinstance(entry.payload, dict) else {}
            if entry is None:
                verdicts.append((call.id, _UNKNOWN_OUTCOME))
            elif entry.status == "resolved" and payload.get("approved") is True:
                edited = payload.get("arguments")
                arguments = (
                    msgspec.json.encode(edited).decode() if isinstance(edited, dict) else call.function.arguments
                )
                run_now.append(ToolCallRequest(call.id, call.function.name, arguments))
            else:
                verdicts.append((call.id, _REFUSED))
        for call_id, content in verdicts:
            answered.append(ToolMessage(id=ctx.new_id("tool"), tool_call_id=call_id, content=content))
            yield ev.ToolCallResultEvent(message_id=answered[-1].id, tool_call_id=call_id, content=content, role="tool")
        results: list[ToolResult] = []
        async for event in self._run_tools(run_now, ctx, deadline, results):
            if isinstance(event, ev.ToolCallResultEvent) and isinstance(event.content, str):
                answered.append(
                    ToolMessage(id=event.message_id, tool_call_id=event.tool_call_id, content=event.content)
                )
            yield event

    def _ending(
        self, input: RunAgentInput, turn: Turn, usage: UsageTotals
    ) -> ev.RunFinishedEvent | ev.RunErrorEvent | None:
        """The terminal event a turn's stop calls for, or ``None`` when the loop goes on."""
        stop = turn.stop
        if stop == "filtered":
            return ev.RunErrorEvent(
                code=errors.CONTENT_FILTERED,
                message=f"The model provider's safety system stopped the answer ({turn.stop_reason}).",
                usage=usage.as_list(),
                metadata=turn.metadata(usage=False),
            )
        if stop == "length" and (turn.has_open_tool_call or turn.tool_calls):
            return ev.RunErrorEvent(
                code=errors.OUTPUT_TRUNCATED,
                message="The model reached its output limit in the middle of a tool call "
                f"({turn.stop_reason}); raise the output token limit.",
                usage=usage.as_list(),
                metadata=turn.metadata(usage=False),
            )
        invalid = turn.invalid_client_calls
        if invalid:
            return ev.RunErrorEvent(
                code=errors.TOOL_ARGUMENTS_INVALID,
                message=f"The model called the tool {invalid[0]} with arguments that are not a JSON object; "
                "the call was not completed.",
                usage=usage.as_list(),
            )
        if stop == "pause" or turn.tool_calls:
            return None
        return ev.RunFinishedEvent(
            thread_id=input.thread_id,
            run_id=input.run_id,
            result={"stopReason": turn.stop_reason} if stop == "length" else None,
            usage=usage.as_list(),
            metadata=turn.metadata(usage=False),
        )

    async def _turn(
        self, client: httpx.AsyncClient, conversation: C, turn: Turn, deadline: Deadline
    ) -> AsyncIterator[ev.Event]:
        """One turn's events, retrying the request while nothing of it has reached the client."""
        attempt = 0
        run = current_run()
        while True:
            url, headers, body = self.request(conversation)
            call = ModelCall(run, self.provider, self.model, self.base_url)  # its span and metrics, when on
            try:
                async with open_stream(
                    client, url, headers=headers, body=body, deadline=deadline, secrets=(self.api_key,)
                ) as response:
                    async for event in self.read(response, turn, deadline):
                        call.first_event()
                        yield event
                call.finished(turn.usage, turn.stop_reason)
                for event in turn.finish(close_tool_calls=turn.stop != "length"):
                    yield event
                return
            except errors.UpstreamError as exc:
                call.failed(exc.code)
                wait = None if turn.emitted else self.retry.delay(attempt, exc)
                remaining = deadline.remaining()
                if wait is None or (remaining is not None and wait >= remaining):
                    raise
                logger.info("retrying the %s request in %.2f s: %s", self.provider, wait, exc.code)
                attempt += 1
                turn.reset()
                await asyncio.sleep(wait)
            except TimeoutError:
                call.failed(errors.RUN_TIMEOUT)
                raise
            finally:
                call.end()

    def _frontend_tools(self, input: RunAgentInput) -> list[Tool]:
        tools: list[Tool] = []
        for item in input.tools or ():
            if item.name in self.tools:
                logger.warning("the client offers a tool named %r; the backend tool of that name wins", item.name)
            else:
                tools.append(item)
        return tools

    @contextlib.asynccontextmanager
    async def _client(self) -> AsyncIterator[httpx.AsyncClient]:
        if self.http_client is not None:
            yield self.http_client
            return
        timeout = httpx.Timeout(self.read_timeout, connect=self.connect_timeout)
        async with httpx.AsyncClient(timeout=timeout, verify=_ssl_context(), follow_redirects=False) as client:
            yield client


_REFUSED = "The user did not approve this call; it was not run."
_UNKNOWN_OUTCOME = (
    "The outcome of this call is unknown: the run ended before the call reported a result, and it is not run "
    "again. Check its effect before calling it once more."
)


def approval_id(tool_call_id: str) -> str:
    """The id of the interrupt that asks to approve a backend tool call."""
    return f"approve-{tool_call_id}"


def _approval(call: ToolCallRequest) -> Interrupt:
    """The interrupt that asks the client to approve ``call``."""
    try:
        arguments = msgspec.json.decode(call.arguments or "{}")
    except msgspec.DecodeError:
        arguments = call.arguments
    return Interrupt(
        id=approval_id(call.id),
        reason="tool_approval",
        message=f"Allow the call to {call.name}?",
        tool_call_id=call.id,
        response_schema=_APPROVAL_SCHEMA,
        metadata={"toolName": call.name, "arguments": arguments},
    )


_APPROVAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "approved": {"type": "boolean", "description": "Run the call (true) or not (false)."},
        "arguments": {"type": "object", "description": "The call's arguments as approved (default: as asked)."},
    },
    "required": ["approved"],
}


def _unanswered_calls(messages: list[Message]) -> list[ToolCall]:
    """The tool calls in ``messages`` that no tool message answers."""
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    return [
        call
        for message in messages
        if isinstance(message, AssistantMessage) and message.tool_calls
        for call in message.tool_calls
        if call.id not in answered
    ]


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every run's client: building one costs ~20 ms of CPU, reusing it nothing."""
    return httpx.create_ssl_context()
