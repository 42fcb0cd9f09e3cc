"""Scenarios: a ``RunAgentInput`` to send and what a correct answer must show.

The built-in scenarios cover what AG-UI clients really send. Teams add their own as JSON files::

    {
      "name": "refund-policy",
      "description": "asks about refunds",
      "input": {"threadId": "t", "runId": "r", "messages": [{"id": "m", "role": "user", "content": "refunds?"}]},
      "expect": {"finished": true, "assistantText": true, "textContains": ["30 days"]}
    }

``expect`` keys (all optional): ``finished`` (the run ends with RUN_FINISHED, not RUN_ERROR; default
true), ``assistantText`` (at least one non-empty assistant text message; default false),
``textContains`` (strings the assistant text must contain). ``threadId``/``runId`` get a fresh suffix
per run of the runner, so scenarios can be run again and again against a server that remembers runs.
"""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ("BUILTIN_SCENARIOS", "Expectations", "Scenario", "ScenarioError", "load_scenarios")


class ScenarioError(ValueError):
    """A scenario file that cannot be used."""


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a correct answer to a scenario shows."""

    finished: bool = True
    assistant_text: bool = False
    text_contains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Scenario:
    """One request and its expectations."""

    name: str
    description: str
    input: dict[str, Any]
    expect: Expectations = field(default_factory=Expectations)

    def request_body(self) -> dict[str, Any]:
        """The input with unique ``threadId`` and ``runId`` for this run."""
        body = copy.deepcopy(self.input)
        suffix = uuid.uuid4().hex[:8]
        body["threadId"] = f"{body.get('threadId', 'conformance')}-{suffix}"
        body["runId"] = f"{body.get('runId', self.name)}-{suffix}"
        return body

    @property
    def legacy(self) -> bool:
        """Whether the request is a pre-1.0 client's (no ``protocolVersion``)."""
        return "protocolVersion" not in self.input

    @property
    def tools(self) -> dict[str, Any]:
        """The offered tools by name."""
        return {t["name"]: t for t in self.input.get("tools") or [] if isinstance(t, dict) and "name" in t}


def _user(text: Any, n: int = 1) -> dict[str, Any]:
    return {"id": f"user-{n}", "role": "user", "content": text}


_WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Get the weather for a city",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "The city"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["city"],
    },
}

BUILTIN_SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "plain-chat",
        "one user message, a 1.0 client",
        {"threadId": "plain", "runId": "plain", "protocolVersion": "1.0", "messages": [_user("Hello! Who are you?")]},
        Expectations(assistant_text=True),
    ),
    Scenario(
        "multi-turn-tools",
        "history with an assistant tool call and its tool result",
        {
            "threadId": "multi",
            "runId": "multi",
            "protocolVersion": "1.0",
            "messages": [
                {"id": "sys-1", "role": "system", "content": "You are helpful."},
                _user("What is the weather in Paris?"),
                {
                    "id": "asst-1",
                    "role": "assistant",
                    "content": "Let me check.",
                    "toolCalls": [
                        {
                            "id": "call-1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"id": "tool-1", "role": "tool", "toolCallId": "call-1", "content": '{"temperature": 18}'},
                _user("And in Berlin?", 2),
            ],
            "tools": [_WEATHER_TOOL],
        },
    ),
    Scenario(
        "unicode",
        "Chinese, emoji and right-to-left text",
        {
            "threadId": "unicode",
            "runId": "unicode",
            "protocolVersion": "1.0",
            "messages": [_user("你是谁？ 🎉👩‍💻 مرحبا بالعالم שלום")],  # noqa: RUF001
        },
        Expectations(assistant_text=True),
    ),
    Scenario(
        "frontend-tools",
        "frontend tools with JSON-Schema parameters",
        {
            "threadId": "tools",
            "runId": "tools",
            "protocolVersion": "1.0",
            "messages": [_user("What's the weather in Tokyo?")],
            "tools": [
                _WEATHER_TOOL,
                {
                    "name": "change_background",
                    "description": "Change the page background",
                    "parameters": {
                        "type": "object",
                        "properties": {"color": {"type": "string", "pattern": "^#?[0-9a-zA-Z]+$"}},
                        "required": ["color"],
                    },
                },
            ],
        },
    ),
    Scenario(
        "client-state",
        "the client sends state",
        {
            "threadId": "state",
            "runId": "state",
            "protocolVersion": "1.0",
            "messages": [_user("Update my recipe.")],
            "state": {"recipe": {"title": "Pancakes", "ingredients": [{"name": "flour", "amount": "200 g"}]}},
        },
    ),
    Scenario(
        "empty-messages",
        "an empty messages list",
        {"threadId": "empty", "runId": "empty", "protocolVersion": "1.0", "messages": []},
    ),
    Scenario(
        "large-message",
        "a 100 KB user message",
        {
            "threadId": "large",
            "runId": "large",
            "protocolVersion": "1.0",
            "messages": [_user("Summarise this: " + "lorem ipsum dolor sit amet " * 3800)],
        },
    ),
    Scenario(
        "legacy-client",
        "a 0.0.x client (CopilotKit's @ag-ui/client 0.0.59): no protocolVersion",
        {
            "threadId": "legacy",
            "runId": "legacy",
            "tools": [],
            "context": [],
            "forwardedProps": {},
            "state": {},
            "messages": [_user("Hello from an older client")],
        },
        Expectations(assistant_text=True),
    ),
    Scenario(
        "protocol-1.0",
        "a 1.0 client sending every field",
        {
            "threadId": "v1",
            "runId": "v1",
            "protocolVersion": "1.0",
            "state": {},
            "messages": [_user("Hello from a 1.0 client")],
            "tools": [],
            "context": [{"description": "user's timezone", "value": "Europe/Paris"}],
            "forwardedProps": {},
        },
        Expectations(assistant_text=True),
    ),
)


def _scenario_from(data: Any, source: str) -> Scenario:
    if not isinstance(data, dict) or not isinstance(data.get("input"), dict):
        raise ScenarioError(f"{source}: a scenario is an object with an 'input' object")
    name = data.get("name") or Path(source).stem
    expect = data.get("expect") or {}
    if not isinstance(expect, dict):
        raise ScenarioError(f"{source}: 'expect' must be an object")
    unknown = set(expect) - {"finished", "assistantText", "textContains"}
    if unknown:
        raise ScenarioError(f"{source}: unknown expectations {sorted(unknown)}")
    return Scenario(
        name=str(name),
        description=str(data.get("description", "")),
        input=data["input"],
        expect=Expectations(
            finished=bool(expect.get("finished", True)),
            assistant_text=bool(expect.get("assistantText", False)),
            text_contains=tuple(str(s) for s in expect.get("textContains", ())),
        ),
    )


def load_scenarios(directory: Path) -> list[Scenario]:
    """Every ``*.json`` scenario file in ``directory`` (a file may hold one scenario or a list)."""
    if not directory.is_dir():
        raise ScenarioError(f"{directory}: not a directory")
    scenarios: list[Scenario] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ScenarioError(f"{path}: not valid JSON ({exc})") from exc
        items = data if isinstance(data, list) else [data]
        scenarios += [_scenario_from(item, str(path)) for item in items]
    return scenarios
