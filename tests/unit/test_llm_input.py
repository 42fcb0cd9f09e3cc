"""AG-UI history → provider messages: ordering repairs, media, thinking signatures."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from agui_server.agents._llm_anthropic_input import REDACTED_PREFIX, anthropic_conversation, anthropic_tools
from agui_server.agents._llm_history import MISSING_RESULT, normalized
from agui_server.agents._llm_openai_input import openai_messages, openai_tools
from agui_server.agents._llm_responses_input import responses_input, responses_tools
from agui_server.agents.errors import UNSUPPORTED_CONTENT, UpstreamError
from agui_server.agents.tools import tool
from agui_server.protocol.encoding import decode_input
from agui_server.protocol.types import RunAgentInput, ToolMessage

if TYPE_CHECKING:
    from collections.abc import Callable


def run_input(messages: list[dict[str, Any]], **extra: Any) -> RunAgentInput:
    return decode_input(json.dumps({"threadId": "t", "runId": "r", "messages": messages, **extra}).encode())


def call(call_id: str, name: str = "f", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_tool_results_are_moved_next_to_their_call_and_gaps_filled() -> None:
    history = run_input(
        [
            {"id": "u", "role": "user", "content": "go"},
            {"id": "a", "role": "assistant", "toolCalls": [call("c1"), call("c2")]},
            {"id": "u2", "role": "user", "content": "meanwhile"},
            {"id": "t1", "role": "tool", "toolCallId": "c1", "content": "one"},
            {"id": "t9", "role": "tool", "toolCallId": "unknown", "content": "orphan"},
            {"id": "a2", "role": "assistant", "toolCalls": [call("c1")]},  # a duplicate of c1
        ]
    ).messages
    order = [(type(m).__name__, getattr(m, "tool_call_id", m.id)) for m in normalized(history)]
    assert order == [
        ("UserMessage", "u"),
        ("AssistantMessage", "a"),
        ("ToolMessage", "c1"),
        ("ToolMessage", "c2"),
        ("UserMessage", "u2"),
        ("AssistantMessage", "a2"),
    ]
    filled = normalized(history)[3]
    assert isinstance(filled, ToolMessage)
    assert filled.content == MISSING_RESULT
    assert normalized(history)[-1].tool_calls is None  # type: ignore[union-attr]


def test_openai_media_parts() -> None:
    messages = openai_messages(
        run_input(
            [
                {
                    "id": "u",
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "audio", "source": {"type": "data", "value": "AAA=", "mimeType": "audio/wav"}},
                        {
                            "type": "document",
                            "source": {"type": "data", "value": "JVBE", "mimeType": "application/pdf"},
                        },
                        {"type": "document", "source": {"type": "file", "value": "file-123"}},
                        {"type": "binary", "mimeType": "image/jpeg", "data": "/9j/"},
                    ],
                }
            ]
        )
    )
    assert messages[0]["content"] == [
        {"type": "text", "text": "look"},
        {"type": "input_audio", "input_audio": {"data": "AAA=", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBE", "filename": "document"}},
        {"type": "file", "file": {"file_id": "file-123"}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
    ]


def test_openai_text_parts_become_a_string_and_tool_errors_are_marked() -> None:
    messages = openai_messages(
        run_input(
            [
                {"id": "u", "role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
                {"id": "a", "role": "assistant", "toolCalls": [call("c")]},
                {"id": "t", "role": "tool", "toolCallId": "c", "content": "partial", "error": "boom"},
                {"id": "empty", "role": "assistant", "content": ""},
            ]
        )
    )
    assert messages[0] == {"role": "user", "content": "a\nb"}
    assert "content" not in messages[1]  # beside tool calls an empty text is left out, never null
    assert messages[2] == {"role": "tool", "tool_call_id": "c", "name": "f", "content": "Error: boom\npartial"}
    assert len(messages) == 3


def test_tool_definitions() -> None:
    @tool
    def lookup(q: str) -> str:
        """Find."""
        return q

    frontend = run_input([], tools=[{"name": "ui", "description": "Show.", "parameters": None}]).tools or []
    assert openai_tools([lookup], frontend)[1] == {
        "type": "function",
        "function": {"name": "ui", "description": "Show.", "parameters": {"type": "object", "properties": {}}},
    }
    assert anthropic_tools([lookup], frontend) == [
        {
            "name": "lookup",
            "description": "Find.",
            "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
        },
        {"name": "ui", "description": "Show.", "input_schema": {"type": "object", "properties": {}}},
    ]


def test_anthropic_thinking_signatures_come_back() -> None:
    system, messages = anthropic_conversation(
        run_input(
            [
                {"id": "u", "role": "user", "content": "hi"},
                {"id": "r1", "role": "reasoning", "content": "signed thought", "encryptedValue": "sig-1"},
                {"id": "r2", "role": "reasoning", "content": "", "encryptedValue": REDACTED_PREFIX + "opaque"},
                {"id": "r3", "role": "reasoning", "content": "unsigned thought"},
                {"id": "a", "role": "assistant", "content": "hello", "encryptedValue": "sig-3"},
                {"id": "r4", "role": "reasoning", "content": "dangling", "encryptedValue": "sig-4"},
                {"id": "u2", "role": "user", "content": "again"},
                {"id": "r5", "role": "reasoning", "content": "never signed"},
                {"id": "a2", "role": "assistant", "content": "ok"},
            ]
        ),
        "Be nice.",
    )
    assert system == "Be nice."
    assert messages[1]["content"] == [
        {"type": "thinking", "thinking": "signed thought", "signature": "sig-1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "thinking", "thinking": "unsigned thought", "signature": "sig-3"},
        {"type": "text", "text": "hello"},
    ]
    assert messages[2] == {"role": "user", "content": [{"type": "text", "text": "again"}]}
    assert messages[3]["content"] == [{"type": "text", "text": "ok"}]


def test_anthropic_merges_turns_and_reads_broken_arguments_as_empty() -> None:
    _, messages = anthropic_conversation(
        run_input(
            [
                {"id": "u", "role": "user", "content": "one"},
                {"id": "u2", "role": "user", "content": [{"type": "text", "text": "two"}]},
                {"id": "a", "role": "assistant", "content": "x", "toolCalls": [call("c", "f", "{not json")]},
                {"id": "a2", "role": "assistant", "content": "y"},
            ]
        )
    )
    assert messages == [
        {"role": "user", "content": [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "x"},
                {"type": "tool_use", "id": "c", "name": "f", "input": {}},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c", "content": MISSING_RESULT}]},
        {"role": "assistant", "content": [{"type": "text", "text": "y"}]},
    ]


def test_responses_input_items_and_media() -> None:
    items = responses_input(
        run_input(
            [
                {"id": "s", "role": "system", "content": "Be brief."},
                {"id": "d", "role": "developer", "content": "Metric units."},
                {
                    "id": "u",
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "look"},
                        {"type": "image", "source": {"type": "url", "value": "https://x/cat.png"}},
                        {"type": "image", "source": {"type": "file", "value": "file-img"}},
                        {
                            "type": "document",
                            "source": {"type": "data", "value": "JVBE", "mimeType": "application/pdf"},
                        },
                        {"type": "document", "source": {"type": "url", "value": "https://x/a.pdf"}},
                        {"type": "binary", "mimeType": "image/jpeg", "data": "/9j/"},
                    ],
                },
                {
                    "id": "a",
                    "role": "assistant",
                    "content": "Checking.",
                    "toolCalls": [call("c1", "lookup", '{"q":1}')],
                },
                {"id": "t", "role": "tool", "toolCallId": "c1", "content": "", "error": "boom"},
                {"id": "r", "role": "reasoning", "content": "private"},
                {"id": "u2", "role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            ],
            context=[{"description": "City", "value": "Paris"}],
        )
    )
    assert items == [
        {"role": "developer", "content": "Context provided by the application:\n\nCity:\nParis"},
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "Metric units."},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "detail": "auto", "image_url": "https://x/cat.png"},
                {"type": "input_image", "detail": "auto", "file_id": "file-img"},
                {"type": "input_file", "filename": "document", "file_data": "data:application/pdf;base64,JVBE"},
                {"type": "input_file", "file_url": "https://x/a.pdf"},
                {"type": "input_image", "detail": "auto", "image_url": "data:image/jpeg;base64,/9j/"},
            ],
        },
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "c1", "name": "lookup", "arguments": '{"q":1}'},
        {"type": "function_call_output", "call_id": "c1", "output": "Error: boom"},
        {"role": "user", "content": "a\nb"},
    ]
    frontend = run_input([], tools=[{"name": "ui", "description": "Show.", "parameters": None}]).tools or []
    assert responses_tools([], frontend) == [
        {
            "type": "function",
            "name": "ui",
            "description": "Show.",
            "parameters": {"type": "object", "properties": {}},
            "strict": False,
        }
    ]


def _anthropic(history: RunAgentInput) -> Any:
    return anthropic_conversation(history)


@pytest.mark.parametrize(
    ("mapping", "part", "what"),
    [
        (openai_messages, {"type": "video", "source": {"type": "url", "value": "https://v/x.mp4",
                                                        "mimeType": "video/mp4"}},
         "The video (video/mp4) part #2 of message u, given as a URL, cannot be sent: the OpenAI Chat Completions"),
        (openai_messages, {"type": "audio", "source": {"type": "data", "value": "AAA=", "mimeType": "audio/ogg"}},
         "The audio (audio/ogg) part #2 of message u, given as inline data"),
        (openai_messages, {"type": "document", "source": {"type": "url", "value": "https://x/a.pdf"}},
         "The document part #2 of message u, given as a URL"),
        (responses_input, {"type": "audio", "source": {"type": "data", "value": "AAA=", "mimeType": "audio/wav"}},
         "The audio (audio/wav) part #2 of message u, given as inline data, cannot be sent: the OpenAI Responses"),
        (responses_input, {"type": "video", "source": {"type": "file", "value": "file-v"}},
         "The video part #2 of message u, given as a file id"),
        (_anthropic, {"type": "audio", "source": {"type": "data", "value": "AAA=", "mimeType": "audio/wav"}},
         "The audio (audio/wav) part #2 of message u, given as inline data, cannot be sent: the Anthropic Messages"),
        (_anthropic, {"type": "binary", "mimeType": "video/mp4", "url": "https://v/x.mp4"},
         "The video (video/mp4) part #2 of message u, given as a URL"),
    ],
)  # fmt: skip
def test_a_part_the_provider_cannot_take_is_unsupported_content(
    mapping: Callable[[RunAgentInput], Any], part: dict[str, Any], what: str
) -> None:
    history = run_input([{"id": "u", "role": "user", "content": [{"type": "text", "text": "see"}, part]}])
    with pytest.raises(UpstreamError) as caught:
        mapping(history)
    assert caught.value.code == UNSUPPORTED_CONTENT
    assert caught.value.message.startswith(what)
    assert not caught.value.retryable
