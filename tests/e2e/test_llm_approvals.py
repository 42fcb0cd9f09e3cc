"""Backend tools that need the client's approval, over HTTP with the OpenAI adapter and its loopback fake:
the run ends asking, the answer runs (or refuses) the call, and a call cut mid-run is never run again."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agui_server import AGUIConfig, create_app
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.tools import tool
from tests.support import fake_openai as fo
from tests.support.server import running_server
from tests.support.sse import collect_events

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

SENT: list[dict[str, Any]] = []


@tool(requires_approval=True)
async def send_email(to: str, subject: str) -> str:
    """Send an email.

    Args:
        to: the address.
        subject: the subject line.
    """
    SENT.append({"to": to, "subject": subject})
    return f"sent to {to}"


@tool(requires_approval=lambda args: args.get("amount", 0) > 100)
async def pay(amount: int) -> str:
    """Pay an amount."""
    SENT.append({"amount": amount})
    return f"paid {amount}"


SLOW_STARTED = asyncio.Event()


@tool(requires_approval=True)
async def book_flight(city: str) -> str:
    """Book a flight (slowly)."""
    SENT.append({"city": city})
    SLOW_STARTED.set()
    await asyncio.sleep(30)
    return "booked"


@pytest.fixture
async def served() -> AsyncIterator[tuple[fo.ScriptedUpstream, str]]:
    SENT.clear()
    SLOW_STARTED.clear()
    fake = fo.openai_upstream()
    async with running_server(fake) as upstream_base:
        agent = OpenAIAgent(
            fo.MODEL, api_key=fo.API_KEY, base_url=upstream_base + "/v1", tools=[send_email, pay, book_flight]
        )
        async with running_server(create_app(AGUIConfig(agent=agent, strict=True))) as base:
            yield fake, base
    assert fake.validation_errors == []


def body(run_id: str, resume: list[dict[str, Any]] | None = None, text: str = "Email the team") -> dict[str, Any]:
    out = fo.user_input(text, threadId="mail", runId=run_id)
    out["messages"][0]["id"] = f"u-{run_id}"
    if resume is not None:
        out["resume"] = resume
    return out


async def post(client: httpx.AsyncClient, base: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    response, events, _ = await collect_events(client, base + "/ag-ui", payload)
    assert response.status_code == 200, response.text
    return events


EMAIL = '{"to": "team@example.com", "subject": "Hi"}'


async def test_a_call_that_needs_approval_ends_the_run_asking_and_runs_once_approved(
    served: tuple[fo.ScriptedUpstream, str],
) -> None:
    fake, base = served
    fake.add(fo.tool_call("send_email", EMAIL, "call_1"), fo.text(["Done."]))
    async with httpx.AsyncClient(timeout=10) as client:
        asked = await post(client, base, body("r1"))
        assert "TOOL_CALL_RESULT" not in [e["type"] for e in asked]
        interrupt = asked[-1]["outcome"]["interrupts"][0]
        assert interrupt["id"] == "approve-call_1"
        assert (interrupt["reason"], interrupt["toolCallId"]) == ("tool_approval", "call_1")
        assert interrupt["metadata"] == {"toolName": "send_email", "arguments": json.loads(EMAIL)}
        assert SENT == []
        edited = {"to": "boss@example.com", "subject": "Hi"}
        resume = [
            {"interruptId": "approve-call_1", "status": "resolved", "payload": {"approved": True, "arguments": edited}}
        ]
        done = await post(client, base, body("r2", resume, text="Yes"))
    assert [edited] == SENT
    result = next(e for e in done if e["type"] == "TOOL_CALL_RESULT")
    assert (result["toolCallId"], result["content"]) == ("call_1", "sent to boss@example.com")
    assert [e["delta"] for e in done if e["type"] == "TEXT_MESSAGE_CONTENT"] == ["Done."]
    assert done[-1]["type"] == "RUN_FINISHED"
    assert "outcome" not in done[-1]
    # the model saw the call and its result before it answered
    sent = fake.requests[1].body["messages"]
    assert any(m["role"] == "tool" and m["tool_call_id"] == "call_1" for m in sent)


async def test_a_refused_call_gives_the_model_a_refusal_and_never_runs(served: tuple[fo.ScriptedUpstream, str]) -> None:
    fake, base = served
    fake.add(fo.tool_call("send_email", EMAIL, "call_2"), fo.text(["Understood."]))
    async with httpx.AsyncClient(timeout=10) as client:
        await post(client, base, body("r1"))
        resume = [{"interruptId": "approve-call_2", "status": "resolved", "payload": {"approved": False}}]
        done = await post(client, base, body("r2", resume, text="No"))
    assert SENT == []
    result = next(e for e in done if e["type"] == "TOOL_CALL_RESULT")
    assert "did not approve" in result["content"]
    assert done[-1]["type"] == "RUN_FINISHED"


async def test_a_policy_asks_only_for_the_calls_it_names(served: tuple[fo.ScriptedUpstream, str]) -> None:
    fake, base = served
    fake.add(fo.tool_call("pay", '{"amount": 20}', "small"), fo.text(["Paid."]))
    fake.add(fo.tool_call("pay", '{"amount": 500}', "large"))
    async with httpx.AsyncClient(timeout=10) as client:
        small = await post(client, base, body("r1", text="Pay 20"))
        large = await post(client, base, body("r2", text="Pay 500"))
    assert next(e for e in small if e["type"] == "TOOL_CALL_RESULT")["content"] == "paid 20"
    assert large[-1]["outcome"]["interrupts"][0]["id"] == "approve-large"
    assert SENT == [{"amount": 20}]


async def test_a_call_cut_while_it_ran_is_reported_unknown_and_never_run_again(
    served: tuple[fo.ScriptedUpstream, str],
) -> None:
    fake, base = served
    fake.add(fo.tool_call("book_flight", '{"city": "Oslo"}', "call_f"), fo.text(["Sorry about that."]))
    async with httpx.AsyncClient(timeout=10) as client:
        await post(client, base, body("r1", text="Book Oslo"))
        resume = [{"interruptId": "approve-call_f", "status": "resolved", "payload": {"approved": True}}]
        running = asyncio.ensure_future(post(client, base, body("r2", resume, text="Yes")))
        await asyncio.wait_for(SLOW_STARTED.wait(), 5)
        stopped = await client.post(base + "/ag-ui/runs/r2/stop")
        assert stopped.status_code == 200
        await running
        after = await post(client, base, body("r3", text="Did it work?"))
    assert SENT == [{"city": "Oslo"}]  # once, never again
    result = next(e for e in after if e["type"] == "TOOL_CALL_RESULT")
    assert result["toolCallId"] == "call_f"
    assert "unknown" in result["content"]
    assert [e["delta"] for e in after if e["type"] == "TEXT_MESSAGE_CONTENT"] == ["Sorry about that."]
