"""Interrupts over Redis: raised on a worker, answered through another web process, refused as in memory."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.cluster import cluster as started
from tests.support.sse import parse_frames

pytestmark = pytest.mark.redis

AGENT = ("--agent", "ask=tests.support.interrupting:asks_first")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with started(tmp_path_factory.mktemp("interrupts"), workers=1, agents=AGENT) as c:
        yield c


def body(thread: str, run: str, resume: list[dict[str, Any]] | None = None, **props: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "threadId": thread,
        "runId": run,
        "protocolVersion": "1.0",
        "messages": [{"id": f"u-{run}", "role": "user", "content": "mail"}],
        "forwardedProps": props,
    }
    if resume is not None:
        out["resume"] = resume
    return out


def run(client: httpx.Client, url: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post(url, json=payload)
    assert response.status_code == 200, response.text
    return [event for _, event in parse_frames(response.content)]


def test_an_interrupt_raised_on_a_worker_is_answered_through_the_other_web_process(cluster: Cluster) -> None:
    (a, _), (b, _) = cluster.webs
    with httpx.Client(timeout=20) as client:
        asked = run(client, a + "/ag-ui/ask", body("r1", "r1-ask"))
        assert asked[-1]["outcome"]["interrupts"][0]["id"] == "ask-r1-0"
        assert [i["id"] for i in client.get(b + "/ag-ui/threads/r1").json()["interrupts"]] == ["ask-r1-0"]
        refused = client.post(b + "/ag-ui/ask", json=body("r1", "r1-none"))
        assert (refused.status_code, refused.json()["code"]) == (409, "INTERRUPT_RESUME_REQUIRED")
        resume = [{"interruptId": "ask-r1-0", "status": "resolved", "payload": {"approved": True}}]
        answered = run(client, b + "/ag-ui/ask", body("r1", "r1-yes", resume))
        assert "".join(e.get("delta", "") for e in answered) == "ask-r1-0: sent. "
        again = client.post(a + "/ag-ui/ask", json=body("r1", "r1-again", resume))
        assert (again.status_code, again.json()["code"]) == (409, "INTERRUPT_ALREADY_RESOLVED")
        thread = client.get(a + "/ag-ui/threads/r1").json()
        assert thread["interrupts"] == []
        assert [(x["interrupt"]["id"], x["answer"]["status"], x["runId"]) for x in thread["answeredInterrupts"]] == [
            ("ask-r1-0", "resolved", "r1-yes")
        ]


@pytest.mark.parametrize(
    ("resume", "code"),
    [
        ([{"interruptId": "ask-r2-0", "status": "resolved"}], "INTERRUPT_RESUME_INCOMPLETE"),
        ([{"interruptId": "nope", "status": "resolved"}], "INTERRUPT_UNKNOWN"),
        ([{"interruptId": "ask-r2-0", "status": "resolved"}] * 2, "INTERRUPT_ALREADY_RESOLVED"),
    ],
)
def test_a_wrong_resume_gets_the_same_code_as_in_memory(
    cluster: Cluster, resume: list[dict[str, Any]], code: str
) -> None:
    (a, _), _ = cluster.webs
    thread = f"r2-{code.lower()}"
    resume = [{**entry, "interruptId": entry["interruptId"].replace("r2", thread)} for entry in resume]
    with httpx.Client(timeout=20) as client:
        run(client, a + "/ag-ui/ask", body(thread, f"{thread}-ask", questions=2))
        refused = client.post(a + "/ag-ui/ask", json=body(thread, f"{thread}-bad", resume))
        assert (refused.status_code, refused.json()["code"]) == (409, code)


def test_an_expired_interrupt_over_redis_may_only_be_cancelled(cluster: Cluster) -> None:
    (a, _), (b, _) = cluster.webs
    with httpx.Client(timeout=20) as client:
        run(client, a + "/ag-ui/ask", body("r3", "r3-ask", expires_in=0.05))
        time.sleep(0.2)
        late = [{"interruptId": "ask-r3-0", "status": "resolved", "payload": {"approved": True}}]
        refused = client.post(b + "/ag-ui/ask", json=body("r3", "r3-late", late))
        assert (refused.status_code, refused.json()["code"]) == (409, "INTERRUPT_EXPIRED")
        cancelled = run(
            client, b + "/ag-ui/ask", body("r3", "r3-cancel", [{"interruptId": "ask-r3-0", "status": "cancelled"}])
        )
        assert "".join(e.get("delta", "") for e in cancelled) == "ask-r3-0: cancelled. "


def test_of_concurrent_answers_through_both_web_processes_exactly_one_runs(cluster: Cluster) -> None:
    (a, _), (b, _) = cluster.webs
    resume = [{"interruptId": "ask-r4-0", "status": "resolved", "payload": {"approved": True}}]
    with httpx.Client(timeout=20) as client:
        run(client, a + "/ag-ui/ask", body("r4", "r4-ask"))
    answers: list[httpx.Response] = []

    def answer(base: str, run_id: str) -> None:
        with httpx.Client(timeout=20) as client:
            answers.append(client.post(base + "/ag-ui/ask", json=body("r4", run_id, resume)))

    threads = [threading.Thread(target=answer, args=(base, f"r4-{n}")) for n, base in enumerate((a, b, a, b))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.status_code for r in answers) == [200, 409, 409, 409], [r.text[:200] for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} <= {"THREAD_BUSY", "INTERRUPT_ALREADY_RESOLVED"}


def test_a_legacy_client_answers_over_redis_with_command_resume(cluster: Cluster) -> None:
    (a, _), (b, _) = cluster.webs
    legacy = {"threadId": "r5", "messages": [{"id": "u-r5", "role": "user", "content": "mail"}]}
    with httpx.Client(timeout=20) as client:
        asked = run(client, a + "/ag-ui/ask", {**legacy, "runId": "r5-ask"})
        assert [e["value"]["id"] for e in asked if e["type"] == "CUSTOM"] == ["ask-r5-0"]
        answer = {**legacy, "runId": "r5-yes", "forwardedProps": {"command": {"resume": {"approved": False}}}}
        answered = run(client, b + "/ag-ui/ask", answer)
    assert "".join(e.get("delta", "") for e in answered) == "ask-r5-0: not sent. "


def test_answers_stopped_while_queued_are_stored_by_the_worker_that_ends_the_run(tmp_path: Any) -> None:
    """A run that carries answers is not ended by the stop itself (that would leave the stored thread asking
    questions it no longer takes answers to): the worker that claims it ends it cancelled, without running the
    agent, and stores the thread with the answers."""
    with started(tmp_path, webs=1, workers=1, agents=AGENT) as c:
        assert isinstance(c, Cluster)
        ((web, _),) = c.webs
        with httpx.Client(timeout=30) as client:
            asked = run(client, web + "/ag-ui/ask", body("q1", "q1-ask"))
            assert asked[-1]["outcome"]["interrupts"][0]["id"] == "ask-q1-0"
            worker = c.workers[0]
            worker.terminate()  # no worker: the answering run waits in the queue
            worker.wait(15)
            resume = [{"interruptId": "ask-q1-0", "status": "resolved", "payload": {"approved": True}}]
            with client.stream("POST", web + "/ag-ui/ask", json=body("q1", "q1-yes", resume)) as response:
                assert response.status_code == 200
                lines = response.iter_lines()
                head = next(line for line in lines if line.startswith("data:"))
                stopped = client.post(web + "/ag-ui/runs/q1-yes/stop")
                c.start_worker(*AGENT)
                rest = [line for line in lines if line.startswith("data:")]
            thread = client.get(web + "/ag-ui/threads/q1").json()
    events = [event for _, event in parse_frames(("\n\n".join([head, *rest]) + "\n\n").encode())]
    assert stopped.json() == {"runId": "q1-yes", "status": "cancelled"}
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_FINISHED"]
    assert events[-1]["outcome"] == {"type": "cancelled"}
    assert thread["interrupts"] == []
    assert [(x["interrupt"]["id"], x["runId"]) for x in thread["answeredInterrupts"]] == [("ask-q1-0", "q1-yes")]
