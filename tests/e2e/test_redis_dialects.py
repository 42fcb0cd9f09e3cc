"""Dialects over a real Redis: a reused runId, a late subscriber, the server's and agents' feeds (every end of a run
included), and outside workers publishing envelopes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from agui_server.runs.redis import RedisRunBackend
from agui_server.runs.redis.entries import continues
from agui_server.runs.redis.worker import WorkerSettings
from tests.support.cluster import Cluster, cluster
from tests.support.reaping import end_runs_four_ways, events_of, frames_of
from tests.support.server import ROOT, uvicorn_app
from tests.support.sse import SyncReader, parse_frames, sse_blocks

if TYPE_CHECKING:
    from collections.abc import Iterator

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


def _read_some(response: httpx.Response, marker: bytes, count: int) -> bytes:
    """Like ``_read``, but what came before a silence of the client's read timeout when fewer came (so that
    the test's assertion says what is missing rather than wait for the feed's keepalives forever)."""
    buffer = b""
    with contextlib.suppress(httpx.ReadTimeout):
        for chunk in response.iter_raw():
            buffer += chunk
            if buffer.count(marker) >= count:
                break
    return buffer


def _completes(raw: bytes) -> list[dict[str, Any]]:
    return [data for event, _, data in sse_blocks(raw) if event == "complete"]


@pytest.fixture(scope="module", params=["redis", "cluster"])
def bare_redis(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis of that kind (one server, a 3-primary Redis Cluster) and no process of the server's: the test runs
    the backend in its own process."""
    c = Cluster(tmp_path_factory.mktemp(f"bare-{request.param}"), request.param)
    c.start_redis()
    try:
        yield c.redis_url
    finally:
        c.stop()


async def test_the_wide_feeds_get_the_last_event_of_runs_the_reaper_or_a_queued_stop_ends(bare_redis: str) -> None:
    settings = WorkerSettings(start_timeout=0.3, reap_interval=60)  # (the test makes the reaper's one pass)
    web = RedisRunBackend(bare_redis, worker_slots=0, prefix=f"w{uuid.uuid4().hex[:8]}", settings=settings)
    await web.startup()
    try:
        everything = await web.subscribe_all(None, None)
        helper = await web.subscribe_all("helper", None)
        starts = len(everything), len(helper)
        await end_runs_four_ways(web)
        all_events = events_of(await frames_of(everything, starts[0], 8))
        helper_events = events_of(await frames_of(helper, starts[1], 6))
        web.unsubscribe(everything)
        web.unsubscribe(helper)
        wide_entries = await web.redis.xrange(web.keys.wide_feed(None))
        again_log = await web.redis.xrange(web.keys.log("again"))
    finally:
        await web.shutdown()

    def named(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, str]]:
        return [(kind, event.get("runId") or event["code"]) for kind, event in events]

    assert named(all_events[:5]) == [
        ("RUN_STARTED", "lost"), ("RUN_STARTED", "again"), ("RUN_STARTED", "stopped"), ("RUN_FINISHED", "stopped"),
        ("RUN_STARTED", "orphan"),
    ]  # fmt: skip
    assert all_events[3][1]["outcome"] == {"type": "cancelled"}
    lost, no_worker = ("RUN_ERROR", "WORKER_LOST"), ("RUN_ERROR", "NO_WORKER")
    assert named(all_events[5:]) == [lost, lost, no_worker]  # (the reaper's pass: expired leases, then the queue)
    assert sorted("once more" in event["message"] for _, event in all_events[5:7]) == [False, True]
    # the agent's feed: the runs of its agent only
    assert named(helper_events) == [
        ("RUN_STARTED", "lost"), ("RUN_STARTED", "stopped"), ("RUN_FINISHED", "stopped"), ("RUN_STARTED", "orphan"),
        lost, no_worker,
    ]  # fmt: skip
    assert "once more" not in helper_events[4][1]["message"]
    # a run that goes on after a RUN_ERROR says so in its log; a feed's readers go on past every end anyway
    assert continues(again_log[-1][1])
    assert not any(continues(fields) for _, fields in wide_entries)


def test_server_and_agent_feeds_over_redis_show_the_end_of_runs_stopped_while_queued_or_no_worker_took(
    tmp_path: Path,
) -> None:
    """The stop and the reaper end such runs with scripts of their own: their last event reaches the wide feeds
    as every other event of the run does (the feeds' web process is not the one the runs go through)."""
    with (
        cluster(tmp_path, webs=1, workers=0, web_args=("--start-timeout", "3")) as c,
        uvicorn_app("tests.support.feeds_app:app", {"FEEDS_REDIS_URL": c.redis_url}) as base,
    ):
        ((web, _),) = c.webs
        with httpx.Client(timeout=httpx.Timeout(20, read=10)) as client:
            with (
                client.stream("GET", base + "/events") as everything,
                client.stream("GET", base + "/stream/slow") as agent_feed,
            ):
                queued = {**body("queued-stop", "t-queued-stop", "hi"), "protocolVersion": "1.0"}
                with client.stream("POST", web + "/ag-ui/slow", json=queued) as r:
                    assert SyncReader(r).take(1)[0][1]["type"] == "RUN_STARTED"  # (admitted; no worker exists)
                    stopped = client.post(web + "/ag-ui/runs/queued-stop/stop").json()
                orphan = parse_frames(client.post(web + "/ag-ui/slow", json=body("orphan", "t-orphan", "hi")).content)
                all_raw = _read_some(everything, b"event: complete", 2)
                agent_raw = _read_some(agent_feed, b"event: complete", 2)
    assert stopped == {"runId": "queued-stop", "status": "cancelled"}
    assert orphan[-1][1]["code"] == "NO_WORKER"  # (what the run's own stream got)
    expected = [
        {"thread_id": "t-queued-stop", "run_id": "queued-stop", "outcome": "cancelled"},
        {"thread_id": None, "run_id": None, "outcome": "error", "error": orphan[-1][1]["message"], "code": "NO_WORKER"},
    ]  # (a RUN_ERROR names no run)
    assert _completes(all_raw) == expected
    assert _completes(agent_raw) == [{**done, "agent_id": "slow"} for done in expected]


def test_server_and_agent_feeds_over_redis_show_the_end_of_runs_whose_worker_was_killed(shared: Cluster) -> None:
    """The reaper's ``WORKER_LOST`` reaches the wide feeds, and so does the ``RUN_ERROR`` of a run that is safe to
    repeat, before its second attempt (the feeds go on past it, as past every run's end)."""
    (a, _), _ = shared.webs
    on_disconnect = {"x-agui-on-disconnect": "continue"}
    with uvicorn_app("tests.support.feeds_app:app", {"FEEDS_REDIS_URL": shared.redis_url}) as base:
        with httpx.Client(timeout=httpx.Timeout(20, read=10)) as client:
            with (
                client.stream("GET", base + "/events") as everything,
                client.stream("GET", base + "/stream/slow") as agent_feed,
            ):
                for run_id, agent, tokens in (("killed", "slow", 400), ("again", "repeatable", 40)):
                    run = {**body(run_id, f"t-{run_id}", "hi"), "forwardedProps": {"tokens": tokens}}
                    with client.stream("POST", f"{a}/ag-ui/{agent}", json=run, headers=on_disconnect) as r:
                        SyncReader(r).take(3)  # (under way on the cluster's only worker)
                redis = shared.client()
                try:
                    pid = int(redis.hget(shared.keys.meta("killed"), "worker").decode().rsplit("-", 2)[1])
                    assert int(redis.hget(shared.keys.meta("again"), "worker").decode().rsplit("-", 2)[1]) == pid
                finally:
                    redis.close()
                victim = next(p for p in shared.workers if p.pid == pid)
                os.kill(pid, signal.SIGKILL)
                victim.wait(5)
                shared.workers.remove(victim)
                shared.start_worker()  # (for the second attempt of the run that may repeat)
                all_raw = _read_some(everything, b"event: complete", 3)
                agent_raw = _read_some(agent_feed, b"event: complete", 1)
    everything_done = _completes(all_raw)
    assert len(everything_done) == 3
    lost = [done for done in everything_done if done["outcome"] == "error"]
    assert [done["code"] for done in lost] == ["WORKER_LOST", "WORKER_LOST"]  # (the killed run's, the retried one's)
    assert sorted("once more" in done["error"] for done in lost) == [False, True]
    assert everything_done[-1] == {"thread_id": "t-again", "run_id": "again", "outcome": "success"}
    assert [(done["outcome"], done["code"]) for done in _completes(agent_raw)] == [("error", "WORKER_LOST")]


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
