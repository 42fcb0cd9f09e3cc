"""Keeping the fakes honest: the official ``openai`` and ``anthropic`` packages read every scripted stream.

For each script in ``fake_openai.SCRIPTS`` and ``fake_anthropic.SCRIPTS`` the fake serves it on loopback
and the official SDK, pointed at the fake's base URL with a dummy key, requests it with ``stream=True``:

- a well-formed stream must be read to its end without error, by the raw ``create(stream=True)``
  iterator and by the SDK's accumulating ``stream()`` helper, and every event's JSON must validate
  strictly against the SDK's own pydantic types (the SDK's parser alone is lenient);
- an error script must raise the SDK's own exception for it (``RateLimitError`` for a 429...), proving
  that the fake fails the way the provider does; the malformed script must make the SDK fail too.

A script missing from the expectation tables fails the suite, so no fake stream goes unchecked.
"""

from __future__ import annotations

import json
import typing
from typing import TYPE_CHECKING, Any

import anthropic
import openai
import pytest
from anthropic.types import RawMessageStreamEvent
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent
from pydantic import TypeAdapter

from tests.support import fake_anthropic as fa
from tests.support import fake_openai as fo
from tests.support import fake_openai_responses as fr
from tests.support.server import running_server

if TYPE_CHECKING:
    from collections.abc import Awaitable, Iterator

OK = None
HANGS = "hangs"

OPENAI_EXPECT: dict[str, Any] = {
    "text": OK,
    "parallel_tool_calls": OK,
    "tool_call": OK,
    "reasoning": OK,
    "finish_length": OK,
    "finish_content_filter": OK,
    "truncated_tool_call": OK,
    "legacy_function_call": OK,
    "no_usage_no_done": OK,
    "cut_off": OK,  # the SDK does not notice a missing [DONE]; the adapter does
    "malformed": json.JSONDecodeError,
    "stream_error": openai.APIError,
    "slow": OK,
    "hang_after_text": HANGS,
    "unauthorized": openai.AuthenticationError,
    "rate_limited": openai.RateLimitError,
    "unavailable": openai.InternalServerError,
    "context_too_long": openai.BadRequestError,
}

ANTHROPIC_EXPECT: dict[str, Any] = {
    "text": OK,
    "parallel_tool_calls": OK,
    "tool_call": OK,
    "mixed_tool_calls": OK,
    "thinking_then_tool": OK,
    "thinking": OK,
    "redacted_thinking": OK,
    "stop_max_tokens": OK,
    "stop_sequence": OK,
    "stop_refusal": OK,
    "pause_turn": OK,
    "truncated_tool_call": OK,
    "cut_off": OK,  # the SDK's raw iterator does not notice a missing message_stop; the adapter does
    "malformed": json.JSONDecodeError,
    "stream_error": anthropic.APIStatusError,
    "slow": OK,
    "hang_after_text": HANGS,
    "unauthorized": anthropic.AuthenticationError,
    "rate_limited": anthropic.RateLimitError,
    "overloaded": anthropic.OverloadedError,
    "context_too_long": anthropic.BadRequestError,
}

RESPONSES_EXPECT: dict[str, Any] = {
    "text": OK,
    "reasoning": OK,
    "parallel_tool_calls": OK,
    "tool_call": OK,
    "reasoning_then_call": OK,
    "incomplete_length": OK,
    "incomplete_content_filter": OK,
    "truncated_tool_call": OK,
    "failed": OK,  # the raw iterator hands the event over (the adapter raises on it)
    "stream_error": OK,  # an `error` event as the API documents it (no `error` object): the SDK hands it over
    "cut_off": OK,  # the SDK's raw iterator does not notice a missing terminal event; the adapter does
    "malformed": json.JSONDecodeError,
    "rate_limited": openai.RateLimitError,
    "unavailable": openai.InternalServerError,
    "unauthorized": openai.AuthenticationError,
}

_CHUNK: TypeAdapter[Any] = TypeAdapter(ChatCompletionChunk)
_RESPONSE_EVENTS: dict[str, TypeAdapter[Any]] = {
    typing.get_args(member.model_fields["type"].annotation)[0]: TypeAdapter(member)
    for member in typing.get_args(typing.get_args(ResponseStreamEvent)[0])
}
"""Each Responses stream event type's own SDK model (validating against the whole union hides the cause)."""
_EVENT: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def _data_lines(script: fo.Script) -> Iterator[str]:
    body = b"".join(step for step in script.steps if isinstance(step, bytes))
    for block in body.split(b"\n\n"):
        for line in block.split(b"\n"):
            if line.startswith(b"data: "):
                yield line[6:].decode()


def test_every_script_has_an_expectation() -> None:
    assert set(OPENAI_EXPECT) == set(fo.SCRIPTS)
    assert set(ANTHROPIC_EXPECT) == set(fa.SCRIPTS)
    assert set(RESPONSES_EXPECT) == set(fr.SCRIPTS)


# --- OpenAI --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(fo.SCRIPTS))
async def test_openai_sdk_reads_the_fake_stream(name: str) -> None:
    expected = OPENAI_EXPECT[name]
    fake = fo.openai_upstream().add(fo.SCRIPTS[name](), fo.SCRIPTS[name]())
    async with running_server(fake) as base:
        client = openai.AsyncOpenAI(api_key=fo.API_KEY, base_url=base + "/v1", max_retries=0, timeout=10)
        request: dict[str, Any] = {"model": fo.MODEL, "messages": [{"role": "user", "content": "Hi"}]}
        if expected is HANGS:
            stream = await client.chat.completions.create(**request, stream=True)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            await stream.close()
            assert await _wait(fake.disconnected)
        elif expected is OK:
            stream = await client.chat.completions.create(**request, stream=True)
            chunks = [chunk async for chunk in stream]
            assert chunks
            async with client.chat.completions.stream(**request) as helper:
                async for _ in helper:
                    pass
            for data in _data_lines(fo.SCRIPTS[name]()):
                if data != "[DONE]":
                    _CHUNK.validate_python(json.loads(data), strict=True)
        else:
            with pytest.raises(expected):
                await _read_all(client.chat.completions.create(**request, stream=True))
        await client.close()
    assert fake.validation_errors == []


# --- OpenAI Responses ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(fr.SCRIPTS))
async def test_openai_sdk_reads_the_fake_responses_stream(name: str) -> None:
    expected = RESPONSES_EXPECT[name]
    fake = fr.responses_upstream().add(fr.SCRIPTS[name](), fr.SCRIPTS[name]())
    async with running_server(fake) as base:
        client = openai.AsyncOpenAI(api_key=fo.API_KEY, base_url=base + "/v1", max_retries=0, timeout=10)
        request: dict[str, Any] = {"model": fo.MODEL, "input": [{"role": "user", "content": "Hi"}], "store": False}
        if expected is OK:
            stream = await client.responses.create(**request, stream=True)
            kinds = [event.type async for event in stream]
            assert kinds[0] == "response.created"
            if kinds[-1] == "response.completed":  # the helper rebuilds the whole response from the events
                async with client.responses.stream(**request) as helper:
                    async for _ in helper:
                        pass
                    final = await helper.get_final_response()
                assert final.status == "completed"
            else:
                fake.scripts.clear()
            for data in _data_lines(fr.SCRIPTS[name]()):
                event = json.loads(data)
                _RESPONSE_EVENTS[event["type"]].validate_python(event, strict=True)
        else:
            with pytest.raises(expected):
                await _read_all(client.responses.create(**request, stream=True))
        await client.close()
    assert fake.validation_errors == []


# --- Anthropic -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(fa.SCRIPTS))
async def test_anthropic_sdk_reads_the_fake_stream(name: str) -> None:
    expected = ANTHROPIC_EXPECT[name]
    fake = fa.anthropic_upstream().add(fa.SCRIPTS[name](), fa.SCRIPTS[name]())
    async with running_server(fake) as base:
        client = anthropic.AsyncAnthropic(api_key=fa.API_KEY, base_url=base, max_retries=0, timeout=10)
        request: dict[str, Any] = {
            "model": fa.MODEL,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": "Hi"}],
        }
        if expected is HANGS:
            stream = await client.messages.create(**request, stream=True)
            async for event in stream:
                if event.type == "content_block_delta":
                    break
            await stream.close()
            assert await _wait(fake.disconnected)
        elif expected is OK:
            stream = await client.messages.create(**request, stream=True)
            events = [event async for event in stream]
            assert events
            if name != "cut_off":  # the helper wants the whole message
                async with client.messages.stream(**request) as helper:
                    async for _ in helper:
                        pass
                    message = await helper.get_final_message()
                assert message.stop_reason is not None
            else:
                fake.scripts.clear()
            for data in _data_lines(fa.SCRIPTS[name]()):
                event = json.loads(data)
                if event["type"] != "ping":
                    _EVENT.validate_python(event, strict=True)
        else:
            with pytest.raises(expected):
                await _read_all(client.messages.create(**request, stream=True))
        await client.close()
    assert fake.validation_errors == []


async def _read_all(started: Awaitable[Any]) -> None:
    """Start a streamed request and read it to its end."""
    stream = await started
    async for _ in stream:
        pass


async def _wait(event: Any) -> bool:
    import asyncio

    await asyncio.wait_for(event.wait(), 2)
    return True
