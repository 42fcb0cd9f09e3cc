"""Dialects: the same runs in other wire shapes, through the app on a real socket."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from litestar import Litestar

from agui_server import AGUIConfig, AGUIPlugin, OfflineAgent, create_app
from agui_server.agents.offline import reply_for
from agui_server.dialects import (
    AGUIEvent,
    ChatEvents,
    EventEnvelope,
    FeedRoute,
    Frame,
    MessageEvents,
    RunRoute,
    StreamInfo,
    chat_request,
    message_request,
)
from agui_server.protocol.encoding import decode_input
from tests.support.server import running_server
from tests.support.sse import collect_events, run_input, sse_blocks, types


def reply_to(text: str) -> str:
    return reply_for(decode_input(json.dumps(run_input(text)).encode()))


async def sse_events(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> list[tuple[str, str, Any]]:
    """(event name, id, data) of every frame of a finite stream."""
    out = []
    async with aconnect_sse(client, method, url, **kwargs) as source:
        assert source.response.status_code == 200, await source.response.aread()
        async for sse in source.aiter_sse():
            if sse.data:  # (a `retry:` block alone has none)
                out.append((sse.event, sse.id, json.loads(sse.data)))
    return out


async def failing(input: Any, ctx: Any) -> Any:
    yield "partly "
    raise RuntimeError("secret internals")


# -- a reused runId -------------------------------------------------------------------------------------


async def test_a_reused_run_id_with_a_new_question_is_a_new_run_and_an_identical_retry_reattaches() -> None:
    app = create_app(AGUIConfig())
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        first = run_input("你是谁", run_id="run_456", thread_id="thread_123")
        _, events1, _ = await collect_events(client, base + "/ag-ui", first)
        second = run_input("今天天气怎么样", run_id="run_456", thread_id="thread_123")
        _, events2, _ = await collect_events(client, base + "/ag-ui", second)
        _, events3, _ = await collect_events(client, base + "/ag-ui", second)  # the same body again
        thread = (await client.get(base + "/ag-ui/threads/thread_123")).json()
    text = ["".join(e.get("delta", "") for e in events) for events in (events1, events2, events3)]
    assert "你是谁" in text[0]
    assert "今天天气怎么样" in text[1]
    assert text[2] == text[1]  # re-attached to the second run, not run a third time
    assistant = [m for m in thread["messages"] if m["role"] == "assistant"]
    assert len(assistant) == 2


async def test_a_reused_run_id_on_another_thread_is_still_a_conflict() -> None:
    app = create_app(AGUIConfig())
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        await collect_events(client, base + "/ag-ui", run_input("a", run_id="r", thread_id="t1"))
        response = await client.post(base + "/ag-ui", json=run_input("b", run_id="r", thread_id="t2"))
    assert response.status_code == 409
    assert response.json()["code"] == "RUN_ID_CONFLICT"


# -- reader extras ----------------------------------------------------------------------------------------


async def test_reader_extras_add_final_content_and_an_error_event() -> None:
    ok_app = create_app(AGUIConfig(reader_extras=True))
    async with running_server(ok_app) as base, httpx.AsyncClient(timeout=10) as client:
        _, events, ids = await collect_events(client, base + "/ag-ui", run_input("hi"))
    end = next(e for e in events if e["type"] == "TEXT_MESSAGE_END")
    assert end["finalContent"] == reply_to("hi")
    assert ids == [str(n) for n in range(1, len(events) + 1)]
    bad_app = create_app(AGUIConfig(agent=failing, reader_extras=True))
    async with running_server(bad_app) as base, httpx.AsyncClient(timeout=10) as client:
        _, events, ids = await collect_events(client, base + "/ag-ui", run_input("hi"))
    assert types(events)[-2:] == ["RUN_ERROR", "ERROR"]
    assert events[-1]["message"] == events[-2]["message"]
    assert "secret" not in events[-1]["message"]
    assert ids[-1] == ids[-2]  # the ERROR belongs to the RUN_ERROR's event


async def test_without_reader_extras_the_stream_is_strict_ag_ui() -> None:
    app = create_app(AGUIConfig(agent=failing))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        _, events, _ = await collect_events(client, base + "/ag-ui", run_input("hi"))
    assert "ERROR" not in types(events)
    assert all("finalContent" not in e for e in events)


# -- frames -----------------------------------------------------------------------------------------------


async def test_every_ag_ui_frame_starts_with_its_data_line() -> None:
    app = create_app(AGUIConfig())
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        raw = (await client.post(base + "/ag-ui", json=run_input("hi"))).content
    parts = [p for p in raw.split(b"\n\n") if p]
    assert parts
    assert all(p.startswith(b"data: ") for p in parts)


# -- the thread subscription (EventSource.onmessage) --------------------------------------------------------


async def read_until(response: httpx.Response, marker: bytes, count: int = 1) -> bytes:
    buffer = b""
    async with asyncio.timeout(10):
        async for chunk in response.aiter_raw():
            buffer += chunk
            if buffer.count(marker) >= count:
                return buffer
    return buffer


async def test_a_message_posted_before_the_subscription_is_not_lost() -> None:
    app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agents={"agent_123": OfflineAgent()}))])
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        posted = await client.post(
            base + "/agents/agent_123/messages", json={"thread_id": "thread_456", "message": "Привет, агент!"}
        )
        assert posted.json()["status"] == "success"
        await asyncio.sleep(0.2)  # the run has ended by now: a subscriber still gets it
        async with client.stream("GET", base + "/agents/agent_123/sse?thread_id=thread_456") as response:
            buffer = await read_until(response, b"event: RUN_FINISHED")
    unnamed = [data for event, _, data in sse_blocks(buffer) if event is None]
    assert unnamed == [{"agent_id": "agent_123", "thread_id": "thread_456", "message": reply_to("Привет, агент!")}]


async def test_a_subscriber_long_after_the_last_run_starts_from_now() -> None:
    app = create_app(AGUIConfig())
    app.plugins.get(AGUIPlugin).runs.limits = type(app.plugins.get(AGUIPlugin).runs.limits)(replay_window=0.0)  # type: ignore[attr-defined]
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        await client.post(base + "/agents/default/messages", json={"thread_id": "t", "message": "old"})
        await asyncio.sleep(0.1)
        async with client.stream("GET", base + "/agents/default/sse?thread_id=t") as response:
            await client.post(base + "/agents/default/messages", json={"thread_id": "t", "message": "new"})
            buffer = await read_until(response, b"event: RUN_FINISHED")
    assert b"old" not in buffer
    assert b"new" in buffer


# -- GET streams resume instead of starting another run ------------------------------------------------------


async def test_a_get_stream_reconnecting_with_last_event_id_resumes_then_gets_204() -> None:
    app = create_app(AGUIConfig(agent=OfflineAgent(delay=0.01)))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        async with client.stream("GET", base + "/ag-ui/default/stream?message=hello&threadId=g") as response:
            assert response.status_code == 200
            head = await read_until(response, b"TEXT_MESSAGE_CONTENT", 2)
        frames = [p for p in head.split(b"\n\n") if p.startswith(b"data: ")]
        assert frames[-1].endswith(b"\nid: " + frames[-1].split(b"\nid: ")[1])
        last_id = frames[-1].split(b"\nid: ")[1].decode()
        run_id, _, seq = last_id.rpartition(":")
        assert run_id.startswith("run-")
        assert int(seq) == len(frames)
        rest = await sse_events(
            client, "GET", base + "/ag-ui/default/stream?message=hello&threadId=g", headers={"last-event-id": last_id}
        )
        assert [int(i.rpartition(":")[2]) for _, i, _ in rest] == list(range(int(seq) + 1, int(seq) + 1 + len(rest)))
        assert rest[-1][2]["type"] == "RUN_FINISHED"
        again = await client.get(
            base + "/ag-ui/default/stream?message=hello&threadId=g", headers={"last-event-id": rest[-1][1]}
        )
        assert again.status_code == 204
        thread = (await client.get(base + "/ag-ui/threads/g")).json()
    assert [m["role"] for m in thread["messages"]] == ["user", "assistant"]  # one run, not three


# -- routes in a dialect ------------------------------------------------------------------------------------


async def test_chat_events_stream_tokens_and_done_with_the_session_history() -> None:
    config = AGUIConfig(
        routes=[RunRoute("/api/chat/stream", ChatEvents(), request=chat_request, methods=("GET", "POST"))]
    )
    app = create_app(config)
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        got = await sse_events(client, "GET", base + "/api/chat/stream", params={"message": "안녕", "sessionId": "s"})
        again = await sse_events(
            client, "POST", base + "/api/chat/stream", json={"message": "또", "sessionId": "s", "enableTools": False}
        )
        missing = await client.post(base + "/api/chat/stream", json={"sessionId": "s"})
        bad_flag = await client.get(base + "/api/chat/stream", params={"message": "x", "enableTools": "maybe"})
    assert "".join(d["content"] for e, _, d in got if e == "token") == reply_to("안녕")
    assert got[-1][0] == "done"
    assert got[-1][2] == {"message": "complete", "sessionId": "s", "historyLength": 2}
    assert again[-1][2]["historyLength"] == 4
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "message"
    assert bad_flag.status_code == 422
    assert bad_flag.json()["errors"][0]["field"] == "enableTools"


async def test_the_envelope_is_data_only_and_maps_the_run() -> None:
    def body_to_input(body: dict[str, Any]) -> Any:
        return message_request({"message": body["user_query"]})

    app = create_app(AGUIConfig(routes=[RunRoute("/v1/react/sessions", EventEnvelope(), request=body_to_input)]))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        raw = (await client.post(base + "/v1/react/sessions", json={"user_query": "q"})).content
    parts = [p for p in raw.split(b"\n\n") if p]
    assert all(p.startswith(b"data: ") and b"\n" not in p for p in parts)
    envelopes = [json.loads(p[6:]) for p in parts]
    kinds = [e["event_type"] for e in envelopes]
    assert kinds[0] == "worker_ack"
    assert kinds[-1] == "FinalAnswerStreamEnd"
    assert "".join(e["payload"]["char"] for e in envelopes if e["event_type"] == "FinalAnswerStream") == reply_to("q")


async def test_server_and_agent_feeds_show_each_run_then_complete() -> None:
    feed = MessageEvents()
    config = AGUIConfig(
        agents={"agent-1": OfflineAgent()},
        routes=[FeedRoute("/events", feed), FeedRoute("/stream/{agent_id}", feed, scope="agent")],
    )
    app = create_app(config)
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        async with (
            client.stream("GET", base + "/events") as everything,
            client.stream("GET", base + "/stream/agent-1") as agent_feed,
        ):
            await asyncio.sleep(0.05)
            await collect_events(client, base + "/ag-ui/agent-1", run_input("one", run_id="a"))
            await collect_events(client, base + "/ag-ui", run_input("two", run_id="b", thread_id="t2"))
            all_raw = await read_until(everything, b"event: complete", 2)
            agent_raw = await read_until(agent_feed, b"event: complete", 1)
        unknown = await client.get(base + "/stream/nobody")
    assert all_raw.startswith(b"retry: ")
    blocks = sse_blocks(all_raw)
    assert all(event_id is not None for _, event_id, _ in blocks)
    messages = [data for event, _, data in blocks if event == "message"]
    assert [m["message"] for m in messages] == [reply_to("one"), reply_to("two")]
    agent_messages = [data for event, _, data in sse_blocks(agent_raw) if event == "agent_message"]
    assert [m["agent_id"] for m in agent_messages] == ["agent-1"]
    assert all(b.startswith(b"event: ") for b in all_raw.split(b"\n\n")[1:] if b)  # named frames: the name first
    assert b'\\"two\\"' not in agent_raw
    assert b'\\"one\\"' in agent_raw
    assert unknown.status_code == 404


async def test_a_dialect_written_by_a_user_mounts_at_any_path() -> None:
    class ShoutingTranslator:
        def translate(self, event: AGUIEvent) -> list[Frame]:
            if event.type == "TEXT_MESSAGE_CONTENT":
                return [Frame({"text": event.fields["delta"].upper()}, event="shout")]
            return []

    class Shouting:
        name = "shouting"
        ids = True

        def translator(self, stream: StreamInfo) -> ShoutingTranslator:
            assert stream.scope == "run"
            assert stream.input is not None
            return ShoutingTranslator()

    app = create_app(AGUIConfig(routes=[RunRoute("/shout", Shouting())]))
    async with running_server(app) as base, httpx.AsyncClient(timeout=10) as client:
        got = await sse_events(client, "POST", base + "/shout", json=run_input("hi"))
    assert {e for e, _, _ in got} == {"shout"}
    assert "".join(d["text"] for _, _, d in got) == reply_to("hi").upper()


def test_route_definitions_are_checked() -> None:
    with pytest.raises(ValueError, match="request mapping"):
        RunRoute("/x", methods=("GET",))
    with pytest.raises(ValueError, match="start with"):
        FeedRoute("x")
    with pytest.raises(TypeError):
        AGUIConfig(routes=["/nope"])  # type: ignore[list-item]
