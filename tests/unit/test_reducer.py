"""Folding a run's events into the thread's messages and state, as the official client's reducer does."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agui_server.protocol import events as ev
from agui_server.protocol.types import AssistantMessage, ReasoningMessage, ToolMessage, UserMessage
from agui_server.runs.reducer import ThreadFold, merge_messages

if TYPE_CHECKING:
    import pytest


def test_text_and_tool_calls_build_one_assistant_message_with_its_result_after_it() -> None:
    fold = ThreadFold([UserMessage(id="u", content="hi")], None)
    fold.apply_all(
        [
            ev.TextMessageStartEvent(message_id="a"),
            *[ev.TextMessageContentEvent(message_id="a", delta=d) for d in ("Let ", "me ", "look.")],
            ev.TextMessageEndEvent(message_id="a"),
            ev.ToolCallStartEvent(tool_call_id="c", tool_call_name="lookup", parent_message_id="a"),
            ev.ToolCallArgsEvent(tool_call_id="c", delta='{"q": '),
            ev.ToolCallArgsEvent(tool_call_id="c", delta='"x"}'),
            ev.ToolCallEndEvent(tool_call_id="c"),
            ev.ToolCallResultEvent(message_id="t", tool_call_id="c", content="found"),
            ev.TextMessageStartEvent(message_id="b"),
            ev.TextMessageContentEvent(message_id="b", delta="Done."),
            ev.TextMessageEndEvent(message_id="b"),
        ]
    )
    _user, assistant, tool, last = fold.messages
    assert isinstance(assistant, AssistantMessage)
    assert assistant.content == "Let me look."
    assert assistant.tool_calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in assistant.tool_calls] == [
        ("c", "lookup", '{"q": "x"}')
    ]
    assert isinstance(tool, ToolMessage)
    assert tool.content == "found"
    assert isinstance(last, AssistantMessage)
    assert last.content == "Done."


def test_a_tool_call_without_a_parent_makes_its_own_assistant_message() -> None:
    fold = ThreadFold([], None)
    fold.apply(ev.ToolCallStartEvent(tool_call_id="c", tool_call_name="f"))
    fold.apply(ev.ToolCallEndEvent(tool_call_id="c"))
    (message,) = fold.messages
    assert isinstance(message, AssistantMessage)
    assert message.id == "c"


def test_long_replies_fold_in_linear_time() -> None:
    fold = ThreadFold([], None)
    fold.apply(ev.TextMessageStartEvent(message_id="m"))
    for _ in range(200_000):
        fold.apply(ev.TextMessageContentEvent(message_id="m", delta="tok "))
    (message,) = fold.messages
    assert message.content is not None
    assert len(message.content) == 800_000


def test_state_snapshot_then_delta_and_a_delta_that_does_not_apply(caplog: pytest.LogCaptureFixture) -> None:
    fold = ThreadFold([], {"old": True})
    fold.apply(ev.StateSnapshotEvent(snapshot={"count": 1}))
    fold.apply(ev.StateDeltaEvent(delta=[ev.PatchReplace(path="/count", value=2)]))
    with caplog.at_level(logging.WARNING, logger="agui_server.runs"):
        fold.apply(ev.StateDeltaEvent(delta=[ev.PatchReplace(path="/missing/deep", value=3)]))
    assert fold.state == {"count": 2}
    assert "does not apply" in caplog.text


def test_messages_snapshot_replaces_and_keeps_reasoning() -> None:
    fold = ThreadFold([UserMessage(id="u", content="hi"), AssistantMessage(id="a", content="old")], None)
    fold.apply(ev.ReasoningMessageStartEvent(message_id="r"))
    fold.apply(ev.ReasoningMessageContentEvent(message_id="r", delta="thinking"))
    fold.apply(ev.MessagesSnapshotEvent(messages=[AssistantMessage(id="a", content="new")]))
    ids = [(m.id, m.content) for m in fold.messages]
    assert ids == [("a", "new"), ("r", "thinking")]
    assert isinstance(fold.messages[1], ReasoningMessage)


def test_merge_messages_by_id() -> None:
    stored = [UserMessage(id="1", content="a"), AssistantMessage(id="2", content="b")]
    merged = merge_messages(stored, [AssistantMessage(id="2", content="B"), UserMessage(id="3", content="c")])
    assert [(m.id, m.content) for m in merged] == [("1", "a"), ("2", "B"), ("3", "c")]
