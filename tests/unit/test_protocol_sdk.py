"""Our msgspec wire model, proven against the official Python SDK ``ag-ui-protocol==1.0.0``.

Both directions are checked for every event in our ``Event`` union:

* ours -> SDK: each event, built once with every optional field set and once with only the required
  ones, is encoded with ``encode_event`` and must validate with the SDK's model of the same name, with no
  key the SDK does not know and with the SDK re-serialising it to the very same JSON;
* SDK -> ours: each SDK event, encoded by ``ag_ui.encoder.EventEncoder``, must decode with
  ``decode_event`` to our Struct of the same name with the same field values.

The tables are keyed by our union, so adding an event type without adding it here fails the suite.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterator
from typing import Any

import ag_ui.core as sdk
import msgspec
import pytest
from ag_ui.encoder import EventEncoder
from pydantic import BaseModel, TypeAdapter, ValidationError

from agui_server.protocol import events as ev
from agui_server.protocol import types as ty
from agui_server.protocol.encoding import decode_event, decode_input, encode_event, encode_json

EVENT_TYPES: tuple[type[Any], ...] = typing.get_args(ev.Event)
SDK_EVENT_TYPES: tuple[type[Any], ...] = typing.get_args(typing.get_args(sdk.Event)[0])
SDK_EVENT_ADAPTER: TypeAdapter[Any] = TypeAdapter(sdk.Event)
SDK_INPUT_ADAPTER: TypeAdapter[sdk.RunAgentInput] = TypeAdapter(sdk.RunAgentInput)


def _tag(cls: type[Any]) -> str:
    return str(cls.__struct_config__.tag)


# --- shared pieces ---------------------------------------------------------------------------------

TS = 1_712_345_678_901
# User data deliberately carries snake_case keys: they are data and must pass through verbatim.
META = {"trace_id": "abc", "nested": {"snake_key": [1, 2]}}
RAW = {"provider_event": {"id": "evt_1", "object_type": "chunk"}}
BASE: dict[str, Any] = {"timestamp": TS, "raw_event": RAW, "metadata": META}
ATTR: dict[str, Any] = {**BASE, "subagent_run_id": "sub-1"}

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _usage() -> list[ty.TokenUsage]:
    return [
        ty.TokenUsage(
            provider="openai",
            model="gpt-4o",
            input_tokens=100,
            output_tokens=20,
            total_tokens=120,
            reasoning_tokens=5,
            cached_input_tokens=30,
            cache_write_input_tokens=10,
        ),
        ty.TokenUsage(),
    ]


def _interrupt() -> ty.Interrupt:
    return ty.Interrupt(
        id="int-1",
        reason="approval",
        message="Send the email?",
        tool_call_id="tc-1",
        response_schema={"type": "object", "properties": {"approved": {"type": "boolean"}}},
        expires_at="2026-09-30T12:00:00Z",
        metadata=META,
        subagent_run_id="sub-1",
    )


def _parts() -> list[ty.ContentPart]:
    return [
        ty.TextPart(text="Look at this", id="p-1", metadata=META),
        ty.ImagePart(source=ty.DataSource(value="aGVsbG8=", mime_type="image/png"), id="p-2", metadata=META),
        ty.ImagePart(source=ty.UrlSource(value="https://example.com/cat.jpg", mime_type="image/jpeg")),
        ty.AudioPart(source=ty.UrlSource(value="https://example.com/a.mp3")),
        ty.VideoPart(source=ty.DataSource(value="AAAA", mime_type="video/mp4")),
        ty.DocumentPart(source=ty.FileSource(value="file-abc123", provider="openai", mime_type="application/pdf")),
        ty.DocumentPart(source=ty.FileSource(value="file-xyz")),
    ]


def _messages() -> list[ty.Message]:
    """One message of every role, every optional field set somewhere."""
    return [
        ty.DeveloperMessage(
            id="m-dev", content="Be terse.", name="dev", encrypted_value="enc-d", metadata=META, subagent_run_id="sub-1"
        ),
        ty.SystemMessage(id="m-sys", content="You are helpful.", name="sys", encrypted_value="enc-s", metadata=META),
        ty.UserMessage(id="m-user", content="Hello", name="alice", encrypted_value="enc-u", metadata=META),
        ty.UserMessage(id="m-user-parts", content=_parts()),
        ty.AssistantMessage(
            id="m-asst",
            content="Let me check.",
            tool_calls=[
                ty.ToolCall(
                    id="tc-1",
                    function=ty.FunctionCall(name="get_weather", arguments='{"city":"Paris"}'),
                    encrypted_value="enc-tc",
                    metadata=META,
                ),
                ty.ToolCall(id="tc-2", function=ty.FunctionCall(name="noop", arguments="{}")),
            ],
            name="bot",
            encrypted_value="enc-a",
            metadata=META,
            subagent_run_id="sub-1",
        ),
        ty.AssistantMessage(id="m-asst-bare"),
        ty.ToolMessage(id="m-tool", content="Sunny", tool_call_id="tc-1", error="partial", encrypted_value="enc-t"),
        ty.ToolMessage(id="m-tool-parts", content=[ty.TextPart(text="22C")], tool_call_id="tc-2", metadata=META),
        ty.ActivityMessage(id="m-act", activity_type="progress", content={"percent": 50, "step_name": "fetch"}),
        ty.ReasoningMessage(id="m-reason", content="Thinking...", encrypted_value="enc-r", metadata=META),
    ]


def _full_input() -> ty.RunAgentInput:
    return ty.RunAgentInput(
        thread_id="thread-1",
        run_id="run-1",
        protocol_version="1.0",
        parent_run_id="run-0",
        state={"counter": 1, "user_prefs": {"dark_mode": True}},
        messages=_messages(),
        tools=[
            ty.Tool(name="get_weather", description="Weather by city", parameters=SCHEMA, metadata=META),
            ty.Tool(name="noop", description="Takes no arguments"),
        ],
        context=[ty.Context(description="timezone", value="Europe/Paris")],
        forwarded_props={"copilotkit": {"thread_meta": 1}},
        resume=[
            ty.ResumeEntry(interrupt_id="int-1", status="resolved", payload={"approved": True}, metadata=META),
            ty.ResumeEntry(interrupt_id="int-2", status="cancelled"),
        ],
    )


PATCH: list[dict[str, Any]] = [
    {"op": "add", "path": "/items/-", "value": {"id": 1}},
    {"op": "remove", "path": "/old"},
    {"op": "replace", "path": "/count", "value": 3},
    {"op": "move", "from": "/a", "path": "/b"},
    {"op": "copy", "from": "/b", "path": "/c"},
    {"op": "test", "path": "/count", "value": 3},
    {"op": "add", "path": "/escaped~1key~0x", "value": "ok"},
]

# --- our events: one "minimal" (required fields only) and one or more fuller variants per type -----

Builder = Callable[[], Any]

EVENT_CASES: dict[type[Any], dict[str, Builder]] = {
    ev.RunStartedEvent: {
        "minimal": lambda: ev.RunStartedEvent(thread_id="thread-1", run_id="run-1"),
        "full": lambda: ev.RunStartedEvent(
            thread_id="thread-1",
            run_id="run-1",
            protocol_version="1.0",
            parent_run_id="run-0",
            input=_full_input(),
            **BASE,
        ),
    },
    ev.RunFinishedEvent: {
        "minimal": lambda: ev.RunFinishedEvent(thread_id="thread-1", run_id="run-1"),
        "full": lambda: ev.RunFinishedEvent(
            thread_id="thread-1",
            run_id="run-1",
            result={"answer": 42, "snake_key": True},
            outcome=ev.InterruptOutcome(interrupts=[_interrupt(), ty.Interrupt(id="int-2", reason="input")]),
            usage=_usage(),
            **BASE,
        ),
        "success-pending": lambda: ev.RunFinishedEvent(
            thread_id="thread-1", run_id="run-1", outcome=ev.SuccessOutcome(pending_tool_call_ids=["tc-1", "tc-2"])
        ),
        "success-bare": lambda: ev.RunFinishedEvent(thread_id="thread-1", run_id="run-1", outcome=ev.SuccessOutcome()),
        "cancelled": lambda: ev.RunFinishedEvent(thread_id="thread-1", run_id="run-1", outcome=ev.CancelledOutcome()),
    },
    ev.RunErrorEvent: {
        "minimal": lambda: ev.RunErrorEvent(message="boom"),
        "full": lambda: ev.RunErrorEvent(message="boom", code="RATE_LIMIT", usage=_usage(), **BASE),
    },
    ev.StepStartedEvent: {
        "minimal": lambda: ev.StepStartedEvent(step_name="plan"),
        "full": lambda: ev.StepStartedEvent(step_name="plan", **ATTR),
    },
    ev.StepFinishedEvent: {
        "minimal": lambda: ev.StepFinishedEvent(step_name="plan"),
        "full": lambda: ev.StepFinishedEvent(step_name="plan", **ATTR),
    },
    ev.TextMessageStartEvent: {
        "minimal": lambda: ev.TextMessageStartEvent(message_id="m-1"),
        "full": lambda: ev.TextMessageStartEvent(message_id="m-1", role="user", name="alice", **ATTR),
    },
    ev.TextMessageContentEvent: {
        "minimal": lambda: ev.TextMessageContentEvent(message_id="m-1", delta="Hello"),
        "full": lambda: ev.TextMessageContentEvent(message_id="m-1", delta='line\r\nbreak \u2028 "q"', **ATTR),
        "empty-delta": lambda: ev.TextMessageContentEvent(message_id="m-1", delta=""),
    },
    ev.TextMessageEndEvent: {
        "minimal": lambda: ev.TextMessageEndEvent(message_id="m-1"),
        "full": lambda: ev.TextMessageEndEvent(message_id="m-1", **ATTR),
    },
    ev.TextMessageChunkEvent: {
        "minimal": lambda: ev.TextMessageChunkEvent(),
        "full": lambda: ev.TextMessageChunkEvent(message_id="m-1", role="assistant", delta="Hi", name="bot", **ATTR),
    },
    ev.ToolCallStartEvent: {
        "minimal": lambda: ev.ToolCallStartEvent(tool_call_id="tc-1", tool_call_name="get_weather"),
        "full": lambda: ev.ToolCallStartEvent(
            tool_call_id="tc-1", tool_call_name="get_weather", parent_message_id="m-1", **ATTR
        ),
    },
    ev.ToolCallArgsEvent: {
        "minimal": lambda: ev.ToolCallArgsEvent(tool_call_id="tc-1", delta='{"city":'),
        "full": lambda: ev.ToolCallArgsEvent(tool_call_id="tc-1", delta='"Paris"}', **ATTR),
    },
    ev.ToolCallEndEvent: {
        "minimal": lambda: ev.ToolCallEndEvent(tool_call_id="tc-1"),
        "full": lambda: ev.ToolCallEndEvent(tool_call_id="tc-1", **ATTR),
    },
    ev.ToolCallChunkEvent: {
        "minimal": lambda: ev.ToolCallChunkEvent(),
        "full": lambda: ev.ToolCallChunkEvent(
            tool_call_id="tc-1", tool_call_name="get_weather", parent_message_id="m-1", delta="{}", **ATTR
        ),
    },
    ev.ToolCallResultEvent: {
        "minimal": lambda: ev.ToolCallResultEvent(message_id="m-2", tool_call_id="tc-1", content="Sunny"),
        "full": lambda: ev.ToolCallResultEvent(
            message_id="m-2", tool_call_id="tc-1", content=_parts(), role="tool", **ATTR
        ),
    },
    ev.StateSnapshotEvent: {
        "minimal": lambda: ev.StateSnapshotEvent(snapshot={"count": 1}),
        "full": lambda: ev.StateSnapshotEvent(snapshot={"count": 1, "user_prefs": {"dark_mode": True}}, **ATTR),
    },
    ev.StateDeltaEvent: {
        "minimal": lambda: ev.StateDeltaEvent(delta=[]),
        "full": lambda: ev.StateDeltaEvent(delta=PATCH, **ATTR),
    },
    ev.MessagesSnapshotEvent: {
        "minimal": lambda: ev.MessagesSnapshotEvent(messages=[]),
        "full": lambda: ev.MessagesSnapshotEvent(messages=_messages(), **BASE),
    },
    ev.ActivitySnapshotEvent: {
        "minimal": lambda: ev.ActivitySnapshotEvent(message_id="a-1", activity_type="plan", content={}),
        "full": lambda: ev.ActivitySnapshotEvent(
            message_id="a-1", activity_type="plan", content={"steps": ["a"], "step_count": 1}, replace=False, **ATTR
        ),
    },
    ev.ActivityDeltaEvent: {
        "minimal": lambda: ev.ActivityDeltaEvent(message_id="a-1", activity_type="plan", patch=[]),
        "full": lambda: ev.ActivityDeltaEvent(message_id="a-1", activity_type="plan", patch=PATCH, **ATTR),
    },
    ev.ReasoningStartEvent: {
        "minimal": lambda: ev.ReasoningStartEvent(message_id="r-1"),
        "full": lambda: ev.ReasoningStartEvent(message_id="r-1", **ATTR),
    },
    ev.ReasoningMessageStartEvent: {
        "minimal": lambda: ev.ReasoningMessageStartEvent(message_id="r-1"),
        "full": lambda: ev.ReasoningMessageStartEvent(message_id="r-1", role="reasoning", **ATTR),
    },
    ev.ReasoningMessageContentEvent: {
        "minimal": lambda: ev.ReasoningMessageContentEvent(message_id="r-1", delta="Hmm"),
        "full": lambda: ev.ReasoningMessageContentEvent(message_id="r-1", delta="Hmm", **ATTR),
    },
    ev.ReasoningMessageEndEvent: {
        "minimal": lambda: ev.ReasoningMessageEndEvent(message_id="r-1"),
        "full": lambda: ev.ReasoningMessageEndEvent(message_id="r-1", **ATTR),
    },
    ev.ReasoningMessageChunkEvent: {
        "minimal": lambda: ev.ReasoningMessageChunkEvent(),
        "full": lambda: ev.ReasoningMessageChunkEvent(message_id="r-1", delta="Hmm", **ATTR),
    },
    ev.ReasoningEndEvent: {
        "minimal": lambda: ev.ReasoningEndEvent(message_id="r-1"),
        "full": lambda: ev.ReasoningEndEvent(message_id="r-1", **ATTR),
    },
    ev.ReasoningEncryptedValueEvent: {
        "minimal": lambda: ev.ReasoningEncryptedValueEvent(subtype="message", entity_id="r-1", encrypted_value="xyz"),
        "full": lambda: ev.ReasoningEncryptedValueEvent(
            subtype="tool-call", entity_id="tc-1", encrypted_value="xyz", **ATTR
        ),
    },
    ev.SubagentStartedEvent: {
        "minimal": lambda: ev.SubagentStartedEvent(subagent_run_id="sub-1", name="researcher"),
        "full": lambda: ev.SubagentStartedEvent(
            subagent_run_id="sub-2",
            name="researcher",
            description="Looks things up",
            parent_subagent_run_id="sub-1",
            parent_tool_call_id="tc-1",
            parent_message_id="m-1",
            **BASE,
        ),
    },
    ev.SubagentFinishedEvent: {
        "minimal": lambda: ev.SubagentFinishedEvent(subagent_run_id="sub-1"),
        "full": lambda: ev.SubagentFinishedEvent(
            subagent_run_id="sub-1",
            result={"found": 3},
            outcome=ev.SubagentSuspendedOutcome(interrupt_ids=["int-1"]),
            **BASE,
        ),
        "success": lambda: ev.SubagentFinishedEvent(subagent_run_id="sub-1", outcome=ev.SubagentSuccessOutcome()),
        "suspended-bare": lambda: ev.SubagentFinishedEvent(
            subagent_run_id="sub-1", outcome=ev.SubagentSuspendedOutcome()
        ),
    },
    ev.SubagentErrorEvent: {
        "minimal": lambda: ev.SubagentErrorEvent(subagent_run_id="sub-1", message="failed"),
        "full": lambda: ev.SubagentErrorEvent(subagent_run_id="sub-1", message="failed", code="TIMEOUT", **BASE),
    },
    ev.RawEvent: {
        "minimal": lambda: ev.RawEvent(event={"kind": "x"}),
        "full": lambda: ev.RawEvent(event={"kind": "x", "snake_key": 1}, source="openai", **ATTR),
    },
    ev.CustomEvent: {
        "minimal": lambda: ev.CustomEvent(name="acme:ping", value=1),
        "full": lambda: ev.CustomEvent(name="PredictState", value=[{"state_key": "doc"}], **ATTR),
    },
}

CASE_PARAMS = [
    pytest.param(cls, variant, build, id=f"{_tag(cls)}-{variant}")
    for cls, variants in EVENT_CASES.items()
    for variant, build in variants.items()
]


def _sdk_class(cls: type[Any]) -> type[BaseModel]:
    model: type[BaseModel] = getattr(sdk, cls.__name__)
    return model


def _unknown_keys(value: Any, path: str = "$") -> Iterator[str]:
    """Paths of keys a validated SDK model kept as extras, i.e. keys the SDK does not know."""
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from _unknown_keys(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _unknown_keys(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _unknown_keys(item, f"{path}.{key}")


# Fields whose value is the user's data, opaque to the protocol: their keys are not ours to case.
OPAQUE_KEYS = frozenset(
    {
        "metadata",
        "rawEvent",
        "snapshot",
        "event",
        "result",
        "state",
        "forwardedProps",
        "parameters",
        "payload",
        "responseSchema",
        "value",
    }
)


def _wire_keys(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """(path, key) for every protocol-defined key in a decoded JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            if key in OPAQUE_KEYS or (key == "content" and isinstance(item, dict)):
                continue
            yield from _wire_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _wire_keys(item, f"{path}[{i}]")


def _has_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


# --- the tables cover the whole protocol -----------------------------------------------------------


def test_every_event_in_the_union_has_cases() -> None:
    assert set(EVENT_CASES) == set(EVENT_TYPES)
    for cls, variants in EVENT_CASES.items():
        assert {"minimal", "full"} <= set(variants), cls.__name__


def test_union_matches_the_sdk_event_union_and_event_type() -> None:
    ours = {_tag(cls) for cls in EVENT_TYPES}
    assert len(EVENT_TYPES) == 31
    assert ours == {str(t) for t in ev.EventType}
    assert ours == {t.value for t in sdk.EventType}
    assert {cls.__name__ for cls in EVENT_TYPES} == {cls.__name__ for cls in SDK_EVENT_TYPES}


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=_tag)
def test_full_cases_set_every_field(cls: type[Any]) -> None:
    event = EVENT_CASES[cls]["full"]()
    unset = [name for name in cls.__struct_fields__ if getattr(event, name) is None]
    assert unset == []


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=_tag)
def test_each_struct_has_the_sdk_discriminator(cls: type[Any]) -> None:
    sdk_cls = _sdk_class(cls)
    assert sdk_cls.model_fields["type"].default.value == _tag(cls)


# --- ours -> SDK -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "variant", "build"), CASE_PARAMS)
def test_our_encoding_validates_with_the_sdk(cls: type[Any], variant: str, build: Builder) -> None:
    event = build()
    assert type(event) is cls
    data = encode_event(event)

    specific = _sdk_class(cls).model_validate_json(data)
    generic = SDK_EVENT_ADAPTER.validate_json(data)
    assert type(generic) is _sdk_class(cls)

    assert list(_unknown_keys(specific)) == [], "keys the SDK does not know"
    # The SDK writes the event back out exactly as we wrote it: same keys, same values, same omissions.
    assert specific.model_dump(mode="json", by_alias=True) == json.loads(data)


@pytest.mark.parametrize(("cls", "variant", "build"), CASE_PARAMS)
def test_our_encoding_round_trips_through_decode_event(cls: type[Any], variant: str, build: Builder) -> None:
    event = build()
    decoded = decode_event(encode_event(event))
    assert type(decoded) is cls
    assert msgspec.to_builtins(decoded) == msgspec.to_builtins(event)


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=_tag)
def test_minimal_event_carries_exactly_the_sdk_required_keys(cls: type[Any]) -> None:
    data = json.loads(encode_event(EVENT_CASES[cls]["minimal"]()))
    fields = _sdk_class(cls).model_fields
    required = {field.alias or name for name, field in fields.items() if field.is_required()}
    always_sent = {"type"}
    if cls in (ev.TextMessageStartEvent, ev.ReasoningMessageStartEvent):
        always_sent.add("role")
    assert set(data) == required | always_sent


@pytest.mark.parametrize(("cls", "variant", "build"), CASE_PARAMS)
def test_no_null_for_unset_optionals(cls: type[Any], variant: str, build: Builder) -> None:
    data = json.loads(encode_event(build()))
    assert not _has_null(data), data
    assert b"null" not in encode_event(build())


@pytest.mark.parametrize(("cls", "variant", "build"), CASE_PARAMS)
def test_keys_are_camel_case(cls: type[Any], variant: str, build: Builder) -> None:
    data = json.loads(encode_event(build()))
    bad = [(path, key) for path, key in _wire_keys(data) if "_" in key or key[:1].isupper()]
    assert bad == []


def test_user_data_keys_pass_through_verbatim() -> None:
    data = json.loads(encode_event(EVENT_CASES[ev.RunStartedEvent]["full"]()))
    assert data["metadata"] == META
    assert data["rawEvent"] == RAW
    assert data["input"]["state"] == {"counter": 1, "user_prefs": {"dark_mode": True}}
    assert data["input"]["forwardedProps"] == {"copilotkit": {"thread_meta": 1}}
    assert data["input"]["tools"][0]["parameters"] == SCHEMA
    activity = json.loads(encode_event(EVENT_CASES[ev.ActivitySnapshotEvent]["full"]()))
    assert activity["content"] == {"steps": ["a"], "step_count": 1}


def test_null_inside_user_data_is_kept() -> None:
    event = ev.StateSnapshotEvent(snapshot={"a": None}, metadata={"k": None})
    assert json.loads(encode_event(event)) == {
        "type": "STATE_SNAPSHOT",
        "snapshot": {"a": None},
        "metadata": {"k": None},
    }


def test_text_message_start_always_has_a_role() -> None:
    assert json.loads(encode_event(ev.TextMessageStartEvent(message_id="m")))["role"] == "assistant"
    assert json.loads(encode_event(ev.TextMessageStartEvent(message_id="m", role="user")))["role"] == "user"
    decoded = decode_event(b'{"type":"TEXT_MESSAGE_START","messageId":"m"}')
    assert isinstance(decoded, ev.TextMessageStartEvent)
    assert decoded.role == "assistant"
    assert json.loads(encode_event(decoded))["role"] == "assistant"


def test_reasoning_message_start_always_has_role_reasoning() -> None:
    assert json.loads(encode_event(ev.ReasoningMessageStartEvent(message_id="r")))["role"] == "reasoning"
    decoded = decode_event(b'{"type":"REASONING_MESSAGE_START","messageId":"r"}')
    assert isinstance(decoded, ev.ReasoningMessageStartEvent)
    assert decoded.role == "reasoning"
    sdk_event = sdk.ReasoningMessageStartEvent.model_validate_json(encode_event(decoded))
    assert sdk_event.role == "reasoning"


def test_custom_keeps_value_null() -> None:
    data = encode_event(ev.CustomEvent(name="acme:cleared", value=None))
    assert json.loads(data) == {"type": "CUSTOM", "name": "acme:cleared", "value": None}
    assert sdk.CustomEvent.model_validate_json(data).value is None


@pytest.mark.parametrize(
    "event",
    [
        ev.StateSnapshotEvent(snapshot=None),
        ev.RawEvent(event=None),
    ],
    ids=["STATE_SNAPSHOT", "RAW"],
)
def test_required_any_fields_are_sent_even_when_null(event: Any) -> None:
    data = json.loads(encode_event(event))
    assert None in data.values()
    SDK_EVENT_ADAPTER.validate_json(encode_event(event))


def test_state_delta_keeps_null_values_in_patch_ops() -> None:
    patch = [
        {"op": "add", "path": "/a", "value": None},
        {"op": "replace", "path": "/b", "value": None},
        {"op": "test", "path": "/c", "value": None},
    ]
    data = encode_event(ev.StateDeltaEvent(delta=patch))
    assert json.loads(data)["delta"] == patch
    assert b'"value":null' in data
    validated = sdk.StateDeltaEvent.model_validate_json(data)
    assert validated.model_dump(mode="json", by_alias=True)["delta"] == patch


def test_timestamps_are_integers() -> None:
    for cls in EVENT_TYPES:
        data = json.loads(encode_event(EVENT_CASES[cls]["full"]()))
        if "timestamp" in data:
            assert type(data["timestamp"]) is int
            assert data["timestamp"] == TS
    assert b'"timestamp":1712345678901' in encode_event(ev.RunErrorEvent(message="x", timestamp=TS))


@pytest.mark.parametrize(
    ("cls", "field"),
    [
        (ev.RunStartedEvent, "subagent_run_id"),
        (ev.RunFinishedEvent, "subagent_run_id"),
        (ev.RunErrorEvent, "subagent_run_id"),
        (ev.MessagesSnapshotEvent, "subagent_run_id"),
    ],
)
def test_run_scoped_events_are_not_attributable(cls: type[Any], field: str) -> None:
    assert field not in cls.__struct_fields__
    assert field not in _sdk_class(cls).model_fields


# --- SDK -> ours -----------------------------------------------------------------------------------


def _sdk_parts() -> list[Any]:
    return [
        sdk.TextPart(text="Look", id="p-1", metadata={"source_doc": "a"}),
        sdk.ImagePart(source=sdk.DataSource(value="aGVsbG8=", mime_type="image/png"), id="p-2", metadata={"k": 1}),
        sdk.ImagePart(source=sdk.UrlSource(value="https://example.com/cat.jpg", mime_type="image/jpeg")),
        sdk.AudioPart(source=sdk.UrlSource(value="https://example.com/a.mp3")),
        sdk.VideoPart(source=sdk.DataSource(value="AAAA", mime_type="video/mp4")),
        sdk.DocumentPart(source=sdk.FileSource(value="file-abc", provider="openai", mime_type="application/pdf")),
    ]


def _sdk_messages() -> list[Any]:
    return [
        sdk.DeveloperMessage(id="m-dev", content="Be terse.", name="dev", encrypted_value="e", metadata={"k": 1}),
        sdk.SystemMessage(id="m-sys", content="You are helpful.", name="sys"),
        sdk.UserMessage(id="m-user", content="Hello", name="alice", subagent_run_id="sub-1"),
        sdk.UserMessage(id="m-user-parts", content=_sdk_parts()),
        sdk.AssistantMessage(
            id="m-asst",
            content="Let me check.",
            name="bot",
            tool_calls=[
                sdk.ToolCall(
                    id="tc-1",
                    function=sdk.FunctionCall(name="get_weather", arguments='{"city":"Paris"}'),
                    encrypted_value="etc",
                    metadata={"k": 1},
                )
            ],
        ),
        sdk.ToolMessage(id="m-tool", content="Sunny", tool_call_id="tc-1", error="partial"),
        sdk.ToolMessage(id="m-tool-parts", content=[sdk.TextPart(text="22C")], tool_call_id="tc-1"),
        sdk.ActivityMessage(id="m-act", activity_type="progress", content={"percent": 50}),
        sdk.ReasoningMessage(id="m-reason", content="Thinking...", encrypted_value="enc"),
    ]


def _sdk_input() -> Any:
    return sdk.RunAgentInput(
        thread_id="thread-1",
        run_id="run-1",
        protocol_version="1.0",
        parent_run_id="run-0",
        state={"counter": 1, "user_prefs": {"dark_mode": True}},
        messages=_sdk_messages(),
        tools=[
            sdk.Tool(name="get_weather", description="Weather by city", parameters=SCHEMA, metadata={"k": 1}),
            sdk.Tool(name="noop", description="No arguments"),
        ],
        context=[sdk.Context(description="timezone", value="Europe/Paris")],
        forwarded_props={"copilotkit": {"thread_meta": 1}},
        resume=[
            sdk.ResumeEntry(interrupt_id="int-1", status="resolved", payload={"approved": True}, metadata={"k": 1}),
            sdk.ResumeEntry(interrupt_id="int-2", status="cancelled"),
        ],
    )


SDK_BASE: dict[str, Any] = {"timestamp": TS, "raw_event": RAW, "metadata": META}
SDK_ATTR: dict[str, Any] = {**SDK_BASE, "subagent_run_id": "sub-1"}

SDK_CASES: dict[str, Builder] = {
    "RunStartedEvent": lambda: sdk.RunStartedEvent(
        thread_id="t", run_id="r", protocol_version="1.0", parent_run_id="r0", input=_sdk_input(), **SDK_BASE
    ),
    "RunFinishedEvent": lambda: sdk.RunFinishedEvent(
        thread_id="t",
        run_id="r",
        result={"ok": True},
        outcome=sdk.RunFinishedInterruptOutcome(
            interrupts=[
                sdk.Interrupt(
                    id="int-1",
                    reason="approval",
                    message="ok?",
                    tool_call_id="tc-1",
                    response_schema={"type": "object"},
                    expires_at="2026-09-30T12:00:00Z",
                    metadata={"k": 1},
                    subagent_run_id="sub-1",
                )
            ]
        ),
        usage=[
            sdk.TokenUsage(
                provider="openai",
                model="m",
                input_tokens=1,
                output_tokens=2,
                total_tokens=3,
                reasoning_tokens=1,
                cached_input_tokens=0,
                cache_write_input_tokens=0,
            )
        ],
        **SDK_BASE,
    ),
    "RunErrorEvent": lambda: sdk.RunErrorEvent(message="boom", code="E1", usage=[sdk.TokenUsage()], **SDK_BASE),
    "StepStartedEvent": lambda: sdk.StepStartedEvent(step_name="plan", **SDK_ATTR),
    "StepFinishedEvent": lambda: sdk.StepFinishedEvent(step_name="plan", **SDK_ATTR),
    "TextMessageStartEvent": lambda: sdk.TextMessageStartEvent(
        message_id="m", role="assistant", name="bot", **SDK_ATTR
    ),
    "TextMessageContentEvent": lambda: sdk.TextMessageContentEvent(message_id="m", delta="Hi\n", **SDK_ATTR),
    "TextMessageEndEvent": lambda: sdk.TextMessageEndEvent(message_id="m", **SDK_ATTR),
    "TextMessageChunkEvent": lambda: sdk.TextMessageChunkEvent(
        message_id="m", role="user", delta="x", name="n", **SDK_ATTR
    ),
    "ToolCallStartEvent": lambda: sdk.ToolCallStartEvent(
        tool_call_id="tc", tool_call_name="f", parent_message_id="m", **SDK_ATTR
    ),
    "ToolCallArgsEvent": lambda: sdk.ToolCallArgsEvent(tool_call_id="tc", delta="{}", **SDK_ATTR),
    "ToolCallEndEvent": lambda: sdk.ToolCallEndEvent(tool_call_id="tc", **SDK_ATTR),
    "ToolCallChunkEvent": lambda: sdk.ToolCallChunkEvent(
        tool_call_id="tc", tool_call_name="f", parent_message_id="m", delta="{}", **SDK_ATTR
    ),
    "ToolCallResultEvent": lambda: sdk.ToolCallResultEvent(
        message_id="m2", tool_call_id="tc", content=_sdk_parts(), role="tool", **SDK_ATTR
    ),
    "StateSnapshotEvent": lambda: sdk.StateSnapshotEvent(snapshot={"a": [1, None]}, **SDK_ATTR),
    "StateDeltaEvent": lambda: sdk.StateDeltaEvent(delta=PATCH, **SDK_ATTR),
    "MessagesSnapshotEvent": lambda: sdk.MessagesSnapshotEvent(messages=_sdk_messages(), **SDK_BASE),
    "ActivitySnapshotEvent": lambda: sdk.ActivitySnapshotEvent(
        message_id="a", activity_type="plan", content={"x": 1}, replace=True, **SDK_ATTR
    ),
    "ActivityDeltaEvent": lambda: sdk.ActivityDeltaEvent(message_id="a", activity_type="plan", patch=PATCH, **SDK_ATTR),
    "ReasoningStartEvent": lambda: sdk.ReasoningStartEvent(message_id="r", **SDK_ATTR),
    "ReasoningMessageStartEvent": lambda: sdk.ReasoningMessageStartEvent(message_id="r", **SDK_ATTR),
    "ReasoningMessageContentEvent": lambda: sdk.ReasoningMessageContentEvent(message_id="r", delta="h", **SDK_ATTR),
    "ReasoningMessageEndEvent": lambda: sdk.ReasoningMessageEndEvent(message_id="r", **SDK_ATTR),
    "ReasoningMessageChunkEvent": lambda: sdk.ReasoningMessageChunkEvent(message_id="r", delta="h", **SDK_ATTR),
    "ReasoningEndEvent": lambda: sdk.ReasoningEndEvent(message_id="r", **SDK_ATTR),
    "ReasoningEncryptedValueEvent": lambda: sdk.ReasoningEncryptedValueEvent(
        subtype="tool-call", entity_id="tc", encrypted_value="enc", **SDK_ATTR
    ),
    "SubagentStartedEvent": lambda: sdk.SubagentStartedEvent(
        subagent_run_id="s2",
        name="researcher",
        description="d",
        parent_subagent_run_id="s1",
        parent_tool_call_id="tc",
        parent_message_id="m",
        **SDK_BASE,
    ),
    "SubagentFinishedEvent": lambda: sdk.SubagentFinishedEvent(
        subagent_run_id="s1",
        result={"n": 1},
        outcome=sdk.SubagentFinishedSuspendedOutcome(interrupt_ids=["int-1"]),
        **SDK_BASE,
    ),
    "SubagentErrorEvent": lambda: sdk.SubagentErrorEvent(subagent_run_id="s1", message="m", code="c", **SDK_BASE),
    "RawEvent": lambda: sdk.RawEvent(event={"x": 1}, source="openai", **SDK_ATTR),
    "CustomEvent": lambda: sdk.CustomEvent(name="acme:x", value={"a": [1]}, **SDK_ATTR),
}

# Extra SDK shapes worth decoding: outcomes, string content, SDK defaults.
SDK_VARIANTS: dict[str, Builder] = {
    "run-finished-success-pending": lambda: sdk.RunFinishedEvent(
        thread_id="t", run_id="r", outcome=sdk.RunFinishedSuccessOutcome(pending_tool_call_ids=["tc-1"])
    ),
    "run-finished-cancelled": lambda: sdk.RunFinishedEvent(
        thread_id="t", run_id="r", outcome=sdk.RunFinishedCancelledOutcome()
    ),
    "run-finished-bare": lambda: sdk.RunFinishedEvent(thread_id="t", run_id="r"),
    "subagent-finished-success": lambda: sdk.SubagentFinishedEvent(
        subagent_run_id="s1", outcome=sdk.SubagentFinishedSuccessOutcome()
    ),
    "tool-result-string": lambda: sdk.ToolCallResultEvent(message_id="m2", tool_call_id="tc", content="Sunny"),
    "text-start-no-role": lambda: sdk.TextMessageStartEvent(message_id="m"),
    "text-chunk-empty": lambda: sdk.TextMessageChunkEvent(),
    "tool-chunk-empty": lambda: sdk.ToolCallChunkEvent(),
    "reasoning-chunk-empty": lambda: sdk.ReasoningMessageChunkEvent(),
    "custom-value-null": lambda: sdk.CustomEvent(name="acme:x", value=None),
    "custom-value-object-with-null": lambda: sdk.CustomEvent(name="acme:x", value={"a": None}),
    "run-started-minimal-input": lambda: sdk.RunStartedEvent(
        thread_id="t", run_id="r", input=sdk.RunAgentInput(thread_id="t", run_id="r", messages=[])
    ),
}


def _our_class(name: str) -> type[Any]:
    cls: type[Any] = getattr(ev, name)
    return cls


def _sdk_sse_payload(event: Any) -> bytes:
    frame = EventEncoder().encode(event)
    assert frame.startswith("data: ")
    assert frame.endswith("\n\n")
    return frame[len("data: ") : -2].encode()


def test_sdk_cases_cover_the_sdk_union_and_ours() -> None:
    assert set(SDK_CASES) == {cls.__name__ for cls in SDK_EVENT_TYPES}
    assert set(SDK_CASES) == {cls.__name__ for cls in EVENT_TYPES}


@pytest.mark.parametrize("name", list(SDK_CASES))
def test_sdk_cases_set_every_field(name: str) -> None:
    event = SDK_CASES[name]()
    unset = [field for field in type(event).model_fields if getattr(event, field) is None]
    assert unset == []


SDK_PARAMS = [pytest.param(build, id=name) for name, build in SDK_CASES.items()] + [
    pytest.param(build, id=name) for name, build in SDK_VARIANTS.items()
]


@pytest.mark.parametrize("build", SDK_PARAMS)
def test_sdk_encoded_events_decode_to_our_structs(build: Builder) -> None:
    sdk_event = build()
    payload = _sdk_sse_payload(sdk_event)
    decoded = decode_event(payload)
    assert type(decoded) is _our_class(type(sdk_event).__name__)
    # Equal field values: our Struct, turned back into wire form, is the SDK's JSON (with the one
    # documented difference: an absent TEXT_MESSAGE_START role means, and becomes, "assistant").
    expected = json.loads(payload)
    if expected["type"] == "TEXT_MESSAGE_START":
        expected.setdefault("role", "assistant")
    assert msgspec.to_builtins(decoded) == expected
    # And field by field, for the SDK's own attributes that are plain values.
    for name in type(sdk_event).model_fields:
        value = getattr(sdk_event, name)
        if name == "type" or value is None or isinstance(value, (BaseModel, list)):
            continue
        if name == "role" and decoded.__struct_config__.tag == "TEXT_MESSAGE_START":
            continue
        assert getattr(decoded, name) == value, name


def test_sdk_text_message_start_without_role_means_assistant() -> None:
    decoded = decode_event(_sdk_sse_payload(sdk.TextMessageStartEvent(message_id="m")))
    assert isinstance(decoded, ev.TextMessageStartEvent)
    assert decoded.role == "assistant"


def test_sdk_nested_objects_decode_to_our_structs() -> None:
    started = decode_event(_sdk_sse_payload(SDK_CASES["RunStartedEvent"]()))
    assert isinstance(started, ev.RunStartedEvent)
    assert isinstance(started.input, ty.RunAgentInput)
    finished = decode_event(_sdk_sse_payload(SDK_CASES["RunFinishedEvent"]()))
    assert isinstance(finished, ev.RunFinishedEvent)
    assert isinstance(finished.outcome, ev.InterruptOutcome)
    assert isinstance(finished.outcome.interrupts[0], ty.Interrupt)
    assert finished.outcome.interrupts[0].response_schema == {"type": "object"}
    assert finished.usage is not None
    assert isinstance(finished.usage[0], ty.TokenUsage)
    assert finished.usage[0].cache_write_input_tokens == 0
    sub = decode_event(_sdk_sse_payload(SDK_CASES["SubagentFinishedEvent"]()))
    assert isinstance(sub, ev.SubagentFinishedEvent)
    assert sub.outcome == ev.SubagentSuspendedOutcome(interrupt_ids=["int-1"])
    cancelled = decode_event(_sdk_sse_payload(SDK_VARIANTS["run-finished-cancelled"]()))
    assert isinstance(cancelled, ev.RunFinishedEvent)
    assert cancelled.outcome == ev.CancelledOutcome()
    snap = decode_event(_sdk_sse_payload(SDK_CASES["MessagesSnapshotEvent"]()))
    assert isinstance(snap, ev.MessagesSnapshotEvent)
    assert [type(m) for m in snap.messages] == [
        ty.DeveloperMessage,
        ty.SystemMessage,
        ty.UserMessage,
        ty.UserMessage,
        ty.AssistantMessage,
        ty.ToolMessage,
        ty.ToolMessage,
        ty.ActivityMessage,
        ty.ReasoningMessage,
    ]


# --- what the SDK rejects, our decoder rejects too -------------------------------------------------

INVALID_EVENTS: dict[str, dict[str, Any]] = {
    # PROTOCOL.md §2: timestamp is an integer; TS 1.0 requires a *safe* integer.
    "float-timestamp": {"type": "RUN_ERROR", "message": "x", "timestamp": 1712.5},
    "unsafe-timestamp": {"type": "RUN_ERROR", "message": "x", "timestamp": 2**53},
    "text-role-tool": {"type": "TEXT_MESSAGE_START", "messageId": "m", "role": "tool"},
    "reasoning-role-user": {"type": "REASONING_MESSAGE_START", "messageId": "m", "role": "user"},
    "encrypted-subtype": {
        "type": "REASONING_ENCRYPTED_VALUE",
        "subtype": "blob",
        "entityId": "e",
        "encryptedValue": "x",
    },
    "custom-without-value": {"type": "CUSTOM", "name": "x"},
    "snapshot-without-snapshot": {"type": "STATE_SNAPSHOT"},
    "raw-without-event": {"type": "RAW"},
    "activity-content-array": {"type": "ACTIVITY_SNAPSHOT", "messageId": "a", "activityType": "t", "content": []},
    "subagent-outcome-cancelled": {"type": "SUBAGENT_FINISHED", "subagentRunId": "s", "outcome": {"type": "cancelled"}},
    "run-outcome-suspended": {"type": "RUN_FINISHED", "threadId": "t", "runId": "r", "outcome": {"type": "suspended"}},
    "unknown-type": {"type": "THINKING_START"},
    # PROTOCOL.md §2: an interrupt outcome carries at least one interrupt.
    "interrupt-outcome-empty": {
        "type": "RUN_FINISHED",
        "threadId": "t",
        "runId": "r",
        "outcome": {"type": "interrupt", "interrupts": []},
    },
    # PROTOCOL.md §1.2: token counts are non-negative integers.
    "negative-token-count": {"type": "RUN_ERROR", "message": "x", "usage": [{"inputTokens": -1}]},
    # PROTOCOL.md §2: JSON Patch paths must be '/'-rooted JSON Pointers (fatal in TS 1.0).
    "patch-path-without-slash": {"type": "STATE_DELTA", "delta": [{"op": "add", "path": "a", "value": 1}]},
    "patch-unknown-op": {"type": "STATE_DELTA", "delta": [{"op": "merge", "path": "/a", "value": 1}]},
    "patch-move-without-from": {
        "type": "ACTIVITY_DELTA",
        "messageId": "a",
        "activityType": "t",
        "patch": [{"op": "move", "path": "/a"}],
    },
    # PROTOCOL.md §2: TOOL_CALL_RESULT content is a string or a list of *content parts*.
    "tool-result-bogus-part": {
        "type": "TOOL_CALL_RESULT",
        "messageId": "m",
        "toolCallId": "t",
        "content": [{"type": "bogus"}],
    },
    "tool-result-number-list": {"type": "TOOL_CALL_RESULT", "messageId": "m", "toolCallId": "t", "content": [1, 2]},
}


@pytest.mark.parametrize("payload", INVALID_EVENTS.values(), ids=list(INVALID_EVENTS))
def test_events_the_sdk_rejects_are_rejected_by_decode_event(payload: dict[str, Any]) -> None:
    data = json.dumps(payload).encode()
    with pytest.raises(ValidationError):
        SDK_EVENT_ADAPTER.validate_json(data)
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
        decode_event(data)


# --- RunAgentInput ---------------------------------------------------------------------------------


def test_sdk_run_agent_input_with_every_role_decodes_and_reencodes() -> None:
    sdk_json = _sdk_input().model_dump_json(by_alias=True).encode()
    ours = decode_input(sdk_json)

    assert ours.thread_id == "thread-1"
    assert ours.run_id == "run-1"
    assert ours.protocol_version == "1.0"
    assert ours.parent_run_id == "run-0"
    assert ours.state == {"counter": 1, "user_prefs": {"dark_mode": True}}
    assert ours.forwarded_props == {"copilotkit": {"thread_meta": 1}}
    assert [type(m) for m in ours.messages] == [
        ty.DeveloperMessage,
        ty.SystemMessage,
        ty.UserMessage,
        ty.UserMessage,
        ty.AssistantMessage,
        ty.ToolMessage,
        ty.ToolMessage,
        ty.ActivityMessage,
        ty.ReasoningMessage,
    ]
    dev, _sys, user, user_parts, asst, tool, tool_parts, act, reason = ours.messages
    assert isinstance(dev, ty.DeveloperMessage)
    assert (dev.name, dev.encrypted_value, dev.metadata) == ("dev", "e", {"k": 1})
    assert isinstance(user, ty.UserMessage)
    assert user.content == "Hello"
    assert user.subagent_run_id == "sub-1"
    assert isinstance(user_parts, ty.UserMessage)
    assert isinstance(user_parts.content, list)
    assert [type(p) for p in user_parts.content] == [
        ty.TextPart,
        ty.ImagePart,
        ty.ImagePart,
        ty.AudioPart,
        ty.VideoPart,
        ty.DocumentPart,
    ]
    image_data, image_url, document = user_parts.content[1], user_parts.content[2], user_parts.content[5]
    assert isinstance(image_data, ty.ImagePart)
    assert image_data.source == ty.DataSource(value="aGVsbG8=", mime_type="image/png")
    assert isinstance(image_url, ty.ImagePart)
    assert image_url.source == ty.UrlSource(value="https://example.com/cat.jpg", mime_type="image/jpeg")
    assert isinstance(document, ty.DocumentPart)
    assert document.source == ty.FileSource(value="file-abc", provider="openai", mime_type="application/pdf")
    assert isinstance(asst, ty.AssistantMessage)
    assert asst.tool_calls == [
        ty.ToolCall(
            id="tc-1",
            function=ty.FunctionCall(name="get_weather", arguments='{"city":"Paris"}'),
            encrypted_value="etc",
            metadata={"k": 1},
        )
    ]
    assert isinstance(tool, ty.ToolMessage)
    assert (tool.content, tool.tool_call_id, tool.error) == ("Sunny", "tc-1", "partial")
    assert isinstance(tool_parts, ty.ToolMessage)
    assert tool_parts.content == [ty.TextPart(text="22C")]
    assert isinstance(act, ty.ActivityMessage)
    assert (act.activity_type, act.content) == ("progress", {"percent": 50})
    assert isinstance(reason, ty.ReasoningMessage)
    assert (reason.content, reason.encrypted_value) == ("Thinking...", "enc")
    assert ours.tools == [
        ty.Tool(name="get_weather", description="Weather by city", parameters=SCHEMA, metadata={"k": 1}),
        ty.Tool(name="noop", description="No arguments"),
    ]
    assert ours.context == [ty.Context(description="timezone", value="Europe/Paris")]
    assert ours.resume == [
        ty.ResumeEntry(interrupt_id="int-1", status="resolved", payload={"approved": True}, metadata={"k": 1}),
        ty.ResumeEntry(interrupt_id="int-2", status="cancelled"),
    ]

    reencoded = encode_json(ours)
    assert json.loads(reencoded) == json.loads(sdk_json)
    validated = sdk.RunAgentInput.model_validate_json(reencoded)
    assert list(_unknown_keys(validated)) == []
    assert validated.model_dump(mode="json", by_alias=True) == json.loads(sdk_json)


def test_our_full_input_validates_with_the_sdk() -> None:
    data = encode_json(_full_input())
    validated = SDK_INPUT_ADAPTER.validate_json(data)
    assert list(_unknown_keys(validated)) == []
    assert validated.model_dump(mode="json", by_alias=True) == json.loads(data)
    assert not _has_null(json.loads(data))
    bad = [(path, key) for path, key in _wire_keys(json.loads(data)) if "_" in key]
    assert bad == []


def test_unknown_fields_are_ignored_everywhere() -> None:
    body = {
        "threadId": "t",
        "runId": "r",
        "copilotkitExtra": {"a": 1},
        "messages": [
            {"id": "u", "role": "user", "content": [{"type": "text", "text": "hi", "future": 1}], "x": 2},
            {
                "id": "a",
                "role": "assistant",
                "toolCalls": [
                    {"id": "tc", "type": "function", "function": {"name": "f", "arguments": "{}", "y": 1}, "z": 1}
                ],
                "unknownKey": None,
            },
            {
                "id": "i",
                "role": "user",
                "content": [{"type": "image", "source": {"type": "url", "value": "u", "cdn": "x"}, "alt": "a cat"}],
            },
        ],
        "tools": [{"name": "f", "description": "d", "strict": True}],
        "context": [{"description": "d", "value": "v", "priority": 1}],
        "resume": [{"interruptId": "i", "status": "resolved", "signature": "s"}],
    }
    data = json.dumps(body).encode()
    SDK_INPUT_ADAPTER.validate_json(data)  # the SDK accepts it too
    ours = decode_input(data)
    assert ours.messages[0] == ty.UserMessage(id="u", content=[ty.TextPart(text="hi")])
    assert "copilotkitExtra" not in json.loads(encode_json(ours))


_HTTP_AGENT_1_0 = {
    "threadId": "t",
    "runId": "r",
    "protocolVersion": "1.0",
    "state": {},
    "messages": [{"id": "u", "role": "user", "content": "hi"}],
    "tools": [],
    "context": [],
    "forwardedProps": {},
}
_HTTP_AGENT_0_0_59 = {
    "threadId": "t",
    "runId": "r",
    "tools": [],
    "context": [],
    "forwardedProps": {},
    "state": {},
    "messages": [{"id": "u", "role": "user", "content": "hi"}],
}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"threadId": "t", "runId": "r", "messages": []}, id="only-required"),
        pytest.param(
            {
                "threadId": "t",
                "runId": "r",
                "messages": [],
                "tools": None,
                "context": None,
                "state": None,
                "forwardedProps": None,
            },
            id="all-null",
        ),
        pytest.param({"threadId": "t", "runId": "r", "messages": [], "tools": None}, id="tools-null"),
        pytest.param({"threadId": "t", "runId": "r", "messages": [], "context": None}, id="context-null"),
        pytest.param({"threadId": "t", "runId": "r", "messages": [], "state": None}, id="state-null"),
        pytest.param({"threadId": "t", "runId": "r", "messages": [], "forwardedProps": None}, id="props-null"),
        pytest.param(_HTTP_AGENT_1_0, id="http-agent-1.0"),
        pytest.param(_HTTP_AGENT_0_0_59, id="http-agent-0.0.59"),
    ],
)
def test_optional_input_fields_may_be_missing_or_null(body: dict[str, Any]) -> None:
    ours = decode_input(json.dumps(body).encode())
    assert (ours.thread_id, ours.run_id) == ("t", "r")
    assert ours.tools in (None, [])
    assert ours.context in (None, [])
    assert ours.state in (None, {})
    assert ours.forwarded_props in (None, {})
    assert ours.protocol_version == body.get("protocolVersion")
    # Re-encoded, the input is something the SDK accepts, with no nulls for the absent fields.
    reencoded = encode_json(ours)
    SDK_INPUT_ADAPTER.validate_json(reencoded)
    assert b"null" not in reencoded


@pytest.mark.parametrize(
    "part",
    [
        {"type": "binary", "mimeType": "image/png", "url": "https://example.com/a.png"},
        {"type": "binary", "mimeType": "image/png", "data": "aGVsbG8=", "filename": "a.png"},
        {"type": "binary", "mimeType": "application/pdf", "id": "file-1"},
    ],
    ids=["url", "data", "id"],
)
def test_legacy_binary_parts_are_accepted(part: dict[str, Any]) -> None:
    body = {
        "threadId": "t",
        "runId": "r",
        "messages": [{"id": "u", "role": "user", "content": [{"type": "text", "text": "see"}, part]}],
    }
    ours = decode_input(json.dumps(body).encode())
    message = ours.messages[0]
    assert isinstance(message, ty.UserMessage)
    assert isinstance(message.content, list)
    binary = message.content[1]
    assert isinstance(binary, ty.BinaryPart)
    assert binary.mime_type == part["mimeType"]
    assert (binary.url, binary.data, binary.filename, binary.id) == (
        part.get("url"),
        part.get("data"),
        part.get("filename"),
        part.get("id"),
    )


def test_part_metadata_may_be_any_non_null_json() -> None:
    """PROTOCOL.md §1.2: a media part's ``metadata`` is any non-null JSON; the SDK types it ``Any``."""
    parts = [
        sdk.ImagePart(source=sdk.UrlSource(value="https://example.com/a.png"), metadata="a caption"),
        sdk.TextPart(text="t", metadata=["tag-a", "tag-b"]),
    ]
    sdk_json = (
        sdk.RunAgentInput(thread_id="t", run_id="r", messages=[sdk.UserMessage(id="u", content=parts)])
        .model_dump_json(by_alias=True)
        .encode()
    )
    ours = decode_input(sdk_json)
    assert json.loads(encode_json(ours)) == json.loads(sdk_json)
