"""Interrupts through the app: a run that ends asking, and the rules for the request that answers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from agui_server import AGUIConfig, MemoryBackend, create_app
from tests.support.interrupting import asks_first
from tests.support.sse import collect_events, run_input


def client_for(**config: Any) -> httpx.AsyncClient:
    app = create_app(AGUIConfig(agent=asks_first, strict=True, **config))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=10)


def answer(thread: str, run: str, resume: list[dict[str, Any]] | None, **extra: Any) -> dict[str, Any]:
    body = run_input("ok", run_id=run, thread_id=thread, protocolVersion="1.0", **extra)
    if resume is not None:
        body["resume"] = resume
    return body


async def ask(client: httpx.AsyncClient, thread: str, **props: Any) -> list[dict[str, Any]]:
    body = run_input("mail", run_id=f"{thread}-ask", thread_id=thread, protocolVersion="1.0", forwardedProps=props)
    response, events, _ids = await collect_events(client, "/ag-ui", body)
    assert response.status_code == 200
    return events


async def test_a_run_ends_with_the_interrupt_outcome_and_the_thread_keeps_it_open() -> None:
    async with client_for() as client:
        events = await ask(client, "t1")
        outcome = events[-1]["outcome"]
        assert events[-1]["type"] == "RUN_FINISHED"
        assert outcome["type"] == "interrupt"
        assert [i["id"] for i in outcome["interrupts"]] == ["ask-t1-0"]
        assert outcome["interrupts"][0]["responseSchema"]["required"] == ["approved"]
        thread = (await client.get("/ag-ui/threads/t1")).json()
        assert [i["id"] for i in thread["interrupts"]] == ["ask-t1-0"]


async def test_the_answer_reaches_the_agent_and_closes_the_interrupt() -> None:
    async with client_for() as client:
        await ask(client, "t2")
        resume = [{"interruptId": "ask-t2-0", "status": "resolved", "payload": {"approved": True}}]
        response, events, _ = await collect_events(client, "/ag-ui", answer("t2", "r2", resume))
        assert response.status_code == 200
        assert "".join(e.get("delta", "") for e in events) == "ask-t2-0: sent. "
        assert events[-1] == {**events[-1], "type": "RUN_FINISHED"}
        assert "outcome" not in events[-1]
        thread = (await client.get("/ag-ui/threads/t2")).json()
        assert thread["interrupts"] == []
        (answered,) = thread["answeredInterrupts"]  # the question, the answer and the run that took it
        assert answered["interrupt"]["id"] == "ask-t2-0"
        assert answered["interrupt"]["message"] == "Send the email to the team?"
        assert answered["answer"] == {"interruptId": "ask-t2-0", "status": "resolved", "payload": {"approved": True}}
        assert answered["runId"] == "r2"
        again = await client.post("/ag-ui", json=answer("t2", "r3", resume))
        assert again.status_code == 409
        assert again.json()["code"] == "INTERRUPT_ALREADY_RESOLVED"
        assert again.json()["errors"][0]["field"] == "resume[0].interruptId"
        # the thread goes on without resume now
        response, events, _ = await collect_events(client, "/ag-ui", answer("t2", "r4", None))
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("resume", "code", "field"),
    [
        (None, "INTERRUPT_RESUME_REQUIRED", "resume"),
        ([], "INTERRUPT_RESUME_REQUIRED", "resume"),
        ([{"interruptId": "ask-t3-0", "status": "resolved"}], "INTERRUPT_RESUME_INCOMPLETE", "resume"),
        ([{"interruptId": "nope", "status": "resolved"}], "INTERRUPT_UNKNOWN", "resume[0].interruptId"),
        (
            [{"interruptId": "ask-t3-0", "status": "resolved"}, {"interruptId": "ask-t3-0", "status": "cancelled"}],
            "INTERRUPT_ALREADY_RESOLVED",
            "resume[1].interruptId",
        ),
    ],
)
async def test_a_partial_or_wrong_resume_is_refused_before_the_stream(
    resume: list[dict[str, Any]] | None, code: str, field: str
) -> None:
    async with client_for() as client:
        await ask(client, "t3", questions=2)
        response = await client.post("/ag-ui", json=answer("t3", "bad", resume))
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert (response.json()["code"], response.json()["errors"][0]["field"]) == (code, field)
        # nothing was answered: the thread still waits on both
        assert len((await client.get("/ag-ui/threads/t3")).json()["interrupts"]) == 2


async def test_an_expired_interrupt_may_be_cancelled_but_not_answered() -> None:
    async with client_for() as client:
        await ask(client, "t4", expires_in=0.01)
        await asyncio.sleep(0.05)
        resolved = [{"interruptId": "ask-t4-0", "status": "resolved", "payload": {"approved": True}}]
        response = await client.post("/ag-ui", json=answer("t4", "late", resolved))
        assert response.status_code == 409
        assert response.json()["code"] == "INTERRUPT_EXPIRED"
        cancelled = [{"interruptId": "ask-t4-0", "status": "cancelled"}]
        response, events, _ = await collect_events(client, "/ag-ui", answer("t4", "cancel", cancelled))
        assert response.status_code == 200
        assert "".join(e.get("delta", "") for e in events) == "ask-t4-0: cancelled. "


async def test_of_two_concurrent_answers_to_one_interrupt_exactly_one_runs() -> None:
    async with client_for() as client:
        await ask(client, "t5")
        resume = [{"interruptId": "ask-t5-0", "status": "resolved", "payload": {"approved": True}}]
        first, second = await asyncio.gather(
            client.post("/ag-ui", json=answer("t5", "a", resume)), client.post("/ag-ui", json=answer("t5", "b", resume))
        )
        statuses = sorted([first.status_code, second.status_code])
        assert statuses == [200, 409], (first.text, second.text)
        refused = first if first.status_code == 409 else second
        assert refused.json()["code"] in ("THREAD_BUSY", "INTERRUPT_ALREADY_RESOLVED")


async def test_connect_shows_a_reloading_client_the_open_interrupts() -> None:
    async with client_for() as client:
        await ask(client, "t6")
        response, events, _ = await collect_events(
            client, "/ag-ui/connect", {"threadId": "t6", "runId": "reload", "protocolVersion": "1.0"}
        )
        assert response.status_code == 200
        assert events[-1]["type"] == "RUN_FINISHED"
        assert [i["id"] for i in events[-1]["outcome"]["interrupts"]] == ["ask-t6-0"]


async def test_open_interrupts_survive_a_restart_with_sqlite(tmp_path: Path) -> None:
    db = str(tmp_path / "threads.db")
    async with client_for(backend=MemoryBackend(threads_db=db)) as client:
        await ask(client, "t7")
    async with client_for(backend=MemoryBackend(threads_db=db)) as client:
        response = await client.post("/ag-ui", json=answer("t7", "after", None))
        assert response.json()["code"] == "INTERRUPT_RESUME_REQUIRED"
        resume = [{"interruptId": "ask-t7-0", "status": "resolved", "payload": {"approved": False}}]
        response, events, _ = await collect_events(client, "/ag-ui", answer("t7", "after2", resume))
        assert "".join(e.get("delta", "") for e in events) == "ask-t7-0: not sent. "


async def test_a_legacy_client_gets_on_interrupt_events_and_answers_with_command_resume() -> None:
    async with client_for() as client:
        body = run_input("mail", run_id="legacy-ask", thread_id="t8", forwardedProps={})
        response, events, _ = await collect_events(client, "/ag-ui", body)
        assert response.status_code == 200
        assert events[-1]["outcome"]["type"] == "interrupt"  # (0.0.59's schema accepts it)
        custom = [e for e in events if e["type"] == "CUSTOM"]
        assert [(e["name"], e["value"]["id"]) for e in custom] == [("on_interrupt", "ask-t8-0")]
        assert custom[0]["value"]["responseSchema"]["required"] == ["approved"]
        # CopilotKit's LangGraph convention: the answer in forwardedProps.command.resume, no interrupt id
        answer = run_input(
            "yes", run_id="legacy-yes", thread_id="t8", forwardedProps={"command": {"resume": {"approved": True}}}
        )
        response, events, _ = await collect_events(client, "/ag-ui", answer)
        assert response.status_code == 200, response
        assert "".join(e.get("delta", "") for e in events) == "ask-t8-0: sent. "
        again = await client.post("/ag-ui", json=run_input("hi", run_id="legacy-next", thread_id="t8"))
        assert again.status_code == 200


async def test_the_readme_example_asks_then_sends_on_approval() -> None:
    from examples.approvals import app

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=10) as c:
        first = {
            "threadId": "t1",
            "runId": "r1",
            "protocolVersion": "1.0",
            "messages": [{"id": "u1", "role": "user", "content": "mail"}],
        }
        _, events, _ = await collect_events(c, "/ag-ui", first)
        assert events[-1]["outcome"]["interrupts"][0]["id"] == "send-r1"
        assert events[-1]["outcome"]["interrupts"][0]["expiresAt"].endswith("Z")
        resume = [{"interruptId": "send-r1", "status": "resolved", "payload": {"approved": True}}]
        second = {"threadId": "t1", "runId": "r2", "protocolVersion": "1.0", "messages": [], "resume": resume}
        _, events, _ = await collect_events(c, "/ag-ui", second)
        assert "".join(e.get("delta", "") for e in events) == "Sent 'Hello' to team@example.com."
