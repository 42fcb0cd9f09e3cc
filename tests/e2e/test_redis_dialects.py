"""Dialects over a real Redis: a reused runId, a late subscriber, and outside workers publishing envelopes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster, cluster
from tests.support.server import ROOT, uvicorn_app
from tests.support.sse import parse_frames, sse_blocks

pytestmark = pytest.mark.redis


def body(run_id: str, thread_id: str, text: str, message_id: str = "msg_xxx") -> dict[str, Any]:
    return {
        "threadId": thread_id,
        "runId": run_id,
        "messages": [{"id": message_id, "role": "user", "content": text}],
        "context": [],
        "tools": [],
    }


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with cluster(tmp_path_factory.mktemp("cluster"), webs=2, workers=1) as c:
        yield c


def deltas(raw: bytes) -> str:
    return "".join(e.get("delta", "") for _, e in parse_frames(raw))


def test_a_reused_run_id_with_a_new_question_is_a_new_run_on_any_web_process(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        first = client.post(a + "/ag-ui", json=body("run_456", "thread_123", "你是谁")).content
        second = client.post(b + "/ag-ui", json=body("run_456", "thread_123", "今天天气怎么样")).content
        retried = client.post(a + "/ag-ui", json=body("run_456", "thread_123", "今天天气怎么样")).content
        thread = client.get(b + "/ag-ui/threads/thread_123").json()
    assert "你是谁" in deltas(first)
    assert "今天天气怎么样" in deltas(second)
    assert deltas(retried) == deltas(second)
    assistant = [m for m in thread["messages"] if m["role"] == "assistant"]
    assert len(assistant) == 2
    assert len({m["id"] for m in assistant}) == 2


def test_a_subscriber_on_another_web_process_gets_the_run_in_progress_from_its_start(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        posted = client.post(a + "/agents/slow/messages", json={"thread_id": "late", "message": "hi"})
        assert posted.status_code == 202
        time.sleep(0.3)  # the run is under way before the subscription
        with client.stream("GET", b + "/agents/slow/sse", params={"thread_id": "late"}) as response:
            buffer = b""
            for chunk in response.iter_raw():
                buffer += chunk
                if b"event: RUN_FINISHED" in buffer:
                    break
    names = [line[7:] for line in buffer.split(b"\n") if line.startswith(b"event: ")]
    assert names[0] == b"RUN_STARTED"
    assert names[-1] == b"RUN_FINISHED"


def test_a_subscriber_just_after_a_fast_run_ended_still_gets_it(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        posted = client.post(a + "/agents/default/messages", json={"thread_id": "quick", "message": "Привет"})
        assert posted.status_code == 202
        deadline = time.monotonic() + 10
        while not client.get(b + "/ag-ui/threads/quick").is_success:  # the run has ended and is stored
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with client.stream("GET", b + "/agents/default/sse", params={"thread_id": "quick"}) as response:
            buffer = b""
            for chunk in response.iter_raw():
                buffer += chunk
                if b"event: RUN_FINISHED" in buffer:
                    break
    unnamed = [data for event, _, data in sse_blocks(buffer) if event is None]
    messages = [u["message"] for u in unnamed if "message" in u]
    assert len(messages) == 1
    assert "Привет" in messages[0]


def test_server_and_agent_feeds_over_redis_show_runs_that_other_processes_ran(shared: Cluster) -> None:
    (a, _), _ = shared.webs
    with uvicorn_app("tests.support.feeds_app:app", {"FEEDS_REDIS_URL": shared.redis_url}) as base:
        with httpx.Client(timeout=20) as client:
            with (
                client.stream("GET", base + "/events") as everything,
                client.stream("GET", base + "/stream/slow") as agent_feed,
            ):
                for run_id, agent in (("wide-1", "counting"), ("wide-2", "slow")):
                    run = body(run_id, f"t-{run_id}", "hi")
                    assert client.post(f"{a}/ag-ui/{agent}", json=run).status_code == 200
                all_raw = _read(everything, b"event: complete", 2)
                last_id = [line for line in all_raw.split(b"\n") if line.startswith(b"id: ")][-1][4:].decode()
                agent_raw = _read(agent_feed, b"event: complete", 1)
            # a reconnect with the last id: nothing is repeated, the next run follows
            with client.stream("GET", base + "/events", headers={"last-event-id": last_id}) as resumed:
                assert client.post(f"{a}/ag-ui/counting", json=body("wide-3", "t-wide-3", "hi")).status_code == 200
                resumed_raw = _read(resumed, b"event: complete", 1)
    completes = [data for event, _, data in sse_blocks(all_raw) if event == "complete"]
    assert [c["run_id"] for c in completes] == ["wide-1", "wide-2"]
    agent_completes = [data for event, _, data in sse_blocks(agent_raw) if event == "complete"]
    assert [c["run_id"] for c in agent_completes] == ["wide-2"]
    assert b"event: agent_message" in agent_raw
    ids = [int(line[4:]) for line in resumed_raw.split(b"\n") if line.startswith(b"id: ")]
    assert min(ids) > int(last_id)
    assert b'"run_id":"wide-3"' in resumed_raw


def _read(response: httpx.Response, marker: bytes, count: int) -> bytes:
    buffer = b""
    for chunk in response.iter_raw():
        buffer += chunk
        if buffer.count(marker) >= count:
            break
    return buffer


DOCUMENT_WORKER = textwrap.dedent(
    """
    import json, sys, time
    import redis
    from agui_server.runs.redis.bridge import publish_event

    url = sys.argv[1]
    jobs = redis.Redis.from_url(url)
    _, raw = jobs.blpop("jobs", timeout=20)
    job = json.loads(raw)
    session_id = job["session_id"]
    if job["query"] == "fail":
        publish_event(session_id, "error", {"error": "the model is down"}, redis_url=url)
        sys.exit(0)
    publish_event(session_id, "worker_ack", {}, redis_url=url)
    for char in "Let me think.":
        publish_event(session_id, "AgentThoughtStream", {"char": char}, redis_url=url)
    publish_event(session_id, "AgentToolCallStart", {"tool_name": "weather"}, redis_url=url)
    for char in "Paris, 20°C.":
        publish_event(session_id, "FinalAnswerStream", {"char": char}, redis_url=url)
    publish_event(session_id, "FinalAnswerStreamEnd", {}, redis_url=url)
    """
)


def test_outside_workers_publish_envelopes_into_a_run(tmp_path: Path) -> None:
    script = tmp_path / "document_worker.py"
    script.write_text(DOCUMENT_WORKER)
    with (
        cluster(tmp_path, webs=0, workers=0) as c,
        uvicorn_app("tests.support.bridge_app:app", {"BRIDGE_REDIS_URL": c.redis_url}) as base,
    ):
        results = []
        for query in ("What is the capital of France?", "fail"):
            worker = subprocess.Popen([sys.executable, str(script), c.redis_url], cwd=ROOT)
            try:
                session = {"user_query": query, "model_alias": "smart_agent"}
                raw = httpx.post(base + "/v1/react/sessions", json=session, timeout=20).content
                assert worker.wait(20) == 0
            finally:
                if worker.poll() is None:
                    worker.kill()
            parts = [p for p in raw.split(b"\n\n") if p]
            assert all(p.startswith(b"data: ") and b"\n" not in p for p in parts), raw
            results.append([json.loads(p[6:]) for p in parts])
    ok, failed = results
    kinds = [e["event_type"] for e in ok]
    assert kinds[0] == "worker_ack"
    assert kinds[-1] == "FinalAnswerStreamEnd"
    assert "".join(e["payload"]["char"] for e in ok if e["event_type"] == "AgentThoughtStream") == "Let me think."
    assert [e["payload"]["tool_name"] for e in ok if e["event_type"] == "AgentToolCallStart"] == ["weather"]
    assert "".join(e["payload"]["char"] for e in ok if e["event_type"] == "FinalAnswerStream") == "Paris, 20°C."
    assert [e["event_type"] for e in failed] == ["worker_ack", "error"]
    assert failed[-1]["payload"] == {"error": "the model is down", "code": "WORKER_ERROR"}
