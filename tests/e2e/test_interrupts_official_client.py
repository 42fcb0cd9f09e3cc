"""The official ``@ag-ui/client`` drives interrupts end to end: 1.0's ``HttpAgent`` answers each run's open
interrupts (``agent.pendingInterrupts``) in the next run's ``resume``, in memory with the OpenAI adapter's
tool approvals, and over Redis (raised on a worker, answered through the other web process); 0.0.59 (what
CopilotKit ships) accepts a run that ends with an interrupt."""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from agui_server import AGUIConfig, create_app
from agui_server.agents.openai import OpenAIAgent
from tests.e2e.test_llm_approvals import SENT, pay, send_email
from tests.e2e.test_official_clients import NODE_DIR, _node, run_client
from tests.support import fake_openai as fo
from tests.support.cluster import Cluster, cluster
from tests.support.interrupting import asks_first
from tests.support.server import running_server

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.node

ROUND_TRIP = NODE_DIR / "interrupt_round_trip.mjs"


def round_trip(payload: dict[str, Any]) -> dict[str, Any]:
    """Run interrupt_round_trip.mjs (bounded) and return its report."""
    done = subprocess.run(
        [_node(), str(ROUND_TRIP), "-"], cwd=NODE_DIR, input=json.dumps(payload).encode(), capture_output=True,
        timeout=120, check=False,
    )  # fmt: skip
    lines = done.stdout.decode().splitlines()
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert len(lines) == 1, (done.stdout, done.stderr)
    report: dict[str, Any] = json.loads(lines[0])
    assert "error" not in report, report
    return report


async def test_the_official_client_approves_then_refuses_a_backend_tool_call() -> None:
    SENT.clear()
    fake = fo.openai_upstream()
    fake.add(
        fo.tool_call("send_email", '{"to": "team@example.com", "subject": "Hi"}', "call_1"),
        fo.text(["Done."]),
        fo.tool_call("send_email", '{"to": "all@example.com", "subject": "Again"}', "call_2"),
        fo.text(["Understood, not sent."]),
    )
    async with running_server(fake) as upstream:
        agent = OpenAIAgent(fo.MODEL, api_key=fo.API_KEY, base_url=upstream + "/v1", tools=[send_email, pay])
        async with running_server(create_app(AGUIConfig(agent=agent, strict=True))) as base:
            steps = [
                {"runId": "r1", "message": "Email the team"},
                {"runId": "r2"},  # the client itself refuses: an open interrupt is not answered
                {"runId": "r3", "answer": {"approved": True}},
                {"runId": "r4", "message": "Email everyone"},
                {"runId": "r5", "answer": {"approved": False}},
            ]
            payload = {"url": base + "/ag-ui", "threadId": "approvals", "steps": steps}
            report = await asyncio.to_thread(round_trip, payload)
    asked, unanswered, approved, asked_again, refused = report["steps"]
    assert report["warnings"] == []
    assert asked["ok"]
    assert asked["outcome"] == "interrupt"
    assert asked["pendingInterrupts"] == [{"id": "approve-call_1", "reason": "tool_approval", "toolCallId": "call_1"}]
    assert not unanswered["ok"]
    assert "not addressed by resume" in unanswered["error"]
    assert approved["ok"]
    assert approved["pendingInterrupts"] == []
    assert approved["toolResults"] == [{"toolCallId": "call_1", "content": "sent to team@example.com"}]
    assert approved["text"] == "Done."
    assert asked_again["pendingInterrupts"][0]["id"] == "approve-call_2"
    assert refused["ok"]
    assert "did not approve" in refused["toolResults"][0]["content"]
    assert refused["text"] == "Understood, not sent."
    assert SENT == [{"to": "team@example.com", "subject": "Hi"}]
    assert fake.validation_errors == []


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    agents = ("--agent", "ask=tests.support.interrupting:asks_first")
    with cluster(tmp_path_factory.mktemp("interrupt-clients"), workers=1, agents=agents) as c:
        yield c


@pytest.mark.redis
def test_over_redis_the_official_client_answers_through_the_other_web_process(redis_cluster: Cluster) -> None:
    (a, _), (b, _) = redis_cluster.webs
    steps = [
        {"runId": "q1", "message": "Send it?", "url": a + "/ag-ui/ask"},
        {"runId": "q2", "answer": {"approved": True}, "url": b + "/ag-ui/ask"},
        {"runId": "q3", "message": "And again?", "url": a + "/ag-ui/ask"},
        {"runId": "q4", "answer": {"approved": False}, "url": b + "/ag-ui/ask"},
    ]
    report = round_trip({"url": a + "/ag-ui/ask", "threadId": "over-redis", "steps": steps})
    asked, approved, asked_again, refused = report["steps"]
    assert report["warnings"] == []
    assert [s["ok"] for s in report["steps"]] == [True] * 4, report["steps"]
    assert asked["outcome"] == asked_again["outcome"] == "interrupt"
    assert asked["pendingInterrupts"][0]["id"] == "ask-over-redis-0"
    assert approved["text"] == "ask-over-redis-0: sent. "
    assert refused["text"] == "ask-over-redis-0: not sent. "
    assert approved["pendingInterrupts"] == refused["pendingInterrupts"] == []


async def test_a_0_0_59_client_is_asked_and_answers_the_copilotkit_way() -> None:
    messages = [{"id": "u1", "role": "user", "content": "hi"}]
    async with running_server(create_app(AGUIConfig(agent=asks_first, strict=True))) as base:
        asked = await run_client("v0", base + "/ag-ui", {"threadId": "legacy", "runId": "l1", "messages": messages})
        answered = await run_client(
            "v0",
            base + "/ag-ui",
            {
                "threadId": "legacy",
                "runId": "l2",
                "messages": [*messages, {"id": "u2", "role": "user", "content": "yes"}],
                "forwardedProps": {"command": {"resume": {"approved": True}}},
            },
        )
    for report in (asked, answered):
        assert report["ok"], report
        assert report["warnings"] == []
        assert report["failed"] == []
        assert report["events"][-1] == "RUN_FINISHED"
    on_interrupt = [e for e in asked["eventObjects"] if e["type"] == "CUSTOM"]
    assert [(e["name"], e["value"]["id"]) for e in on_interrupt] == [("on_interrupt", "ask-legacy-0")]
    assert answered["messages"][-1]["content"] == "ask-legacy-0: sent. "
