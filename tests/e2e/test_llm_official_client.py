"""The LLM adapters through the official TypeScript clients: ``@ag-ui/client`` 1.0.0 and 0.0.59.

The server runs an adapter against its loopback fake upstream; ``tests/node/run_client.mjs`` drives
``HttpAgent.runAgent()``. The client must resolve the run without a single warning, and its own reducer's
history (what CopilotKit would hold) must carry a frontend tool call and the thinking
signature, so that sending that history back continues the conversation: the second request reaches
the fake upstream with the tool result and the signed thinking block.

Needs ``node`` and ``(cd tests/node && npm ci)``, like ``test_official_clients.py``.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from agui_server import AGUIConfig, create_app
from agui_server.agents.anthropic import AnthropicAgent
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.openai_responses import OpenAIResponsesAgent
from tests.support import fake_anthropic as fa
from tests.support import fake_openai as fo
from tests.support import fake_openai_responses as fr
from tests.support.server import running_server

if TYPE_CHECKING:
    from tests.support.fake_openai import Script, ScriptedUpstream

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
CONFIRM_TOOL = {
    "name": "confirm",
    "description": "Ask the user to confirm an action.",
    "parameters": {"type": "object", "properties": {"action": {"type": "string"}}, "required": ["action"]},
}


@pytest.fixture(params=["v1", "v0"])
def client(request: pytest.FixtureRequest) -> str:
    version: str = request.param
    return version


async def run_client(version: str, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "install Node.js and run `(cd tests/node && npm ci)`"
    process = await asyncio.create_subprocess_exec(
        node,
        str(NODE_DIR / "run_client.mjs"),
        version,
        url,
        "-",
        cwd=NODE_DIR,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(payload).encode()), 45)
    report: dict[str, Any] = json.loads(stdout.decode().splitlines()[0])
    report["stderr"] = stderr.decode("utf-8", "replace")
    return report


def assert_clean(report: dict[str, Any]) -> None:
    shown = json.dumps({k: report.get(k) for k in ("ok", "error", "warnings", "failed", "runErrors", "events")})
    assert report["ok"] is True, shown
    assert report["warnings"] == [], shown
    assert report["failed"] == [], shown
    assert report["runErrors"] == [], shown
    assert report["stderr"] == "", shown
    assert report["events"][-1] == "RUN_FINISHED", shown


async def two_runs(
    version: str,
    fake: ScriptedUpstream,
    scripts: list[Script],
    agent: Any,
    tool_result: str,
    content: str | list[dict[str, Any]] = "Book it",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run 1 offers the frontend tool; run 2 sends the client's own history plus the tool's result."""
    fake.add(*scripts)
    async with running_server(create_app(AGUIConfig(agent=agent, strict=True))) as base:
        url = f"{base}/ag-ui"
        first_payload = {
            "threadId": f"thread-{version}",
            "runId": "run-1",
            "messages": [{"id": "u1", "role": "user", "content": content}],
            "tools": [CONFIRM_TOOL],
        }
        first = await run_client(version, url, first_payload)
        assert_clean(first)
        calls = [c for m in first["messages"] if m["role"] == "assistant" for c in m.get("toolCalls") or []]
        assert len(calls) == 1, first["messages"]
        second_payload = {
            **first_payload,
            "runId": "run-2",
            "messages": [
                *first["messages"],
                {"id": "tool-1", "role": "tool", "toolCallId": calls[0]["id"], "content": tool_result},
            ],
        }
        second = await run_client(version, url, second_payload)
        assert_clean(second)
    return first, second


async def test_openai_frontend_tool_round_trip_through_the_official_client(client: str) -> None:
    fake = fo.openai_upstream()
    async with running_server(fake) as upstream:
        agent = OpenAIAgent(fo.MODEL, api_key=fo.API_KEY, base_url=upstream + "/v1")
        first, second = await two_runs(
            client,
            fake,
            [fo.tool_call("confirm", '{"action": "book"}', "call_c"), fo.text(["Booked."])],
            agent,
            "yes",
        )
    # 1.0 hears of the pending call; 0.0.59 knows no pendingToolCallIds (the server leaves them out for it)
    assert first["runFinished"]["pendingToolCallIds"] == (["call_c"] if client == "v1" else None)
    assistant = [m for m in second["messages"] if m["role"] == "assistant"]
    assert assistant[-1]["content"] == "Booked."
    sent = fake.requests[1].body["messages"]
    assert sent[-2]["tool_calls"][0]["function"] == {"name": "confirm", "arguments": '{"action": "book"}'}
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_c", "name": "confirm", "content": "yes"}
    assert fake.validation_errors == []


async def test_anthropic_thinking_and_tool_round_trip_through_the_official_client(client: str) -> None:
    fake = fa.anthropic_upstream()
    async with running_server(fake) as upstream:
        agent = AnthropicAgent(fa.MODEL, api_key=fa.API_KEY, base_url=upstream, thinking_budget=1024)
        first, _second = await two_runs(
            client, fake, [fa.thinking_then_tool(), fa.text(["Booked."])], agent, "confirmed"
        )
    sent = fake.requests[1].body["messages"]
    assert sent[-1] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_think", "content": "confirmed"}],
    }
    # both clients keep the reasoning message with the signature as its encryptedValue, so it comes back
    reasoning = [m for m in first["messages"] if m["role"] == "reasoning"]
    assert reasoning == [
        {
            "id": reasoning[0]["id"],
            "role": "reasoning",
            "content": "The user wants a booking.",
            "encryptedValue": fa.SIGNATURE,
        }
    ]
    assert sent[-2]["content"] == [
        {"type": "thinking", "thinking": "The user wants a booking.", "signature": fa.SIGNATURE},
        {"type": "tool_use", "id": "toolu_think", "name": "confirm", "input": {"action": "book"}},
    ]
    assert fake.validation_errors == []


async def test_responses_image_input_and_tool_round_trip_through_the_official_client(client: str) -> None:
    """The Responses agent through both clients; the 1.0 client sends an image part (0.0.59 a string) and
    merges the turn's finishReason from TEXT_MESSAGE_END.metadata into its assistant message."""
    image = {"type": "image", "source": {"type": "data", "value": "aGVsbG8=", "mimeType": "image/png"}}
    content: Any = [{"type": "text", "text": "Book it"}, image] if client == "v1" else "Book it"
    fake = fr.responses_upstream()
    async with running_server(fake) as upstream:
        agent = OpenAIResponsesAgent(fr.MODEL, api_key=fr.API_KEY, base_url=upstream + "/v1")
        first, second = await two_runs(
            client,
            fake,
            [fr.tool_call("confirm", '{"action": "book"}', "call_c"), fr.text(["Booked."])],
            agent,
            "yes",
            content,
        )
    assert first["runFinished"]["pendingToolCallIds"] == (["call_c"] if client == "v1" else None)
    sent = fake.requests[1].body["input"]
    if client == "v1":
        assert sent[0]["content"] == [
            {"type": "input_text", "text": "Book it"},
            {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,aGVsbG8="},
        ]
        answer = [m for m in second["messages"] if m["role"] == "assistant"][-1]
        assert answer["content"] == "Booked."
        assert answer["metadata"]["finishReason"] == "stop"
    else:
        assert sent[0] == {"role": "user", "content": "Book it"}
    assert sent[-2:] == [
        {"type": "function_call", "call_id": "call_c", "name": "confirm", "arguments": '{"action": "book"}'},
        {"type": "function_call_output", "call_id": "call_c", "output": "yes"},
    ]
    assert fake.validation_errors == []
