"""Runs over a real Redis with two web and two worker processes on 127.0.0.1."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance import BUILTIN_SCENARIOS, run_conformance
from tests.support.cluster import Cluster, cluster
from tests.support.redis_nodes import KINDS, Kind
from tests.support.server import ROOT, free_port
from tests.support.sse import Frame, SyncReader, parse_frames

pytestmark = pytest.mark.redis

parse = parse_frames
Reader = SyncReader


def take(response: httpx.Response, count: int) -> list[Frame]:
    """The first ``count`` data frames of a streaming response (what was read past them is dropped)."""
    return Reader(response).take(count)


def body(run_id: str, thread_id: str | None = None, text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "threadId": thread_id or f"thread-{run_id}",
        "runId": run_id,
        "protocolVersion": "1.0",
        "messages": [{"id": f"u-{run_id}", "role": "user", "content": text}],
        **extra,
    }


@pytest.fixture(scope="module", params=KINDS)
def kind(request: pytest.FixtureRequest) -> Kind:
    """Each test runs over one redis-server, a 3-primary Redis Cluster and one valkey-server (redis_nodes.py)."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, kind: Kind) -> Any:
    with cluster(tmp_path_factory.mktemp(f"cluster-{kind}"), kind=kind) as c:
        yield c


def test_a_run_started_on_web_a_streams_fully_from_web_b(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        with client.stream(
            "POST", a + "/ag-ui/counting", json=body("ab"), headers={"x-agui-on-disconnect": "continue"}
        ) as response:
            assert response.status_code == 200
            first = take(response, 5)
        full = parse(client.get(b + "/ag-ui/runs/ab/events", params={"after": 0}).content)
    assert first == full[:5]
    assert [e["type"] for _, e in full][-1] == "RUN_FINISHED"
    assert [i for i, _ in full] == [str(n) for n in range(1, 2005)]
    assert "".join(e.get("delta", "") for _, e in full) == "".join(f"{n} " for n in range(2000))


def test_a_stream_cut_at_50_points_and_resumed_on_the_other_web_process_loses_nothing(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    rng = random.Random(7)
    total = 2004
    cuts = sorted(rng.sample(range(1, total - 1), 50))
    received: list[Frame] = []
    with httpx.Client(timeout=20) as client:
        with client.stream(
            "POST", a + "/ag-ui/counting", json=body("cut50"), headers={"x-agui-on-disconnect": "continue"}
        ) as response:
            received += take(response, cuts[0])
        for n, cut in enumerate([*cuts[1:], total + 1]):
            base = b if n % 2 == 0 else a
            headers = {"last-event-id": received[-1][0] or ""}
            with client.stream("GET", base + "/ag-ui/runs/cut50/events", headers=headers) as response:
                assert response.status_code == 200
                received += take(response, cut - len(received))
        uncut = parse(client.get(a + "/ag-ui/runs/cut50/events", params={"after": 0}).content)
        drained = client.get(b + "/ag-ui/runs/cut50/events", headers={"last-event-id": str(total)})
    assert [i for i, _ in received] == [str(n) for n in range(1, total + 1)]
    assert received == uncut
    assert drained.status_code == 204


def test_stop_through_web_b_cancels_the_run_a_worker_executes(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        with client.stream("POST", a + "/ag-ui/slow", json=body("stopme", forwardedProps={"tokens": 400})) as response:
            reader = Reader(response)
            started = reader.take(3)
            stopped = client.post(b + "/ag-ui/runs/stopme/stop")
            rest = reader.take(10_000)
    events = [e for _, e in started + rest]
    assert stopped.json() == {"runId": "stopme", "status": "cancelled"}
    assert events[-1]["type"] == "RUN_FINISHED"
    assert events[-1]["outcome"] == {"type": "cancelled"}
    assert len(events) < 100


def test_two_concurrent_runs_on_one_thread_through_different_web_processes_give_one_409(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    results: dict[str, int] = {}

    def post(base: str, run_id: str) -> None:
        with httpx.Client(timeout=20) as client:
            response = client.post(
                base + "/ag-ui/slow", json=body(run_id, "busy-thread", forwardedProps={"tokens": 20})
            )
            results[run_id] = response.status_code
            if response.status_code == 409:
                assert response.json()["code"] == "THREAD_BUSY"

    threads = [threading.Thread(target=post, args=(a, "busy-1")), threading.Thread(target=post, args=(b, "busy-2"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results.values()) == [200, 409]


def test_history_is_shared_by_every_web_process(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        client.post(a + "/ag-ui", json=body("h1", "shared-thread", "first"))
        client.post(b + "/ag-ui", json=body("h2", "shared-thread", "second"))
        thread = client.get(a + "/ag-ui/threads/shared-thread").json()
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant", "user", "assistant"]
    assert thread["messages"][2]["content"] == "second"
    assert '"first"' not in thread["messages"][3]["content"]  # the offline agent answered the last message


def test_a_worker_killed_with_sigkill_ends_its_run_with_worker_lost(shared: Cluster) -> None:
    (a, _), _ = shared.webs
    with httpx.Client(timeout=20) as client:
        with client.stream("POST", a + "/ag-ui/slow", json=body("killed", forwardedProps={"tokens": 400})) as response:
            reader = Reader(response)
            started = reader.take(3)
            meta = shared_meta(shared, "killed")
            pid = int(meta["worker"].rsplit("-", 2)[1])
            victim = next(p for p in shared.workers if p.pid == pid)
            killed_at = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            victim.wait(5)
            rest = reader.take(10_000)
            ended_after = time.monotonic() - killed_at
    shared.workers.remove(victim)
    shared.start_worker()
    events = [e for _, e in started + rest]
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == "WORKER_LOST"
    assert ended_after < 2 + 1 + 2  # the lease (2 s), a reaper pass (1 s), and slack


def test_a_run_that_is_safe_to_repeat_runs_once_more_after_its_worker_died(shared: Cluster) -> None:
    (a, _), _ = shared.webs
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", a + "/ag-ui/repeatable", json=body("again", forwardedProps={"tokens": 30})) as r:
            reader = Reader(r)
            started = reader.take(3)
            pid = int(shared_meta(shared, "again")["worker"].rsplit("-", 2)[1])
            victim = next(p for p in shared.workers if p.pid == pid)
            os.kill(pid, signal.SIGKILL)
            victim.wait(5)
            rest = reader.take(10_000)
    shared.workers.remove(victim)
    shared.start_worker()
    events = [e for _, e in started + rest]
    kinds = [e["type"] for e in events]
    assert kinds.count("RUN_STARTED") == 2
    retry = kinds.index("RUN_ERROR")
    assert events[retry]["code"] == "WORKER_LOST"
    assert kinds[retry + 1] == "RUN_STARTED"
    assert kinds[-1] == "RUN_FINISHED"
    second = "".join(e.get("delta", "") for e in events[retry + 1 :])
    assert second == "".join(f"t{n} " for n in range(30))
    assert shared_meta(shared, "again")["attempt"] == "2"


def test_a_worker_stops_promptly_on_sigterm(shared: Cluster) -> None:
    worker = shared.start_worker()
    client = shared.client()
    try:  # wait (bounded) until it is reading the queue: it says so in the workers index
        deadline = time.monotonic() + 30
        while not any(b"-%d-" % worker.pid in w for w in client.zrange(shared.keys.workers, 0, -1)):
            assert time.monotonic() < deadline, "the worker never started reading the queue"
            time.sleep(0.05)
    finally:
        client.close()
    began = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(10) == 0
    shared.workers.remove(worker)
    assert time.monotonic() - began < 4  # one blocking read (1 s) and the shutdown, not the 10 s bound


def shared_meta(c: Cluster, run_id: str) -> dict[str, str]:
    client = c.client()
    try:
        return {k.decode(): v.decode() for k, v in client.hgetall(c.keys.meta(run_id)).items()}
    finally:
        client.close()


PUBLISHER = textwrap.dedent(
    """
    import asyncio, sys
    from agui_server.protocol import events as ev
    from agui_server.runs.redis import RunPublisher

    async def main(url):
        async with RunPublisher(url, "published", thread_id="pub-thread") as run:
            await run.text("Hello from ")
            await asyncio.sleep(0.3)
            await run.text("my own worker.")
            await run.event(ev.StepStartedEvent(step_name="lookup"))
            await run.event(ev.StepFinishedEvent(step_name="lookup"))

    asyncio.run(main(sys.argv[1]))
    """
)


def test_a_run_publisher_in_a_plain_python_process_streams_to_a_client(shared: Cluster, tmp_path: Path) -> None:
    (a, _), (b, _) = shared.webs
    script = tmp_path / "publish.py"
    script.write_text(PUBLISHER)
    process = subprocess.Popen([sys.executable, str(script), shared.redis_url], cwd=ROOT)
    try:
        with httpx.Client(timeout=20) as client:
            deadline = time.monotonic() + 10
            while client.get(a + "/ag-ui/runs/published/events").status_code == 404:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            events = [e for _, e in parse(client.get(a + "/ag-ui/runs/published/events").content)]
            thread = client.get(b + "/ag-ui/threads/pub-thread").json()
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert events[0]["type"] == "RUN_STARTED"
    assert events[-1]["type"] == "RUN_FINISHED"
    assert "".join(e.get("delta", "") for e in events) == "Hello from my own worker."
    assert thread["messages"][-1]["content"] == "Hello from my own worker."


async def test_the_conformance_runner_passes_against_a_web_process_backed_by_redis(shared: Cluster) -> None:
    (a, _), _ = shared.webs
    report = await run_conformance(a + "/ag-ui", BUILTIN_SCENARIOS, probes=True, timeout=20, body_limit=2_000_000)
    assert report.findings == [], report.summary()


def test_redis_gone_for_longer_than_streams_wait_gives_a_clean_run_error(tmp_path: Path, kind: Kind) -> None:
    # a stream waits out an outage of twice the lease (at least 10 s), then says so and ends
    with cluster(tmp_path, webs=1, workers=1, web_args=("--lease", "2"), kind=kind) as c:
        ((a, _),) = c.webs
        with httpx.Client(timeout=30) as client:
            with client.stream("POST", a + "/ag-ui/slow", json=body("restart", forwardedProps={"tokens": 400})) as r:
                reader = Reader(r)
                started = reader.take(3)
                c.stop_redis()
                began = time.monotonic()
                rest = reader.take(10_000)
                ended_after = time.monotonic() - began
            c.start_redis()
    events = [e for _, e in started + rest]
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == "BACKEND_UNAVAILABLE"
    assert rest[-1][0] is None  # no id: the client's Last-Event-ID still points at its last real event
    assert 10 <= ended_after < 15


def test_no_worker_ends_the_run_with_no_worker(tmp_path: Path, kind: Kind) -> None:
    with cluster(tmp_path, webs=1, workers=0, web_args=("--start-timeout", "1"), kind=kind) as c:
        ((a, _),) = c.webs
        with httpx.Client(timeout=20) as client:
            began = time.monotonic()
            events = [e for _, e in parse(client.post(a + "/ag-ui", json=body("orphan")).content)]
            took = time.monotonic() - began
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_ERROR"]  # (RUN_STARTED: written at admission)
    assert events[1]["code"] == "NO_WORKER"
    assert took < 5


def test_redis_unreachable_is_503_before_the_stream(tmp_path: Path) -> None:
    c = Cluster(tmp_path)
    c.redis_port = free_port()  # nothing listens there
    try:
        a = c.start_web()
        with httpx.Client(timeout=20) as client:
            run = client.post(a + "/ag-ui", json=body("down"))
            resume = client.get(a + "/ag-ui/runs/down/events")
    finally:
        c.stop()
    for response in (run, resume):
        assert response.status_code == 503
        assert response.json()["code"] == "BACKEND_UNAVAILABLE"
        assert int(response.headers["retry-after"]) > 0


def test_a_run_read_by_a_worker_that_died_before_claiming_it_still_runs(tmp_path: Path, kind: Kind) -> None:
    with cluster(tmp_path, webs=1, workers=0, web_args=("--lease", "1"), kind=kind) as c:
        ((a, _),) = c.webs
        client = c.client()
        queue = c.keys.queue
        with httpx.Client(timeout=30) as http:
            with http.stream("POST", a + "/ag-ui/slow", json=body("stranded", forwardedProps={"tokens": 3})) as r:
                # a worker takes the run off the queue and dies before it claims it
                client.xgroup_create(queue, c.keys.GROUP, id="0", mkstream=True)
                taken = client.xreadgroup(c.keys.GROUP, "ghost", {queue: ">"}, count=1, block=5000)
                assert taken[0][1][0][1][b"run"] == b"stranded"  # type: ignore[index]
                c.start_worker()
                began = time.monotonic()
                events = [e for _, e in Reader(r).take(10_000)]
                took = time.monotonic() - began
        pending = client.xpending(queue, c.keys.GROUP)["pending"]
        client.close()
    assert events[0]["type"] == "RUN_STARTED"
    assert events[-1]["type"] == "RUN_FINISHED"
    assert "".join(e.get("delta", "") for e in events) == "t0 t1 t2 "
    assert pending == 0
    assert took < 1 + 1 + 3  # the idle time before the reaper takes the entry (a lease), a pass, slack


def test_connect_on_another_web_process_shows_the_history_then_the_run_in_progress(shared: Cluster) -> None:
    (a, _), (b, _) = shared.webs
    with httpx.Client(timeout=20) as client:
        client.post(a + "/ag-ui", json=body("c1", "connect-thread", "earlier question"))
        second = body("c2", "connect-thread", "later question", forwardedProps={"tokens": 20})
        with client.stream("POST", a + "/ag-ui/slow", json=second) as running:
            reader = Reader(running)  # kept: a dropped reader closes the response (and the run is cancelled)
            reader.take(3)
            connected = [
                e
                for _, e in parse(
                    client.post(
                        b + "/ag-ui/connect", json={"threadId": "connect-thread", "protocolVersion": "1.0"}
                    ).content
                )
            ]
    snapshot = next(e for e in connected if e["type"] == "MESSAGES_SNAPSHOT")
    contents = [m.get("content") for m in snapshot["messages"]]
    assert contents[0] == "earlier question"
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant", "user"]
    assert contents[2] == "later question"
    deltas = "".join(e.get("delta", "") for e in connected)
    assert deltas.startswith("t0 ")
    assert connected[-1]["type"] == "RUN_FINISHED"


def test_an_eventsource_on_web_b_sees_the_runs_that_messages_to_web_a_start(shared: Cluster) -> None:
    import json
    import shutil

    (a, _), (b, _) = shared.webs
    node = shutil.which("node")
    node_dir = ROOT / "tests" / "node"
    assert node, "node is not on PATH: install Node.js and run (cd tests/node && npm ci)"
    subscriber = subprocess.Popen(
        [node, str(node_dir / "eventsource_client.mjs"), b + "/agents/default/sse?thread_id=fan", "2", "20"],
        stdout=subprocess.PIPE, cwd=node_dir,
    )  # fmt: skip
    try:
        assert subscriber.stdout is not None
        assert json.loads(subscriber.stdout.readline()) == {"open": True}
        accepted = []
        with httpx.Client(timeout=20) as client:
            for text in ("hello", "again"):
                response = client.post(a + "/agents/default/messages", json={"thread_id": "fan", "message": text})
                assert response.status_code == 202
                accepted.append(response.json()["runId"])
                time.sleep(0.3)
        out, _ = subscriber.communicate(timeout=30)
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.wait(5)
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert all("error" not in line for line in lines), lines
    assert [line["data"]["runId"] for line in lines if line["event"] == "RUN_STARTED"] == accepted
    assert [line["id"] for line in lines] == [str(n) for n in range(1, len(lines) + 1)]
    assert all(line["event"] == line["data"]["type"] for line in lines)


def test_a_run_stopped_while_queued_ends_cancelled_at_once_and_no_worker_runs_it_later(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("alice-token alice\n")  # (signed in: the thread's key in Redis is not the client's id)
    with cluster(tmp_path, webs=1, workers=0, web_args=("--auth-tokens", str(tokens))) as c:
        assert isinstance(c, Cluster)
        ((web, _),) = c.webs
        with httpx.Client(timeout=20, headers={"authorization": "Bearer alice-token"}) as client:
            with client.stream("POST", web + "/ag-ui/slow", json=body("queued-stop", "queued-thread")) as response:
                reader = Reader(response)
                started = reader.take(1)  # (SUBMIT wrote RUN_STARTED; no worker exists to take the run)
                asked = time.monotonic()
                stopped = client.post(web + "/ag-ui/runs/queued-stop/stop")
                answered = time.monotonic() - asked
                rest = reader.take(10)
            c.start_worker()
            after = client.post(web + "/ag-ui/slow", json=body("after-stop", "queued-thread"))
            replay = parse(client.get(web + "/ag-ui/runs/queued-stop/events", params={"after": 0}).content)
    events = [e for _, e in started + rest]
    assert stopped.json() == {"runId": "queued-stop", "status": "cancelled"}
    assert answered < 1.0  # (not the stop's wait for a worker to settle the run)
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_FINISHED"]
    assert events[-1]["outcome"] == {"type": "cancelled"}
    assert events[-1]["threadId"] == events[0]["threadId"] == "queued-thread"
    assert after.status_code == 200  # the thread was freed with the run
    assert [e["type"] for _, e in parse(after.content)][-1] == "RUN_FINISHED"
    assert [e for _, e in replay] == events  # the worker that came later did not run it


def test_a_run_a_worker_claims_with_its_cancel_already_asked_ends_cancelled_without_its_agent(tmp_path: Path) -> None:
    """The race the stop cannot close by itself (a worker claims the run between the stop reading ``queued`` and
    ending it): the worker's claim carries the cancel flag; the run ends cancelled, not ``WORKER_LOST`` later."""
    with cluster(tmp_path, webs=1, workers=0) as c:
        assert isinstance(c, Cluster)
        ((web, _),) = c.webs
        with httpx.Client(timeout=20) as client:
            with client.stream("POST", web + "/ag-ui/slow", json=body("flagged", "flagged-thread")) as response:
                reader = Reader(response)
                started = reader.take(1)
                redis = c.client()
                try:
                    redis.hset(c.keys.meta("flagged"), "cancel", 1)  # what the stop sets for a claimed run
                finally:
                    redis.close()
                c.start_worker()
                rest = reader.take(10)
    events = [e for _, e in started + rest]
    assert [e["type"] for e in events] == ["RUN_STARTED", "RUN_FINISHED"]
    assert events[-1]["outcome"] == {"type": "cancelled"}
