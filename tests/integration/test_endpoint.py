"""POST /ag-ui through the Litestar app: the stream, its framing and headers, and every 4xx answer."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import httpx
import pytest
from litestar import Litestar, get

from agui_server import AGUIConfig, AGUIPlugin, create_app
from agui_server.agents.offline import reply_for
from agui_server.protocol.encoding import decode_input
from tests.support.sse import collect_events, run_input, types

FRAME = re.compile(rb"data: ([^\n]+)\nid: (\d+)\n\n")


def client_for(app: Litestar) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test", timeout=10)


@pytest.fixture
async def client() -> Any:
    app = create_app(AGUIConfig(strict=True))
    async with client_for(app) as c:
        yield c


async def test_stream_is_a_valid_run_with_sse_headers(client: httpx.AsyncClient) -> None:
    response, events, ids = await collect_events(client, "/ag-ui", run_input("你是谁"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"
    names = types(events)
    assert names[:2] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert names[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert names.count("TEXT_MESSAGE_CONTENT") > 3
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == reply_for(decode_input(json.dumps(run_input("你是谁")).encode()))
    assert "你是谁" in text
    assert ids == [str(n) for n in range(1, len(events) + 1)]


async def test_frames_are_lf_only_one_json_object_per_data_line(client: httpx.AsyncClient) -> None:
    response = await client.post("/ag-ui", json=run_input("emoji 🎉 and עברית"))
    raw = response.content
    assert b"\r" not in raw
    frames = FRAME.findall(raw)
    assert b"".join(b"data: %s\nid: %s\n\n" % f for f in frames) == raw
    for data, _seq in frames:
        event = json.loads(data)
        assert isinstance(event, dict)
        assert "null" not in data.decode() or event["type"] == "CUSTOM"
        assert all("_" not in key for key in event)


async def test_tools_offered_get_a_tool_call_tied_to_the_assistant_message(client: httpx.AsyncClient) -> None:
    tool = {
        "name": "change_background",
        "description": "Change the page background",
        "parameters": {
            "type": "object",
            "properties": {"color": {"type": "string", "enum": ["red", "blue"]}, "why": {"type": "string"}},
            "required": ["color"],
        },
    }
    _, events, _ = await collect_events(client, "/ag-ui", run_input("make it red", tools=[tool]))
    names = types(events)
    assert names[-4:] == ["TOOL_CALL_START", "TOOL_CALL_ARGS", "TOOL_CALL_END", "RUN_FINISHED"]
    start = events[names.index("TOOL_CALL_START")]
    message_id = events[names.index("TEXT_MESSAGE_START")]["messageId"]
    assert start["toolCallName"] == "change_background"
    assert start["parentMessageId"] == message_id
    arguments = json.loads("".join(e["delta"] for e in events if e["type"] == "TOOL_CALL_ARGS"))
    assert arguments == {"color": "red"}
    assert "TOOL_CALL_RESULT" not in names  # a frontend tool: the client runs it


async def test_tool_result_in_the_next_request_is_answered_in_text(client: httpx.AsyncClient) -> None:
    body = run_input("make it red", run_id="r2")
    body["messages"] += [
        {
            "id": "a1",
            "role": "assistant",
            "toolCalls": [
                {"id": "c1", "type": "function", "function": {"name": "change_background", "arguments": "{}"}}
            ],
        },
        {"id": "t1", "role": "tool", "toolCallId": "c1", "content": "background is red"},
    ]
    body["tools"] = [{"name": "change_background", "description": "d"}]
    _, events, _ = await collect_events(client, "/ag-ui", body)
    assert "TOOL_CALL_START" not in types(events)
    text = "".join(e["delta"] for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert "change_background" in text
    assert "background is red" in text


async def test_legacy_client_gets_no_protocol_version_and_1_0_client_does(client: httpx.AsyncClient) -> None:
    _, legacy, _ = await collect_events(client, "/ag-ui", run_input(run_id="old"))
    _, modern, _ = await collect_events(client, "/ag-ui", run_input(run_id="new", protocolVersion="1.0"))
    assert "protocolVersion" not in legacy[0]
    assert modern[0]["protocolVersion"] == "1.0"


async def test_lenient_input_unknown_fields_nulls_empty_messages(client: httpx.AsyncClient) -> None:
    body = {
        "threadId": "t",
        "runId": "lenient",
        "messages": [],
        "tools": None,
        "context": None,
        "state": None,
        "forwardedProps": {"copilotkit": {"anything": True}},
        "somethingNew": {"from": "a newer client"},
    }
    response, events, _ = await collect_events(client, "/ag-ui", body)
    assert response.status_code == 200
    assert types(events)[-1] == "RUN_FINISHED"


async def test_same_run_id_reattaches_instead_of_starting_again(client: httpx.AsyncClient) -> None:
    first = await client.post("/ag-ui", json=run_input(run_id="same"))
    second = await client.post("/ag-ui", json=run_input(run_id="same"))
    assert first.content == second.content


async def test_same_run_id_on_another_thread_or_protocol_is_409(client: httpx.AsyncClient) -> None:
    await client.post("/ag-ui", json=run_input(run_id="taken"))
    other_thread = await client.post("/ag-ui", json=run_input(run_id="taken", thread_id="elsewhere"))
    other_client = await client.post("/ag-ui", json=run_input(run_id="taken", protocolVersion="1.0"))
    for response in (other_thread, other_client):
        assert response.status_code == 409
        assert response.json()["code"] == "RUN_ID_CONFLICT"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "code", "field"),
    [
        (b'{"threadId": "t", "runId": ', "application/json", 400, "INVALID_JSON", None),
        (b"", "application/json", 400, "INVALID_JSON", None),
        (b"\xff\xfe\x00garbage", "application/json", 400, "INVALID_JSON", None),
        (b'{"threadId": "\xff\xfe", "runId": "r", "messages": []}', "application/json", 400, "INVALID_JSON", None),
        (
            b'{"threadId": "t", "runId": "r", "messages": [], "state": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            "application/json",
            400,
            "INVALID_JSON",
            None,
        ),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 422, "INVALID_INPUT", None),
        (b'{"threadId": 1, "runId": "r", "messages": []}', "application/json", 422, "INVALID_INPUT", "threadId"),
        (b'{"threadId": "t", "messages": []}', "application/json", 422, "INVALID_INPUT", "runId"),
        (
            b'{"threadId": "t", "runId": "r", "messages": [{"id": "m", "role": "wizard", "content": "x"}]}',
            "application/json",
            422,
            "INVALID_INPUT",
            "messages[0].role",
        ),
        (
            b'{"threadId": "t", "runId": "r", "messages": [{"id": "m", "role": "user"}]}',
            "application/json",
            422,
            "INVALID_INPUT",
            "messages[0].content",
        ),
        (b'"just a string"', "application/json", 422, "INVALID_INPUT", None),
        (b'{"threadId": "t"}', "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE", None),
        (b"threadId=t", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE", None),
    ],
)
async def test_bad_input_gets_a_json_4xx_before_the_stream(
    client: httpx.AsyncClient, content: bytes, content_type: str, status: int, code: str, field: str | None
) -> None:
    response = await client.post("/ag-ui", content=content, headers={"content-type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status_code"] == status
    assert body["code"] == code
    assert "Traceback" not in response.text
    if field is not None:
        assert body["errors"][0]["field"] == field


async def test_body_over_the_limit_is_413() -> None:
    app = create_app(AGUIConfig(max_body_size=1000))
    async with app.lifespan(), client_for(app) as client:
        response = await client.post("/ag-ui", json=run_input("x" * 2000))
        assert response.status_code == 413
        assert response.json()["code"] == "BODY_TOO_LARGE"
        small = await client.post("/ag-ui", json=run_input("x" * 100))
        assert small.status_code == 200


async def test_a_100kb_message_is_fine_under_the_default_limit(client: httpx.AsyncClient) -> None:
    response, events, _ = await collect_events(client, "/ag-ui", run_input("y" * 100_000))
    assert response.status_code == 200
    assert types(events)[-1] == "RUN_FINISHED"


async def test_wrong_method_is_405_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/ag-ui")
    assert response.status_code == 405
    assert response.json()["status_code"] == 405


async def test_plugin_mounts_on_any_app_at_a_configured_path() -> None:
    @get("/health", sync_to_thread=False)
    def health() -> dict[str, str]:
        return {"ok": "yes"}

    async def agent(input, ctx):
        yield "custom agent here"

    app = Litestar(route_handlers=[health], plugins=[AGUIPlugin(AGUIConfig(agent=agent, path="/api/agent"))])
    async with app.lifespan(), client_for(app) as client:
        assert (await client.get("/health")).json() == {"ok": "yes"}
        _, events, _ = await collect_events(client, "/api/agent", run_input())
        assert "custom agent here" in [e.get("delta") for e in events]
        assert (await client.post("/ag-ui", json=run_input())).status_code == 404


async def test_cors_is_off_by_default_and_on_when_origins_are_allowed() -> None:
    preflight = {
        "origin": "http://localhost:3000",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    app = create_app(AGUIConfig())
    async with app.lifespan(), client_for(app) as client:
        response = await client.post("/ag-ui", json=run_input(), headers={"origin": "http://localhost:3000"})
        assert "access-control-allow-origin" not in response.headers
    app = create_app(AGUIConfig(allowed_origins=["http://localhost:3000"]))
    async with app.lifespan(), client_for(app) as client:
        response = await client.options("/ag-ui", headers=preflight)
        assert response.status_code in (200, 204)
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
        response = await client.post("/ag-ui", json=run_input(), headers={"origin": "http://localhost:3000"})
        assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


async def test_one_log_line_per_request_with_status_and_duration(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(AGUIConfig())
    async with app.lifespan(), client_for(app) as client:
        with caplog.at_level(logging.INFO, logger="agui_server.http"):
            await client.post("/ag-ui", json=run_input())
            await client.post("/ag-ui", content=b"{", headers={"content-type": "application/json"})
    lines = [r.getMessage() for r in caplog.records if r.name == "agui_server.http"]
    assert len(lines) == 2
    assert re.fullmatch(r"POST /ag-ui anonymous 200 \d+\.\dms", lines[0])
    assert re.fullmatch(r"POST /ag-ui anonymous 400 \d+\.\dms", lines[1])
