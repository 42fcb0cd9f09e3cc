"""Runs that outlive the connection, on a real socket: resume, disconnect policies, stop, threads,
one run per thread, connect, agents by id, subscriptions."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from agui_server import AGUIConfig, create_app
from agui_server.protocol import events as ev
from agui_server.protocol.encoding import decode_event
from agui_server.protocol.ordering import OrderingMachine
from conformance.capture import Capture
from conformance.checks import check_stream
from conformance.scenarios import Expectations, Scenario
from tests.support.server import cli_server, running_server
from tests.support.sse import AsyncReader, parse_frames, run_input

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def assert_valid_run(events: list[dict[str, Any]]) -> None:
    machine = OrderingMachine(strict=True)
    for event in events:
        machine.check(decode_event(json.dumps(event)))
    machine.finish()


async def read_until(response: httpx.Response, count: int) -> list[tuple[str | None, dict[str, Any]]]:
    """Read ``count`` data frames (or until the stream ends); what was read past them is dropped."""
    return await Reader(response).take(count)


parse = parse_frames
Reader = AsyncReader


def counting_agent(total: int, gate: asyncio.Event | None = None) -> Any:
    async def agent(input, ctx):
        message_id = ctx.new_id("msg")
        yield ev.TextMessageStartEvent(message_id=message_id)
        for n in range(total):
            if gate is not None and n == total // 2:
                await gate.wait()
            if n % 20 == 0:
                await asyncio.sleep(0.001)
            yield ev.TextMessageContentEvent(message_id=message_id, delta=f"{n} ")
        yield ev.TextMessageEndEvent(message_id=message_id)

    return agent


# -- resume --------------------------------------------------------------------------------------


async def test_a_stream_cut_at_200_random_points_resumes_to_exactly_the_uncut_events() -> None:
    rng = random.Random(2026)
    app = create_app(AGUIConfig(agent=counting_agent(2000), on_disconnect="continue", strict=True))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        total = 2000 + 4
        cuts = sorted(rng.sample(range(1, total - 1), 200))
        received: list[tuple[str | None, dict[str, Any]]] = []
        body = run_input(run_id="cut-me")
        async with client.stream("POST", base + "/ag-ui", json=body) as response:
            assert response.headers["content-location"] == "/ag-ui/runs/cut-me/events"
            received += await read_until(response, cuts[0])
        for cut in [*cuts[1:], total + 1]:
            headers = {"last-event-id": received[-1][0] or ""}
            async with client.stream("GET", base + "/ag-ui/runs/cut-me/events", headers=headers) as response:
                assert response.status_code == 200
                received += await read_until(response, cut - len(received))
        uncut = parse((await client.get(base + "/ag-ui/runs/cut-me/events?after=0")).content)
        drained = await client.get(base + "/ag-ui/runs/cut-me/events", headers={"last-event-id": str(total)})
    assert [r[0] for r in received] == [str(n) for n in range(1, total + 1)]
    assert received == uncut
    assert drained.status_code == 204
    assert "".join(e["delta"] for _, e in received if e["type"] == "TEXT_MESSAGE_CONTENT") == "".join(
        f"{n} " for n in range(2000)
    )
    assert_valid_run([e for _, e in received])


async def test_resume_answers_404_410_and_sends_a_retry_hint() -> None:
    app = create_app(AGUIConfig(agent=counting_agent(300), max_events_per_run=100, on_disconnect="continue"))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        await client.post(base + "/ag-ui", json=run_input(run_id="long"))
        unknown = await client.get(base + "/ag-ui/runs/nope/events")
        expired = await client.get(base + "/ag-ui/runs/long/events", headers={"last-event-id": "3"})
        recent = await client.get(base + "/ag-ui/runs/long/events", headers={"last-event-id": "280"})
        bad = await client.get(base + "/ag-ui/runs/long/events?after=abc")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "UNKNOWN_RUN"
    assert expired.status_code == 410
    assert expired.json()["code"] == "CURSOR_EXPIRED"
    assert recent.status_code == 200
    assert recent.content.startswith(b"retry: 2000\n\n")
    assert [i for i, _ in parse(recent.content)] == [str(n) for n in range(281, 305)]
    assert bad.status_code == 400


async def test_a_client_that_reads_too_slowly_gets_stream_behind_never_a_silent_gap() -> None:
    async def flood(input, ctx):
        yield ev.TextMessageStartEvent(message_id="m")
        for n in range(20_000):
            yield ev.TextMessageContentEvent(message_id="m", delta=f"{n:08d}" + "x" * 2_000)
        yield ev.TextMessageEndEvent(message_id="m")

    app = create_app(AGUIConfig(agent=flood, max_events_per_run=1_000, on_disconnect="continue"))
    async with running_server(app) as base, httpx.AsyncClient(timeout=30) as client:
        async with client.stream("POST", base + "/ag-ui", json=run_input(run_id="slow-reader")) as response:
            # 40 MB of events, more than the sockets hold: the run ends meanwhile, and its log keeps only
            # the last 1,000 events
            await asyncio.sleep(1.5)
            frames = parse(b"".join([chunk async for chunk in response.aiter_raw()]))
        tail = await client.get(base + "/ag-ui/runs/slow-reader/events", headers={"last-event-id": "20002"})
    ids = [frame_id for frame_id, _ in frames]
    last_id, last = frames[-1]
    assert last["type"] == "RUN_ERROR"
    assert last["code"] == "STREAM_BEHIND"
    assert last_id is None  # not one of the run's events
    assert len(frames) < 20_000
    assert ids[:-1] == [str(n) for n in range(1, len(frames))]  # what came, came without a gap
    assert [e["type"] for _, e in parse(tail.content)] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]  # the run went on


# -- disconnect policies and stop ----------------------------------------------------------------


def watched_agent(log: dict[str, Any]) -> Any:
    async def agent(input, ctx):
        log["started"] = True
        try:
            yield "first"
            await asyncio.sleep(float(input.forwarded_props.get("work", 0.5)) if input.forwarded_props else 0.5)
            yield "second"
            log["completed"] = True
        except asyncio.CancelledError:
            log["cancelled_at"] = asyncio.get_running_loop().time()
            raise

    return agent


async def _post_and_leave(client: httpx.AsyncClient, url: str, body: dict[str, Any], **kwargs: Any) -> float:
    async with client.stream("POST", url, json=body, **kwargs) as response:
        await read_until(response, 3)
    return asyncio.get_running_loop().time()


@pytest.mark.parametrize("policy", ["cancel", "continue", "grace:0.3", "grace-resumed"])
async def test_disconnect_policies(policy: str) -> None:
    log: dict[str, Any] = {}
    default = "grace:0.3" if policy == "grace-resumed" else policy
    app = create_app(AGUIConfig(agent=watched_agent(log), on_disconnect=default))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        body = run_input(run_id="p", protocolVersion="1.0", forwardedProps={"work": 0.6})
        left = await _post_and_leave(client, base + "/ag-ui", body)
        if policy == "grace-resumed":
            await asyncio.sleep(0.1)
            resumed = await client.get(base + "/ag-ui/runs/p/events", headers={"last-event-id": "3"})
            assert parse(resumed.content)[-1][1]["type"] == "RUN_FINISHED"
        await asyncio.sleep(0.9)
        final = parse((await client.get(base + "/ag-ui/runs/p/events?after=0")).content)[-1][1]
    if policy == "cancel":
        assert log["cancelled_at"] - left < 0.2
        assert final["outcome"] == {"type": "cancelled"}
    elif policy == "grace:0.3":
        assert 0.25 < log["cancelled_at"] - left < 0.6
        assert final["outcome"] == {"type": "cancelled"}
    else:
        assert log.get("completed") is True
        assert "cancelled_at" not in log
        assert "outcome" not in final


async def test_a_request_chooses_its_own_disconnect_policy() -> None:
    log: dict[str, Any] = {}
    app = create_app(AGUIConfig(agent=watched_agent(log)))  # default: cancel
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        await _post_and_leave(
            client, base + "/ag-ui", run_input(run_id="q"), headers={"x-agui-on-disconnect": "continue"}
        )
        await asyncio.sleep(0.8)
        bad = await client.post(base + "/ag-ui?on_disconnect=sometimes", json=run_input(run_id="bad"))
    assert log.get("completed") is True
    assert bad.status_code == 400
    assert bad.json()["code"] == "INVALID_DISCONNECT_POLICY"


@pytest.mark.parametrize("protocol", ["1.0", None])
async def test_stop_ends_the_run_with_the_right_terminal_event(protocol: str | None) -> None:
    log: dict[str, Any] = {}
    app = create_app(AGUIConfig(agent=watched_agent(log), strict=True))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        extra = (
            {"protocolVersion": protocol, "forwardedProps": {"work": 30}}
            if protocol
            else {"forwardedProps": {"work": 30}}
        )
        body = run_input(run_id="s", **extra)
        async with client.stream("POST", base + "/ag-ui", json=body) as response:
            reader = Reader(response)
            first = await reader.take(3)
            stopped = await client.post(base + "/ag-ui/runs/s/stop")
            rest = await reader.rest()
        again = await client.post(base + "/ag-ui/runs/s/stop")
        unknown = await client.post(base + "/ag-ui/runs/nope/stop")
    events = [e for _, e in first + rest]
    assert stopped.json() == {"runId": "s", "status": "cancelled"}
    assert again.json() == {"runId": "s", "status": "finished"}
    assert unknown.status_code == 404
    assert "cancelled_at" in log
    if protocol:
        assert events[-1] == {**events[-1], "type": "RUN_FINISHED", "outcome": {"type": "cancelled"}}
    else:
        assert events[-1]["type"] == "RUN_ERROR"
        assert events[-1]["code"] == "CANCELLED"
    assert_valid_run(events)


# -- threads ---------------------------------------------------------------------------------------


async def test_one_run_per_thread_and_supersede() -> None:
    log: dict[str, Any] = {}
    for policy in ("reject", "supersede"):
        app = create_app(AGUIConfig(agent=watched_agent(log), busy_policy=policy, on_disconnect="continue"))
        async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
            body = run_input(run_id="a", protocolVersion="1.0", forwardedProps={"work": 30})
            async with client.stream("POST", base + "/ag-ui", json=body) as first:
                reader = Reader(first)
                await reader.take(3)
                second = await client.post(
                    base + "/ag-ui", json=run_input(run_id="b", protocolVersion="1.0", forwardedProps={"work": 0})
                )
                if policy == "reject":
                    assert second.status_code == 409
                    assert second.json()["code"] == "THREAD_BUSY"
                    await client.post(base + "/ag-ui/runs/a/stop")
                else:
                    assert second.status_code == 200
                    assert parse(second.content)[-1][1]["type"] == "RUN_FINISHED"
                    rest = await reader.rest()
                    assert rest[-1][1]["outcome"] == {"type": "cancelled"}
            retry = await client.post(base + "/ag-ui", json=run_input(run_id="a", protocolVersion="1.0"))
            assert parse(retry.content)[0][1]["runId"] == "a"  # a retried POST re-attaches


async def test_history_is_kept_on_the_server_and_merged_by_id() -> None:
    seen: list[list[str]] = []

    async def agent(input, ctx):
        seen.append([f"{m.__struct_config__.tag}:{getattr(m, 'content', '')}" for m in input.messages])
        yield ev.StateSnapshotEvent(snapshot={"turns": len(seen)})
        yield f"reply {len(seen)}"

    app = create_app(AGUIConfig(agent=agent))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        await client.post(base + "/ag-ui", json=run_input("first", run_id="r1", thread_id="h"))
        await client.post(base + "/ag-ui", json=run_input("second", run_id="r2", thread_id="h"))
        thread = (await client.get(base + "/ag-ui/threads/h")).json()
        missing = await client.get(base + "/ag-ui/threads/nope")
    assert seen[1] == ["user:first", "assistant:reply 1", "user:second"]
    assert thread["threadId"] == "h"
    assert [(m["role"], m.get("content")) for m in thread["messages"]] == [
        ("user", "first"),
        ("assistant", "reply 1"),
        ("user", "second"),
        ("assistant", "reply 2"),
    ]
    assert thread["state"] == {"turns": 2}
    assert missing.status_code == 404


def test_a_thread_survives_a_restart_with_the_sqlite_store(tmp_path: Path) -> None:
    db = tmp_path / "threads.db"
    with cli_server("--threads-db", str(db)) as base:
        httpx.post(base + "/ag-ui", json=run_input("remember me", run_id="one", thread_id="kept"), timeout=10)
    with cli_server("--threads-db", str(db)) as base:
        before = httpx.get(base + "/ag-ui/threads/kept", timeout=10).json()
        httpx.post(base + "/ag-ui", json=run_input("and this", run_id="two", thread_id="kept"), timeout=10)
        after = httpx.get(base + "/ag-ui/threads/kept", timeout=10).json()
    assert [m["role"] for m in before["messages"]] == ["user", "assistant"]
    assert before["messages"][0]["content"] == "remember me"
    assert [m["role"] for m in after["messages"]] == ["user", "assistant", "user", "assistant"]


# -- connect, agents by id, GET stream -----------------------------------------------------------


async def test_connect_replays_the_thread_then_the_active_runs_tail() -> None:
    gate = asyncio.Event()
    app = create_app(AGUIConfig(agent=counting_agent(40, gate), strict=True, on_disconnect="continue"))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        gate.set()
        await client.post(base + "/ag-ui", json=run_input("earlier", run_id="old", thread_id="c"))
        gate.clear()
        async with client.stream("POST", base + "/ag-ui", json=run_input("now", run_id="live", thread_id="c")) as live:
            await read_until(live, 5)
            connect_task = asyncio.create_task(
                client.post(base + "/ag-ui/connect", json={"threadId": "c", "protocolVersion": "1.0"})
            )
            await asyncio.sleep(0.2)
            gate.set()
            connected = await connect_task
        idle = await client.post(base + "/ag-ui/connect", json={"threadId": "c"})
        empty = await client.post(base + "/ag-ui/connect", json={"threadId": "never-seen", "protocolVersion": "1.0"})
        missing = await client.post(base + "/ag-ui/connect", json={})
    events = [e for _, e in parse(connected.content)]
    assert [e["type"] for e in events[:3]] == ["RUN_STARTED", "MESSAGES_SNAPSHOT", "STATE_SNAPSHOT"]
    assert events[0]["runId"] == "live"
    assert [m.get("content") for m in events[1]["messages"]][-1] == "now"
    assert events[-1]["type"] == "RUN_FINISHED"
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "".join(f"{n} " for n in range(40))
    assert_valid_run(events)
    idle_events = [e for _, e in parse(idle.content)]
    assert [e["type"] for e in idle_events] == ["RUN_STARTED", "MESSAGES_SNAPSHOT", "STATE_SNAPSHOT", "RUN_FINISHED"]
    assert len(idle_events[1]["messages"]) == 4
    assert_valid_run(idle_events)
    assert [e["type"] for _, e in parse(empty.content)][-1] == "RUN_FINISHED"
    assert missing.status_code == 422
    for name, capture_body in (("connect-live", connected), ("connect-idle", idle)):
        capture = Capture(status=200, headers=capture_body.headers, body=capture_body.content)
        scenario = Scenario(
            name,
            "",
            {"threadId": "c", "runId": events[0]["runId"], "protocolVersion": "1.0", "messages": []},
            Expectations(),
        )
        body = {"threadId": "c", "runId": parse(capture_body.content)[0][1]["runId"]}
        assert check_stream(capture, scenario, body) == []


async def test_agents_are_served_by_id_and_by_get() -> None:
    async def echo(input, ctx):
        yield f"echo agent on {ctx.agent_id}"

    app = create_app(AGUIConfig(agents={"echo": echo}, strict=True))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        by_id = await client.post(base + "/ag-ui/echo", json=run_input(run_id="e1"))
        default = await client.post(base + "/ag-ui/default", json=run_input(run_id="d1", thread_id="t2"))
        unknown = await client.post(base + "/ag-ui/nobody", json=run_input(run_id="n1"))
        got = await client.get(base + "/ag-ui/echo/stream", params={"message": "hi", "threadId": "g"})
        got_again = await client.get(base + "/ag-ui/echo/stream", params={"message": "again", "threadId": "g"})
        thread = (await client.get(base + "/ag-ui/threads/g")).json()
        no_message = await client.get(base + "/ag-ui/echo/stream")
    assert "echo agent on echo" in by_id.text
    assert "".join(e.get("delta", "") for _, e in parse(default.content)).startswith("You said")
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "UNKNOWN_AGENT"
    assert got.headers["content-type"] == "text/event-stream"
    assert parse(got.content)[-1][1]["type"] == "RUN_FINISHED"
    started = parse(got.content)[0][1]
    scenario = Scenario("get-stream", "", {"protocolVersion": "1.0", "messages": []}, Expectations(assistant_text=True))
    capture = Capture(status=200, headers=got.headers, body=got.content)
    assert check_stream(capture, scenario, {"threadId": "g", "runId": started["runId"]}) == []
    assert parse(got_again.content)[-1][1]["type"] == "RUN_FINISHED"
    assert [m["content"] for m in thread["messages"]] == ["hi", "echo agent on echo", "again", "echo agent on echo"]
    assert no_message.status_code == 422


async def test_eventsource_subscriber_sees_runs_started_by_the_messages_endpoint() -> None:
    node = shutil.which("node")
    assert node, "node is not on PATH: install Node.js and run (cd tests/node && npm ci)"
    assert (NODE_DIR / "node_modules" / "eventsource").is_dir(), "run (cd tests/node && npm ci)"
    app = create_app(AGUIConfig(strict=True))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        process = await asyncio.create_subprocess_exec(
            node, str(NODE_DIR / "eventsource_client.mjs"), base + "/agents/default/sse?thread_id=sub", "2", "20",
            stdout=asyncio.subprocess.PIPE, cwd=NODE_DIR,
        )  # fmt: skip
        assert process.stdout is not None
        opened = json.loads(await asyncio.wait_for(process.stdout.readline(), 10))
        assert opened == {"open": True}
        accepted = []
        for text in ("hello", "again"):
            response = await client.post(base + "/agents/default/messages", json={"thread_id": "sub", "message": text})
            assert response.status_code == 202
            accepted.append(response.json())
            await asyncio.sleep(0.1)
        out, _ = await asyncio.wait_for(process.communicate(), 30)
        unknown = await client.post(base + "/agents/nobody/messages", json={"thread_id": "x", "message": "y"})
        bad = await client.post(base + "/agents/default/messages", json={"message": "no thread"})
    lines = [json.loads(line) for line in out.decode().splitlines()]
    assert all("error" not in line for line in lines), lines
    assert accepted[0]["status"] == "success"
    assert accepted[0]["message"] == "Message sent to agent."
    run_ids = [a["runId"] for a in accepted]
    starts = [line["data"]["runId"] for line in lines if line["event"] == "RUN_STARTED"]
    assert starts == run_ids
    assert [line["id"] for line in lines] == [str(n) for n in range(1, len(lines) + 1)]
    assert all(line["event"] == line["data"]["type"] for line in lines)
    assert unknown.status_code == 404
    assert bad.status_code == 422


async def test_thread_subscription_resumes_from_last_event_id() -> None:
    app = create_app(AGUIConfig())
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        for n in range(2):
            await client.post(base + "/ag-ui", json=run_input(f"m{n}", run_id=f"r{n}", thread_id="feed"))
        async with client.stream(
            "GET", base + "/agents/default/sse?thread_id=feed", headers={"last-event-id": "3"}
        ) as response:
            assert response.status_code == 200
            buffer = b""
            async for chunk in response.aiter_raw():
                buffer += chunk
                if buffer.count(b"event: RUN_FINISHED") == 2:
                    break
    blocks = [b for b in buffer.split(b"\n\n") if b.startswith(b"event: ")]  # (the named AG-UI events)
    assert blocks[0].split(b"\n")[1].startswith(b"data: ")
    assert blocks[0].endswith(b"\nid: 4")
    assert [int(b.split(b"\n")[-1][4:]) for b in blocks] == list(range(4, 4 + len(blocks)))
