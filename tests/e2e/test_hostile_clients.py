"""Hostile clients against a real uvicorn on 127.0.0.1.

Every case talks to a server of its own (``tests.support.hostile_harness.hostile``): what it sends is
malformed, oversized, deeply nested, slow, another owner's, another site's, an injected id, an abused
cursor or disconnect policy, a flood of streams or runs, or a tool schema that asks the offline agent for
gigabytes. Whatever it sends, the server answers what the contract says; and after every case the
harness checks that no answer was a 5xx or showed a traceback, a path of the server's source or a token,
that the server logged no traceback, and that a well-behaved client still gets a whole run
(``RUN_FINISHED``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import msgspec
import pytest

from agui_server import AGUIConfig, OfflineAgent, create_app
from agui_server.dialects import ChatEvents, FeedRoute, MessageEvents, RunRoute, chat_request
from agui_server.http.auth import BearerTokens
from tests.support.hostile_harness import (
    ALICE,
    BOB,
    HEALTH,
    OPS,
    SECRETS,
    TOKENS,
    Answer,
    Probe,
    assert_healthy,
    hostile,
    leaks,
    raw_connection,
    raw_request,
    read_http,
    stored_thread,
    subprocess_server,
)
from tests.support.sse import run_input

pytestmark = pytest.mark.timeout(60)

GOOD_ORIGIN = "https://app.example"
EVIL_ORIGIN = "https://evil.example"


async def slow_agent(input: Any, ctx: Any) -> Any:
    """One token every 50 ms (``forwardedProps.tokens`` of them, default 40)."""
    props = input.forwarded_props if isinstance(input.forwarded_props, dict) else {}
    for n in range(int(props.get("tokens", 40))):
        yield f"t{n} "
        await asyncio.sleep(0.05)


async def big_agent(input: Any, ctx: Any) -> Any:
    """About 2 MB of text, in pieces of 64 KiB (more than the socket buffers of a reader that reads nothing)."""
    piece = "x" * 65536
    for _ in range(32):
        yield piece
        await asyncio.sleep(0)


def make_app(**extra: Any) -> Any:
    routes = [
        FeedRoute("/events", MessageEvents()),
        FeedRoute("/stream/{agent_id}", MessageEvents(), scope="agent"),
        RunRoute("/api/chat/stream", ChatEvents(), request=chat_request, methods=("GET", "POST")),
    ]
    settings: dict[str, Any] = {
        "auth": BearerTokens.parse(TOKENS),
        "agent": OfflineAgent(),
        "agents": {"slow": slow_agent, "big": big_agent},
        "routes": routes,
        "allowed_origins": [GOOD_ORIGIN],
    }
    settings.update(extra)
    return create_app(AGUIConfig(**settings))


def fresh(prefix: str = "x") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def json_body(value: Any) -> bytes:
    return json.dumps(value).encode()


def assert_error(answer: Answer, status: int, code: str | None, field: str | None = None) -> None:
    assert answer.status == status, f"expected {status} {code}, got {answer!r}"
    if code is not None:
        assert answer.headers.get("content-type", "").startswith("application/json"), answer
        assert answer.code == code, f"expected {code}, got {answer!r}"
    if field is not None:
        assert answer.field() == field, f"expected errors[0].field {field!r}, got {answer!r}"


def assert_finished(answer: Answer) -> None:
    assert answer.status == 200, answer
    assert answer.headers["content-type"].startswith("text/event-stream"), answer
    types = answer.types()
    assert types[:1] == ["RUN_STARTED"], types[:5]
    assert types[-1:] == ["RUN_FINISHED"], types[-5:]


def text_of(answer: Answer) -> str:
    return "".join(e.get("delta", "") for e in answer.events())


# ============================================================================================
# malformed: bad JSON, wrong types, wrong content types, wrong methods
# ============================================================================================

_VALID = run_input("hello")

MALFORMED_BODIES: list[tuple[str, bytes, int, str, str | None]] = [
    ("truncated", b'{"threadId": "t1", "runId": ', 400, "INVALID_JSON", None),
    ("empty", b"", 400, "INVALID_JSON", None),
    ("whitespace", b"   \n\t ", 400, "INVALID_JSON", None),
    ("not-utf8", b'{"threadId": "\xff\xfe", "runId": "r", "messages": []}', 400, "INVALID_JSON", None),
    ("trailing-garbage", json_body(_VALID) + b"}}garbage", 400, "INVALID_JSON", None),
    ("nan-literal", b'{"threadId": "t", "runId": "r", "messages": [], "state": NaN}', 400, "INVALID_JSON", None),
    ("single-quotes", b"{'threadId': 't'}", 400, "INVALID_JSON", None),
    ("null", b"null", 422, "INVALID_INPUT", None),
    ("array", b"[1, 2, 3]", 422, "INVALID_INPUT", None),
    ("string", b'"hello"', 422, "INVALID_INPUT", None),
    ("number", b"12345678901234567890123456789", 422, "INVALID_INPUT", None),
    ("threadId-int", json_body({**_VALID, "threadId": 7}), 422, "INVALID_INPUT", "threadId"),
    ("runId-null", json_body({**_VALID, "runId": None}), 422, "INVALID_INPUT", "runId"),
    ("runId-object", json_body({**_VALID, "runId": {"$ne": ""}}), 422, "INVALID_INPUT", "runId"),
    ("messages-missing", json_body({"threadId": "t", "runId": "r"}), 422, "INVALID_INPUT", "messages"),
    ("messages-object", json_body({**_VALID, "messages": {"0": {}}}), 422, "INVALID_INPUT", "messages"),
    (
        "role-bogus",
        json_body({**_VALID, "messages": [{"id": "m", "role": "bogus", "content": "x"}]}),
        422,
        "INVALID_INPUT",
        "messages[0].role",
    ),
    (
        "content-int",
        json_body({**_VALID, "messages": [{"id": "m", "role": "user", "content": 5}]}),
        422,
        "INVALID_INPUT",
        "messages[0].content",
    ),
    ("tools-string", json_body({**_VALID, "tools": "all of them"}), 422, "INVALID_INPUT", "tools"),
    (
        "tool-without-name",
        json_body({**_VALID, "tools": [{"description": "d", "parameters": {}}]}),
        422,
        "INVALID_INPUT",
        "tools[0].name",
    ),
    ("context-int", json_body({**_VALID, "context": [1]}), 422, "INVALID_INPUT", "context[0]"),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"), [c[1:] for c in MALFORMED_BODIES], ids=[c[0] for c in MALFORMED_BODIES]
)
async def test_malformed_body_is_refused_before_any_stream(
    body: bytes, status: int, code: str, field: str | None
) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request(
            "POST", "/ag-ui", content=body, headers={**ALICE, "content-type": "application/json"}
        )
        assert_error(answer, status, code, field)


ODD_BUT_JSON: list[tuple[str, bytes]] = [
    (
        "lone-surrogate",
        b'{"threadId": "t-sur", "runId": "r-sur", "messages": '
        b'[{"id": "m1", "role": "user", "content": "\\ud800 broken"}]}',
    ),
    ("bom", b"\xef\xbb\xbf" + json_body(run_input("bom", run_id="r-bom", thread_id="t-bom"))),
    ("duplicate-keys", b'{"threadId": "t-dup", "threadId": "t-dup2", "runId": "r-dup", "messages": []}'),
    (
        "unknown-fields",
        json_body({**run_input("x", run_id="r-unk", thread_id="t-unk"), "__proto__": {"a": 1}, "constructor": "x"}),
    ),
    ("nul-in-content", json_body(run_input("a\x00b\r\nc", run_id="r-nul", thread_id="t-nul"))),
]


@pytest.mark.parametrize("body", [c[1] for c in ODD_BUT_JSON], ids=[c[0] for c in ODD_BUT_JSON])
async def test_odd_json_is_refused_or_runs_to_the_end(body: bytes) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request(
            "POST", "/ag-ui", content=body, headers={**ALICE, "content-type": "application/json"}
        )
        if answer.status == 200:
            assert_finished(answer)
        else:
            assert answer.status in (400, 422), answer
            assert answer.code in ("INVALID_JSON", "INVALID_INPUT"), answer


CONTENT_TYPES = [
    ("text-plain", "text/plain"),
    ("form", "application/x-www-form-urlencoded"),
    ("multipart", "multipart/form-data; boundary=xyz"),
    ("xml", "application/xml"),
    ("json-lookalike", "application/jsonp"),
    ("text-json", "text/json"),
    ("missing", None),
]
POST_ENDPOINTS = [
    ("run", "/ag-ui", json_body(run_input("hi", run_id="r-ct", thread_id="t-ct"))),
    ("connect", "/ag-ui/connect", json_body({"threadId": "t-ct"})),
    ("messages", "/agents/default/messages", json_body({"thread_id": "t-ct", "message": "hi"})),
    ("chat", "/api/chat/stream", json_body({"message": "hi", "sessionId": "t-ct"})),
]


CONTENT_TYPE_CASES = [
    pytest.param(endpoint, body, content_type, id=f"{name}-{ct_name}")
    for name, endpoint, body in POST_ENDPOINTS
    for ct_name, content_type in CONTENT_TYPES
    if name == "run" or ct_name in ("text-plain", "missing")
]


@pytest.mark.parametrize(("endpoint", "body", "content_type"), CONTENT_TYPE_CASES)
async def test_a_post_that_is_not_json_gets_415(endpoint: str, body: bytes, content_type: str | None) -> None:
    async with hostile(make_app()) as probe:
        headers = dict(ALICE)
        if content_type is not None:
            headers["content-type"] = content_type
        answer = await probe.request("POST", endpoint, content=body, headers=headers)
        assert_error(answer, 415, "UNSUPPORTED_MEDIA_TYPE")
        # nothing ran: the thread does not exist
        thread = await probe.request("GET", "/ag-ui/threads/t-ct", headers=ALICE)
        assert_error(thread, 404, "UNKNOWN_THREAD")


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "GET"])
async def test_other_methods_on_the_run_endpoint_get_405(method: str) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request(
            method, "/ag-ui", content=json_body(_VALID), headers={**ALICE, "content-type": "application/json"}
        )
        assert answer.status == 405, answer


BAD_SIDE_BODIES = [
    ("connect-array", "/ag-ui/connect", b"[]", 422, "INVALID_INPUT"),
    ("connect-threadId-int", "/ag-ui/connect", b'{"threadId": 5}', 422, "INVALID_INPUT"),
    ("connect-truncated", "/ag-ui/connect", b'{"threadId": ', 400, "INVALID_JSON"),
    ("messages-thread-int", "/agents/default/messages", b'{"thread_id": 5, "message": "x"}', 422, "INVALID_INPUT"),
    ("messages-no-message", "/agents/default/messages", b'{"thread_id": "t"}', 422, "INVALID_INPUT"),
    ("messages-truncated", "/agents/default/messages", b'{"thread_id"', 400, "INVALID_JSON"),
    ("chat-message-int", "/api/chat/stream", b'{"message": 5}', 422, "INVALID_INPUT"),
    ("chat-array", "/api/chat/stream", b"[]", 422, "INVALID_INPUT"),
]


@pytest.mark.parametrize(
    ("endpoint", "body", "status", "code"), [c[1:] for c in BAD_SIDE_BODIES], ids=[c[0] for c in BAD_SIDE_BODIES]
)
async def test_malformed_bodies_on_the_other_post_endpoints(endpoint: str, body: bytes, status: int, code: str) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request(
            "POST", endpoint, content=body, headers={**ALICE, "content-type": "application/json"}
        )
        assert_error(answer, status, code)


# ============================================================================================
# oversized
# ============================================================================================

SMALL_LIMIT = 64 * 1024


@pytest.mark.parametrize(
    ("endpoint", "make"),
    [
        ("/ag-ui", lambda pad: run_input(pad, run_id="r-big", thread_id="t-big")),
        ("/ag-ui/connect", lambda pad: {"threadId": "t-big", "pad": pad}),
        ("/agents/default/messages", lambda pad: {"thread_id": "t-big", "message": pad}),
        ("/api/chat/stream", lambda pad: {"message": pad, "sessionId": "t-big"}),
    ],
    ids=["run", "connect", "messages", "chat"],
)
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_a_body_over_max_body_size_gets_413(endpoint: str, make: Any, framing: str) -> None:
    async with hostile(make_app(max_body_size=SMALL_LIMIT)) as probe:
        body = json_body(make("x" * (SMALL_LIMIT + 1)))

        async def chunks() -> Any:
            for n in range(0, len(body), 8192):
                yield body[n : n + 8192]

        content: Any = body if framing == "content-length" else chunks()
        answer = await probe.request(
            "POST", endpoint, content=content, headers={**ALICE, "content-type": "application/json"}
        )
        assert_error(answer, 413, "BODY_TOO_LARGE")
        thread = await probe.request("GET", "/ag-ui/threads/t-big", headers=ALICE)
        assert_error(thread, 404, "UNKNOWN_THREAD")


async def test_a_declared_length_over_the_limit_is_refused_before_the_body_comes() -> None:
    async with hostile(make_app()) as probe, raw_connection(probe.base) as (reader, writer):
        writer.write(
            raw_request(
                "POST", "/ag-ui", {**ALICE, "content-type": "application/json", "content-length": str(50 * 1024 * 1024)}
            )
        )
        await writer.drain()
        started = time.monotonic()
        status, head, body = await read_http(reader, timeout=5)
        probe.record(status, head, body)
        assert status == 413, (status, head, body)
        assert time.monotonic() - started < 5
        assert b"BODY_TOO_LARGE" in body


async def test_a_huge_message_under_the_limit_runs_and_the_reply_stays_small() -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.run(run_input("y" * 900_000, run_id="r-huge", thread_id="t-huge"), headers=ALICE)
        assert_finished(answer)
        assert len(answer.body) < 64 * 1024, len(answer.body)


async def test_ten_thousand_messages_run_and_the_thread_is_bounded() -> None:
    async with hostile(make_app()) as probe:
        messages = [{"id": f"m{n}", "role": "user", "content": "hi"} for n in range(10_000)]
        answer = await probe.run(
            {"threadId": "t-many", "runId": "r-many", "messages": messages}, headers=ALICE, timeout=20
        )
        assert_finished(answer)
        thread = await probe.request("GET", "/ag-ui/threads/t-many", headers=ALICE)
        assert thread.status == 200, thread
        assert 0 < len(thread.json()["messages"]) <= 1_001


async def test_five_thousand_tools_and_contexts_run() -> None:
    async with hostile(make_app()) as probe:
        tools = [{"name": f"tool_{n}", "description": "d", "parameters": {"type": "object"}} for n in range(5_000)]
        context = [{"description": f"c{n}", "value": "v"} for n in range(5_000)]
        answer = await probe.run(
            {**run_input("hi", run_id="r-tools", thread_id="t-tools"), "tools": tools, "context": context},
            headers=ALICE,
        )
        assert_finished(answer)
        assert len(answer.body) < 64 * 1024


@pytest.mark.parametrize(
    ("name", "head"),
    [
        ("one-huge-header", [("x-filler", "a" * 200_000)]),
        ("many-headers", [(f"x-h{n}", "v") for n in range(2_000)]),
        ("huge-authorization", [("authorization", "Bearer " + "a" * 100_000)]),
        ("huge-query", None),
    ],
)
async def test_oversized_heads_are_refused_without_a_5xx(name: str, head: list[tuple[str, str]] | None) -> None:
    async with hostile(make_app()) as probe, raw_connection(probe.base) as (reader, writer):
        body = json_body(run_input("hi", run_id="r-head", thread_id="t-head"))
        path = "/ag-ui" if head is not None else "/ag-ui/default/stream?message=" + "m" * 200_000
        method = "POST" if head is not None else "GET"
        headers = [
            *ALICE.items(),
            ("content-type", "application/json"),
            ("content-length", str(len(body))),
            ("connection", "close"),
            *(head or []),
        ]
        if name == "huge-authorization":
            headers = [h for h in headers if h[0] != "authorization" or h[1] != ALICE["authorization"]]
        writer.write(raw_request(method, path, headers, body if method == "POST" else b""))
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        status, head_bytes, rest = await read_http(reader, timeout=10)
        if status:
            probe.record(status, head_bytes, rest)
        # refused (4xx, or the connection closed), or served in full: never a 5xx, never a hang
        assert status == 0 or 200 <= status < 500, (status, head_bytes[:300])
        if status == 200:
            assert b"RUN_FINISHED" in rest


# ============================================================================================
# deep: nested JSON in state, forwardedProps, tool parameters, messages
# ============================================================================================


def nested(depth: int, shape: str) -> Any:
    """``depth`` levels of objects or arrays, built without recursion."""
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value} if shape == "object" else [value]
    return value


def nested_json(depth: int, shape: str) -> str:
    """The JSON text of :func:`nested` (json.dumps recurses; this does not)."""
    if shape == "object":
        return '{"a":' * depth + '"bottom"' + "}" * depth
    return "[" * depth + '"bottom"' + "]" * depth


def run_with(location: str, depth: int, shape: str, run_id: str, thread_id: str) -> bytes:
    deep = nested_json(depth, shape)
    if location == "state":
        tail = f'"state": {deep}'
    elif location == "forwardedProps":
        tail = f'"forwardedProps": {deep}'
    elif location == "tool-parameters":
        tail = f'"tools": [{{"name": "deep", "description": "d", "parameters": {{"type": "object", "x": {deep}}}}}]'
    else:  # a message's content parts
        tail = ""
    messages = (
        f'[{{"id": "m-{run_id}", "role": "user", "content": "deep"}}]'
        if location != "messages"
        else f'[{{"id": "m-{run_id}", "role": "user", "content": "deep"}}, {deep}]'
    )
    head = f'{{"threadId": "{thread_id}", "runId": "{run_id}", "messages": {messages}'
    return (head + (", " + tail if tail else "") + "}").encode()


@pytest.mark.parametrize("location", ["state", "forwardedProps", "tool-parameters", "messages"])
@pytest.mark.parametrize("shape", ["object", "array"])
@pytest.mark.parametrize("depth", [100, 800, 1000, 5000])
async def test_deeply_nested_json_is_refused_or_runs_and_is_stored(location: str, shape: str, depth: int) -> None:
    async with hostile(make_app()) as probe:
        thread_id, run_id = fresh("t-deep"), fresh("r-deep")
        answer = await probe.request(
            "POST",
            "/ag-ui",
            content=run_with(location, depth, shape, run_id, thread_id),
            headers={**ALICE, "content-type": "application/json"},
            timeout=15,
        )
        if answer.status == 200:
            assert_finished(answer)
            thread = await probe.request("GET", f"/ag-ui/threads/{thread_id}", headers=ALICE)
            assert thread.status == 200, thread
            assert msgspec.json.decode(thread.body)["threadId"] == thread_id
            if location == "state":
                assert thread.body.count(b"[" if shape == "array" else b'{"a":') >= depth
        elif location == "messages":
            assert answer.status in (400, 422), answer
            assert answer.code in ("INVALID_JSON", "INVALID_INPUT"), answer
        else:
            assert_error(answer, 400, "INVALID_JSON")


@pytest.mark.parametrize(
    ("endpoint", "make"),
    [
        ("/ag-ui/connect", lambda deep: '{"threadId": "t-deep", "x": DEEP}'.replace("DEEP", deep)),
        (
            "/agents/default/messages",
            lambda deep: '{"thread_id": "t-deep", "message": "m", "x": DEEP}'.replace("DEEP", deep),
        ),
        ("/api/chat/stream", lambda deep: '{"message": "m", "sessionId": "t-deep", "x": DEEP}'.replace("DEEP", deep)),
    ],
    ids=["connect", "messages", "chat"],
)
async def test_deep_json_on_the_other_post_endpoints(endpoint: str, make: Any) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request(
            "POST",
            endpoint,
            content=make(nested_json(5000, "array")).encode(),
            headers={**ALICE, "content-type": "application/json"},
        )
        assert answer.status in (200, 202, 400), answer
        if answer.status == 400:
            assert answer.code == "INVALID_JSON"


async def test_deep_state_survives_a_second_run_on_the_thread() -> None:
    async with hostile(make_app()) as probe:
        first = await probe.request(
            "POST",
            "/ag-ui",
            content=run_with("state", 800, "object", "r-d1", "t-d"),
            headers={**ALICE, "content-type": "application/json"},
        )
        if first.status == 400:
            assert first.code == "INVALID_JSON"
            return
        assert_finished(first)
        second = await probe.run(run_input("again", run_id="r-d2", thread_id="t-d"), headers=ALICE)
        assert_finished(second)
        thread = await probe.request("GET", "/ag-ui/threads/t-d", headers=ALICE)
        assert thread.status == 200, thread
        assert thread.body.count(b'{"a":') >= 800, "the stored state lost its depth"
        connect = await probe.request("POST", "/ag-ui/connect", json={"threadId": "t-d"}, headers=ALICE)
        assert connect.status == 200, connect
        assert connect.body.count(b'{"a":') >= 800, connect
        watch = await probe.request("GET", "/agents/default/sse?thread_id=t-d", headers=ALICE, read_for=0.5)
        assert watch.status == 200, watch


# ============================================================================================
# slow clients
# ============================================================================================


async def test_a_body_trickled_over_two_seconds_does_not_hold_up_anyone() -> None:
    async with hostile(make_app()) as probe, raw_connection(probe.base) as (reader, writer):
        body = json_body(run_input("slowly", run_id="r-trickle", thread_id="t-trickle"))
        writer.write(
            raw_request(
                "POST",
                "/ag-ui",
                {**ALICE, "content-type": "application/json", "content-length": str(len(body)), "connection": "close"},
            )
        )
        await writer.drain()
        pieces = [body[n : n + max(1, len(body) // 20)] for n in range(0, len(body), max(1, len(body) // 20))]
        for n, piece in enumerate(pieces):
            writer.write(piece)
            await writer.drain()
            if n == 3:  # mid-trickle: the others are served at once
                started = time.monotonic()
                await assert_healthy(probe.base, HEALTH)
                assert time.monotonic() - started < 3
            await asyncio.sleep(0.1)
        status, head, rest = await read_http(reader, timeout=10)
        probe.record(status, head, rest)
        assert status == 200, (status, head)
        assert b"RUN_FINISHED" in rest


async def test_slowloris_headers_do_not_hold_up_anyone() -> None:
    async with hostile(make_app()) as probe:
        connections = []
        try:
            for _ in range(20):
                connections.append(await asyncio.open_connection(*probe.base.removeprefix("http://").split(":")))
            for _, writer in connections:
                writer.write(b"POST /ag-ui HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            deadline = time.monotonic() + 1.5
            n = 0
            while time.monotonic() < deadline:
                for _, writer in connections:
                    writer.write(f"X-Slow-{n}: {n}\r\n".encode())
                n += 1
                started = time.monotonic()
                await assert_healthy(probe.base, HEALTH)
                assert time.monotonic() - started < 3
                await asyncio.sleep(0.2)
        finally:
            for _, writer in connections:
                writer.close()


async def test_a_body_abandoned_midway_starts_nothing() -> None:
    async with hostile(make_app()) as probe:
        body = json_body(run_input("never finished", run_id="r-half", thread_id="t-half"))
        async with raw_connection(probe.base) as (_, writer):
            writer.write(
                raw_request(
                    "POST", "/ag-ui", {**ALICE, "content-type": "application/json", "content-length": str(len(body))}
                )
                + body[: len(body) // 2]
            )
            await writer.drain()
            await asyncio.sleep(0.3)
        await asyncio.sleep(0.2)
        assert_error(await probe.request("GET", "/ag-ui/threads/t-half", headers=ALICE), 404, "UNKNOWN_THREAD")
        assert_finished(await probe.run(run_input("now whole", run_id="r-half", thread_id="t-half"), headers=ALICE))


async def test_a_reader_that_reads_nothing_does_not_hold_up_the_server() -> None:
    async with hostile(make_app()) as probe:
        body = json_body({**run_input("fill", run_id="r-stall", thread_id="t-stall")})
        async with raw_connection(probe.base) as (_, writer):
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            writer.write(
                raw_request(
                    "POST",
                    "/ag-ui/big",
                    {
                        **ALICE,
                        "content-type": "application/json",
                        "content-length": str(len(body)),
                        "x-agui-on-disconnect": "continue",
                    },
                )
                + body
            )
            await writer.drain()
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                started = time.monotonic()
                await assert_healthy(probe.base, HEALTH)
                assert time.monotonic() - started < 3
                await asyncio.sleep(0.3)
        # the stalled reader went away; its run (policy continue) ends and its thread is kept
        await stored_thread(probe, "t-stall", ALICE, messages=2)


async def test_a_subscriber_that_reads_nothing_does_not_slow_the_runs_it_watches() -> None:
    async with hostile(make_app()) as probe:
        async with raw_connection(probe.base) as (_, writer):
            writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            writer.write(raw_request("GET", "/agents/big/sse?thread_id=t-watch", ALICE))
            await writer.drain()
            await asyncio.sleep(0.2)
            started = time.monotonic()
            for n in range(3):
                answer = await probe.run(
                    run_input(f"r{n}", run_id=f"r-watch-{n}", thread_id="t-watch"),
                    path="/ag-ui/big",
                    headers=ALICE,
                    timeout=15,
                )
                assert_finished(answer)
            assert time.monotonic() - started < 15


async def test_half_closed_request_still_gets_its_whole_answer() -> None:
    async with hostile(make_app()) as probe, raw_connection(probe.base) as (reader, writer):
        body = json_body(run_input("half", run_id="r-shut", thread_id="t-shut"))
        writer.write(
            raw_request(
                "POST",
                "/ag-ui",
                {
                    **ALICE,
                    "content-type": "application/json",
                    "content-length": str(len(body)),
                    "connection": "close",
                    "x-agui-on-disconnect": "continue",
                },
            )
            + body
        )
        await writer.drain()
        writer.write_eof()
        status, head, rest = await read_http(reader, timeout=10)
        probe.record(status, head, rest)
        # the run answers, or was cancelled by the half-close: either way the thread is usable afterwards
        assert status in (0, 200), (status, head)
        await stored_thread(probe, "t-shut", ALICE, messages=1)


async def test_fifty_idle_connections_do_not_hold_up_anyone() -> None:
    async with hostile(make_app()) as probe:
        host, port = probe.base.removeprefix("http://").split(":")
        connections = [await asyncio.open_connection(host, int(port)) for _ in range(50)]
        try:
            await asyncio.sleep(0.5)
            started = time.monotonic()
            await assert_healthy(probe.base, HEALTH)
            assert time.monotonic() - started < 3
        finally:
            for _, writer in connections:
                writer.close()


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with hostile(make_app()) as probe, raw_connection(probe.base) as (reader, writer):
        first = raw_request("GET", "/ag-ui/threads/nope-1", ALICE)
        second = raw_request("GET", "/ag-ui/threads/nope-2", {**ALICE, "connection": "close"})
        writer.write(first + second)
        await writer.drain()
        data = b""
        async with asyncio.timeout(5):
            while chunk := await reader.read(65536):
                data += chunk
        assert data.count(b"HTTP/1.1 404") == 2, data
        assert data.index(b"nope-1") < data.index(b"nope-2")
        assert not leaks(data)


# ============================================================================================
# cross-owner
# ============================================================================================


async def alice_secret_run(probe: Probe, *, thread_id: str = "t-alice", run_id: str = "r-alice") -> Answer:
    answer = await probe.run(run_input("alice's secret plan", run_id=run_id, thread_id=thread_id), headers=ALICE)
    assert_finished(answer)
    assert "secret" in text_of(answer)
    return answer


CROSS_OWNER = [
    ("thread", "GET", "/ag-ui/threads/t-alice", {}, 404, "UNKNOWN_THREAD"),
    ("resume", "GET", "/ag-ui/runs/r-alice/events", {}, 404, "UNKNOWN_RUN"),
    ("resume-last-event-id", "GET", "/ag-ui/runs/r-alice/events", {"last-event-id": "1"}, 404, "UNKNOWN_RUN"),
    ("resume-after", "GET", "/ag-ui/runs/r-alice/events?after=0", {}, 404, "UNKNOWN_RUN"),
    ("stop", "POST", "/ag-ui/runs/r-alice/stop", {}, 404, "UNKNOWN_RUN"),
    (
        "get-stream-reconnect",
        "GET",
        "/ag-ui/default/stream?message=hi",
        {"last-event-id": "r-alice:1"},
        404,
        "UNKNOWN_RUN",
    ),
    ("chat-reconnect", "GET", "/api/chat/stream?message=hi", {"last-event-id": "r-alice:1"}, 404, "UNKNOWN_RUN"),
]


CROSS_OWNER_CASES = [
    pytest.param(who, *case[1:], id=f"{who}-{case[0]}")
    for who in ("bob", "ops-admin")
    for case in CROSS_OWNER
    if who == "bob" or case[0] in ("thread", "resume")
]


@pytest.mark.parametrize(("who", "method", "path", "extra", "status", "code"), CROSS_OWNER_CASES)
async def test_another_owner_gets_404_and_nothing_of_alice(
    who: str, method: str, path: str, extra: dict[str, str], status: int, code: str
) -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        answer = await probe.request(method, path, headers={**(BOB if who == "bob" else OPS), **extra})
        assert_error(answer, status, code)
        assert b"secret" not in answer.body
        # alice still has all of it
        thread = await probe.request("GET", "/ag-ui/threads/t-alice", headers=ALICE)
        assert thread.status == 200
        assert b"secret" in thread.body


async def test_connect_to_alices_thread_shows_bob_an_empty_thread() -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        answer = await probe.request("POST", "/ag-ui/connect", json={"threadId": "t-alice"}, headers=BOB)
        assert answer.status == 200, answer
        assert b"secret" not in answer.body
        snapshot = next(e for e in answer.events() if e["type"] == "MESSAGES_SNAPSHOT")
        assert snapshot["messages"] == []


async def test_reusing_alices_run_id_is_a_conflict_that_shows_nothing() -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        for body in (
            run_input("alice's secret plan", run_id="r-alice", thread_id="t-alice"),
            run_input("mine", run_id="r-alice", thread_id="t-bob"),
        ):
            answer = await probe.run(body, headers=BOB)
            assert_error(answer, 409, "RUN_ID_CONFLICT")
            assert b"secret" not in answer.body


async def test_bob_on_alices_thread_id_gets_his_own_thread() -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        answer = await probe.run(run_input("bob here", run_id="r-bob", thread_id="t-alice"), headers=BOB)
        assert_finished(answer)
        assert "secret" not in text_of(answer)
        bob_thread = (await probe.request("GET", "/ag-ui/threads/t-alice", headers=BOB)).json()
        assert [m["role"] for m in bob_thread["messages"]] == ["user", "assistant"]
        assert "secret" not in json.dumps(bob_thread)
        alice_thread = (await probe.request("GET", "/ag-ui/threads/t-alice", headers=ALICE)).json()
        assert "bob here" not in json.dumps(alice_thread)


async def test_bob_cannot_stop_alices_live_run() -> None:
    async with hostile(make_app()) as probe:
        task = asyncio.create_task(
            probe.run(
                {**run_input("go", run_id="r-live", thread_id="t-live"), "forwardedProps": {"tokens": 20}},
                path="/ag-ui/slow",
                headers=ALICE,
            )
        )
        await asyncio.sleep(0.3)
        stop = await probe.request("POST", "/ag-ui/runs/r-live/stop", headers=BOB)
        assert_error(stop, 404, "UNKNOWN_RUN")
        answer = await task
        assert_finished(answer)
        assert not any(e.get("outcome") for e in answer.events() if e["type"] == "RUN_FINISHED"), answer.events()[-1]
        assert "t19" in text_of(answer)


async def test_bobs_subscription_to_alices_thread_id_sees_none_of_her_runs() -> None:
    async with hostile(make_app()) as probe:
        watch = asyncio.create_task(
            probe.request("GET", "/agents/default/sse?thread_id=t-alice", headers=BOB, read_for=2.0)
        )
        await asyncio.sleep(0.3)
        await alice_secret_run(probe)
        sent = await probe.request(
            "POST",
            "/agents/default/messages",
            json={"thread_id": "t-alice", "message": "alice again, secret"},
            headers=ALICE,
        )
        assert sent.status == 202, sent
        seen = await watch
        assert seen.status == 200, seen
        assert b"secret" not in seen.body
        assert b"RUN_STARTED" not in seen.body


async def test_a_message_posted_by_bob_to_alices_thread_id_lands_in_his_own_thread() -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        sent = await probe.request(
            "POST", "/agents/default/messages", json={"thread_id": "t-alice", "message": "bob's words"}, headers=BOB
        )
        assert sent.status == 202, sent
        assert b"secret" not in sent.body
        await stored_thread(probe, "t-alice", BOB, messages=2)
        alice_thread = await probe.request("GET", "/ag-ui/threads/t-alice", headers=ALICE)
        assert b"bob's words" not in alice_thread.body


@pytest.mark.parametrize("path", ["/events", "/stream/default"])
@pytest.mark.parametrize("who", ["alice", "bob"])
async def test_server_and_agent_feeds_are_for_admins(path: str, who: str) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request("GET", path, headers=ALICE if who == "alice" else BOB)
        assert_error(answer, 403, "FORBIDDEN")
        admin = await probe.request("GET", path, headers=OPS, read_for=0.3)
        assert admin.status == 200, admin


CREDENTIALS = [
    ("none", {}),
    ("wrong", {"authorization": "Bearer alice-tokem"}),
    ("basic", {"authorization": "Basic YWxpY2UtdG9rZW46"}),
    ("prefix", {"authorization": "Bearer alice-token-and-more"}),
    ("empty-query", None),
]


@pytest.mark.parametrize("credential", [c[1] for c in CREDENTIALS], ids=[c[0] for c in CREDENTIALS])
@pytest.mark.parametrize(("method", "path"), [("POST", "/ag-ui"), ("GET", "/agents/default/sse?thread_id=t1")])
async def test_without_a_valid_token_every_route_is_401(
    credential: dict[str, str] | None, method: str, path: str
) -> None:
    async with hostile(make_app()) as probe:
        if credential is None:
            path += ("&" if "?" in path else "?") + "access_token="
            credential = {}
        answer = await probe.request(
            method, path, headers=credential, json=run_input("hi") if method == "POST" else None
        )
        assert_error(answer, 401, "UNAUTHENTICATED")
        assert answer.headers["www-authenticate"].startswith("Bearer")
        for secret in SECRETS:
            assert secret.encode() not in answer.body


TOKEN_IN_QUERY = [
    ("unknown-thread", "GET", "/ag-ui/threads/nope?access_token=alice-token", 404),
    ("unknown-agent", "GET", "/ag-ui/nope/stream?message=x&access_token=alice-token", 404),
    ("bad-cursor", "GET", "/agents/default/sse?thread_id=t1&after=abc&access_token=alice-token", 400),
    ("bad-thread-id", "GET", "/agents/default/sse?thread_id=%0D%0A&access_token=alice-token", 422),
    ("bad-policy", "GET", "/ag-ui/default/stream?message=x&on_disconnect=grace:nan&access_token=alice-token", 400),
    ("forbidden-feed", "GET", "/events?access_token=alice-token", 403),
]


@pytest.mark.parametrize(
    ("method", "path", "status"), [c[1:] for c in TOKEN_IN_QUERY], ids=[c[0] for c in TOKEN_IN_QUERY]
)
async def test_a_token_in_the_query_is_never_echoed(method: str, path: str, status: int) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.request(method, path)
        assert answer.status == status, answer
        assert b"alice-token" not in answer.body  # (and the harness checks every answer and the log for tokens)


# ============================================================================================
# cross-site (fetch metadata)
# ============================================================================================

CROSS_SITE_REFUSED = [
    ("cross-site-no-origin", {"sec-fetch-site": "cross-site"}),
    ("cross-site-evil", {"sec-fetch-site": "cross-site", "origin": EVIL_ORIGIN}),
    ("same-site-evil", {"sec-fetch-site": "same-site", "origin": "https://other.app.example"}),
    ("cross-site-null-origin", {"sec-fetch-site": "cross-site", "origin": "null"}),
    ("cross-site-origin-suffix", {"sec-fetch-site": "cross-site", "origin": GOOD_ORIGIN + ".evil.example"}),
]


@pytest.mark.parametrize("headers", [c[1] for c in CROSS_SITE_REFUSED], ids=[c[0] for c in CROSS_SITE_REFUSED])
async def test_another_sites_page_gets_403_before_anything_runs(headers: dict[str, str]) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.run(run_input("csrf", run_id="r-csrf", thread_id="t-csrf"), headers={**ALICE, **headers})
        assert_error(answer, 403, "CROSS_SITE")
        assert_error(await probe.request("GET", "/ag-ui/threads/t-csrf", headers=ALICE), 404, "UNKNOWN_THREAD")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/ag-ui/threads/t-alice", None),
        ("GET", "/agents/default/sse?thread_id=t-alice", None),
        ("POST", "/agents/default/messages", {"thread_id": "t-alice", "message": "csrf"}),
        ("POST", "/ag-ui/connect", {"threadId": "t-alice"}),
        ("POST", "/ag-ui/runs/r-alice/stop", None),
        ("GET", "/ag-ui/default/stream?message=csrf&access_token=alice-token", None),
    ],
    ids=["thread", "sse", "messages", "connect", "stop", "get-stream"],
)
async def test_cross_site_is_refused_on_every_route(method: str, path: str, body: Any) -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        answer = await probe.request(
            method, path, json=body, headers={**ALICE, "sec-fetch-site": "cross-site", "origin": EVIL_ORIGIN}
        )
        assert_error(answer, 403, "CROSS_SITE")
        assert b"secret" not in answer.body


CROSS_SITE_ALLOWED = [
    ("cross-site-allowed-origin", {"sec-fetch-site": "cross-site", "origin": GOOD_ORIGIN}),
    ("same-origin", {"sec-fetch-site": "same-origin", "origin": EVIL_ORIGIN}),
    ("none", {"sec-fetch-site": "none"}),
    ("no-fetch-metadata", {}),
]


@pytest.mark.parametrize("headers", [c[1] for c in CROSS_SITE_ALLOWED], ids=[c[0] for c in CROSS_SITE_ALLOWED])
async def test_same_origin_and_allowed_origins_pass(headers: dict[str, str]) -> None:
    async with hostile(make_app()) as probe:
        assert_finished(
            await probe.run(run_input("fine", run_id="r-ok", thread_id="t-ok"), headers={**ALICE, **headers})
        )


async def test_without_allowed_origins_every_cross_site_request_is_refused() -> None:
    async with hostile(make_app(allowed_origins=[])) as probe:
        answer = await probe.run(
            run_input("x"), headers={**ALICE, "sec-fetch-site": "cross-site", "origin": GOOD_ORIGIN}
        )
        assert_error(answer, 403, "CROSS_SITE")


# ============================================================================================
# id injection and header injection
# ============================================================================================

BAD_IDS = [
    ("crlf-header", "r\r\nSet-Cookie: pwned=1"),
    ("lf", "a\nb"),
    ("nul", "a\x00b"),
    ("del", "a\x7fb"),
    ("tab", "a\tb"),
    ("empty", ""),
    ("257-chars", "i" * 257),
    ("100k-chars", "i" * 100_000),
]


def with_bad_id(field: str, value: str) -> tuple[dict[str, Any], str]:
    body = run_input("hi", run_id="r-inj", thread_id="t-inj")
    if field == "threadId":
        body["threadId"] = value
        return body, "threadId"
    if field == "runId":
        body["runId"] = value
        return body, "runId"
    if field == "parentRunId":
        body["parentRunId"] = value
        return body, "parentRunId"
    if field == "message-id":
        body["messages"][0]["id"] = value
        return body, "messages[0].id"
    call = {"id": value, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    if field == "tool-call-id":
        body["messages"] = [{"id": "a1", "role": "assistant", "toolCalls": [call]}]
        return body, "messages[0].toolCalls[0].id"
    body["messages"] = [
        {"id": "a1", "role": "assistant", "toolCalls": [{**call, "id": "c1"}]},
        {"id": "tm", "role": "tool", "toolCallId": value, "content": "ok"},
    ]
    return body, "messages[1].toolCallId"


BODY_ID_CASES = [
    pytest.param(field, value, id=f"{field}-{name}")
    for field in ("threadId", "runId", "parentRunId", "message-id", "tool-call-id", "tool-message-toolCallId")
    for name, value in BAD_IDS
    if field in ("threadId", "runId") or name in ("crlf-header", "nul", "empty", "257-chars")
]


@pytest.mark.parametrize(("field", "value"), BODY_ID_CASES)
async def test_a_bad_id_in_the_body_is_422_naming_the_field(field: str, value: str) -> None:
    async with hostile(make_app()) as probe:
        body, path = with_bad_id(field, value)
        answer = await probe.run(body, headers=ALICE)
        assert_error(answer, 422, "INVALID_INPUT", path)
        assert "set-cookie" not in answer.headers
        assert b"\r\nSet-Cookie" not in answer.body


QUERY_IDS = [
    ("sse-thread_id", "GET", "/agents/default/sse?thread_id={}", None, "thread_id"),
    ("sse-threadId", "GET", "/agents/default/sse?threadId={}", None, "threadId"),
    ("get-stream-threadId", "GET", "/ag-ui/default/stream?message=hi&threadId={}", None, "threadId"),
    ("chat-sessionId-query", "GET", "/api/chat/stream?message=hi&sessionId={}", None, "sessionId"),
    ("chat-sessionId-body", "POST", "/api/chat/stream", "sessionId", "sessionId"),
    ("messages-thread_id", "POST", "/agents/default/messages", "thread_id", "thread_id"),
    ("connect-threadId", "POST", "/ag-ui/connect", "threadId", "threadId"),
]
QUERY_VALUES = [("crlf", "t\r\nX-Injected: 1"), ("257-chars", "q" * 257)]


@pytest.mark.parametrize(("method", "path", "key", "field"), [c[1:] for c in QUERY_IDS], ids=[c[0] for c in QUERY_IDS])
@pytest.mark.parametrize("value", [c[1] for c in QUERY_VALUES], ids=[c[0] for c in QUERY_VALUES])
async def test_a_bad_id_in_a_query_or_side_body_is_422(
    method: str, path: str, key: str | None, field: str, value: str
) -> None:
    async with hostile(make_app()) as probe:
        if method == "GET":
            answer = await probe.request("GET", path.format(quote(value, safe="")), headers=ALICE, read_for=2)
        else:
            body = {key: value, "message": "hi"}
            answer = await probe.request("POST", path, json=body, headers=ALICE, read_for=2)
        assert_error(answer, 422, "INVALID_INPUT", field)
        assert "x-injected" not in answer.headers


PATH_IDS = [("crlf", "%0D%0ALocation:%20https://evil.example"), ("nul", "a%00b"), ("10k-chars", "p" * 10_000)]


@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("GET", "/ag-ui/runs/{}/events"),
        ("POST", "/ag-ui/runs/{}/stop"),
        ("GET", "/ag-ui/threads/{}"),
        ("POST", "/ag-ui/{}"),
        ("GET", "/stream/{}"),
    ],
    ids=["resume", "stop", "thread", "agent", "agent-feed"],
)
@pytest.mark.parametrize("value", [c[1] for c in PATH_IDS], ids=[c[0] for c in PATH_IDS])
async def test_bad_ids_in_paths_are_refused_without_echoing_into_headers(
    method: str, template: str, value: str
) -> None:
    async with hostile(make_app()) as probe:
        body = json.dumps(run_input("hi")).encode() if method == "POST" else None
        answer = await probe.request(
            method, template.format(value), content=body, headers={**OPS, "content-type": "application/json"}
        )
        assert answer.status in (404, 422), answer
        assert "location" not in answer.headers
        for name, header in answer.headers.items():
            assert not {"\r", "\n", "\x00"} & set(header), (name, header)


ADDRESSABLE_IDS = [
    ("unicode", "ラン-é?#%20\u2028x", "スレッド-é?#&x=1"),
    ("spaces-plus", "a b+c", "t ? x"),
]


@pytest.mark.parametrize(
    ("field", "value"),
    [("runId", "run/../../etc"), ("threadId", "thread/one"), ("runId", ".."), ("threadId", ".")],
)
async def test_an_id_that_cannot_stand_in_a_url_path_is_422_naming_it(field: str, value: str) -> None:
    async with hostile(make_app()) as probe:
        body = run_input("odd ids", run_id="r-odd", thread_id="t-odd")
        body[field] = value
        answer = await probe.run(body, headers=ALICE)
        assert answer.status == 422, answer
        assert answer.json()["errors"][0]["field"] == field


@pytest.mark.parametrize(("run_id", "thread_id"), [c[1:] for c in ADDRESSABLE_IDS], ids=[c[0] for c in ADDRESSABLE_IDS])
async def test_a_valid_odd_id_is_reachable_through_its_content_location(run_id: str, thread_id: str) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.run(run_input("odd ids", run_id=run_id, thread_id=thread_id), headers=ALICE)
        assert_finished(answer)
        location = answer.headers["content-location"]
        assert location.isascii(), location
        resumed = await probe.request("GET", location, headers=ALICE)
        assert resumed.status == 200, f"Content-Location {location} answered {resumed!r}"
        assert resumed.events()[0]["runId"] == run_id
        assert resumed.types()[-1] == "RUN_FINISHED"
        thread = await probe.request("GET", f"/ag-ui/threads/{quote(thread_id, safe='')}", headers=ALICE)
        assert thread.status == 200, thread
        assert thread.json()["threadId"] == thread_id, thread


@pytest.mark.parametrize(
    "raw",
    [b"r-alice\x00:1", b"\xff\xfe:1", b"r-alice:1\x0bX: y", b"r-alice:" + b"9" * 5000],
    ids=["nul", "latin1", "vertical-tab", "5000-digit-seq"],
)
async def test_hostile_last_event_id_bytes_on_the_get_stream(raw: bytes) -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        async with raw_connection(probe.base) as (reader, writer):
            writer.write(
                raw_request("GET", "/ag-ui/default/stream?message=hi", {**ALICE, "connection": "close"})[:-2]
                + b"Last-Event-ID: "
                + raw
                + b"\r\n\r\n"
            )
            await writer.drain()
            status, head, body = await read_http(reader, timeout=5)
        probe.record(status, head, body)
        # refused by the HTTP parser (400), or as a cursor / unknown run: never a new run, never a 5xx
        assert status in (0, 400, 404, 422), (status, head, body[:300])
        assert b"RUN_STARTED" not in body


@pytest.mark.parametrize(
    "value", ["cancel\r\nX-Injected: 1", "continue\x00", "grace:1\nX: y"], ids=["crlf", "nul", "lf"]
)
async def test_an_injected_disconnect_policy_in_the_query_is_400(value: str) -> None:
    async with hostile(make_app()) as probe:
        answer = await probe.run(run_input("x"), path=f"/ag-ui?on_disconnect={quote(value)}", headers=ALICE)
        assert_error(answer, 400, "INVALID_DISCONNECT_POLICY")
        assert "x-injected" not in answer.headers


# ============================================================================================
# cursor abuse
# ============================================================================================

BAD_CURSORS = [
    ("minus-one", "-1"),
    ("abc", "abc"),
    ("float", "1.5"),
    ("huge", str(10**20)),
    ("5000-digits", "9" * 5000),
    ("underscore", "1_0"),
    ("arabic-digit", "\u0663"),
    ("ahead", "500"),
]


CURSOR_CASES = [
    pytest.param(how, cursor, id=f"{how}-{name}")
    for how in ("after", "last-event-id")
    for name, cursor in BAD_CURSORS
    if how == "after" or name in ("minus-one", "abc", "huge", "ahead")
]


@pytest.mark.parametrize(("how", "cursor"), CURSOR_CASES)
async def test_a_bad_cursor_on_a_run_is_400(how: str, cursor: str) -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        if how == "after":
            answer = await probe.request("GET", f"/ag-ui/runs/r-alice/events?after={quote(cursor)}", headers=ALICE)
        else:
            if not cursor.isascii():
                cursor = quote(cursor)  # a header is latin-1; the server sees the escaped text, still no integer
            answer = await probe.request(
                "GET", "/ag-ui/runs/r-alice/events", headers={**ALICE, "last-event-id": cursor}
            )
        assert_error(answer, 400, "INVALID_CURSOR")


@pytest.mark.parametrize("cursor", ["-1", "abc", str(10**20), "500"], ids=["minus-one", "abc", "huge", "ahead"])
async def test_a_bad_cursor_on_a_thread_feed_is_400(cursor: str) -> None:
    async with hostile(make_app()) as probe:
        await alice_secret_run(probe)
        answer = await probe.request(
            "GET", f"/agents/default/sse?thread_id=t-alice&after={cursor}", headers=ALICE, read_for=1
        )
        assert_error(answer, 400, "INVALID_CURSOR")


@pytest.mark.parametrize("seq", ["-1", "abc", str(10**20)], ids=["minus-one", "abc", "huge"])
async def test_a_bad_cursor_on_a_get_stream_reconnect_is_400(seq: str) -> None:
    async with hostile(make_app()) as probe:
        first = await probe.request("GET", "/ag-ui/default/stream?message=hi&threadId=t-get", headers=ALICE)
        assert first.status == 200
        assert b"RUN_FINISHED" in first.body
        run_id = first.events()[0]["runId"]
        answer = await probe.request(
            "GET",
            "/ag-ui/default/stream?message=hi&threadId=t-get",
            headers={**ALICE, "last-event-id": f"{run_id}:{seq}"},
        )
        assert_error(answer, 400, "INVALID_CURSOR")


async def test_the_end_of_a_finished_run_is_204() -> None:
    async with hostile(make_app()) as probe:
        answer = await alice_secret_run(probe)
        last = answer.body.rsplit(b"id: ", 1)[1].split(b"\n", 1)[0].decode()
        drained = await probe.request("GET", "/ag-ui/runs/r-alice/events", headers={**ALICE, "last-event-id": last})
        assert drained.status == 204, drained
        assert drained.body == b""


async def test_a_cursor_older_than_the_log_is_410() -> None:
    # 80 events kept: a well-behaved run (about 40 events) fits; this one's reply (about 140) does not
    async with hostile(make_app(max_events_per_run=80)) as probe:
        started = await probe.run(
            run_input("a " * 100, run_id="r-x", thread_id="t-x"),
            headers={**ALICE, "x-agui-on-disconnect": "continue"},
            until=b"RUN_STARTED",
        )
        assert started.status == 200, started
        await stored_thread(probe, "t-x", ALICE, messages=2)  # the run goes on without its client, and ends
        expired = await probe.request("GET", "/ag-ui/runs/r-x/events?after=1", headers=ALICE)
        assert_error(expired, 410, "CURSOR_EXPIRED")


# ============================================================================================
# disconnect policy abuse
# ============================================================================================

BAD_POLICIES = [
    "grace:nan",
    "grace:NaN",
    "grace:inf",
    "grace:-inf",
    "grace:-1",
    "grace:1e309",
    "grace:abc",
    "bogus",
    "cancel:5",
]


POLICY_CASES = [
    pytest.param(policy, how, id=f"{how}-{policy}")
    for how in ("header", "query")
    for policy in BAD_POLICIES
    if how == "header" or policy in ("grace:nan", "grace:inf", "grace:-1", "grace:1e309")
]


@pytest.mark.parametrize(("policy", "how"), POLICY_CASES)
async def test_a_bad_disconnect_policy_is_400(policy: str, how: str) -> None:
    async with hostile(make_app()) as probe:
        body = run_input("x", run_id=fresh("r-pol"), thread_id=fresh("t-pol"))
        if how == "header":
            answer = await probe.run(body, headers={**ALICE, "x-agui-on-disconnect": policy})
        else:
            answer = await probe.run(body, path=f"/ag-ui?on_disconnect={quote(policy)}", headers=ALICE)
        assert_error(answer, 400, "INVALID_DISCONNECT_POLICY")
        assert_error(
            await probe.request("GET", f"/ag-ui/threads/{body['threadId']}", headers=ALICE), 404, "UNKNOWN_THREAD"
        )


@pytest.mark.parametrize(
    "path",
    ["/ag-ui/default/stream?message=hi&on_disconnect=grace:nan", "/api/chat/stream?message=hi&on_disconnect=grace:inf"],
    ids=["get-stream", "chat"],
)
async def test_a_bad_disconnect_policy_on_the_get_streams_is_400(path: str) -> None:
    async with hostile(make_app()) as probe:
        assert_error(await probe.request("GET", path, headers=ALICE), 400, "INVALID_DISCONNECT_POLICY")


@pytest.mark.parametrize("policy", ["grace:0", "grace:0.2", "cancel"])
async def test_a_client_that_leaves_mid_run_frees_its_thread(policy: str) -> None:
    async with hostile(make_app()) as probe:
        body = {**run_input("go", run_id="r-leave", thread_id="t-leave"), "forwardedProps": {"tokens": 200}}
        answer = await probe.run(
            body, path="/ag-ui/slow", headers={**ALICE, "x-agui-on-disconnect": policy}, until=b"t2 "
        )
        assert answer.status == 200
        assert not answer.complete
        # the run is cancelled (at once, or after its grace): the thread takes a new run within a bound
        async with asyncio.timeout(8):
            while True:
                again = await probe.run(run_input("next", run_id=fresh("r-next"), thread_id="t-leave"), headers=ALICE)
                if again.status == 200:
                    assert_finished(again)
                    break
                assert_error(again, 409, "THREAD_BUSY")
                await asyncio.sleep(0.1)


# ============================================================================================
# resource exhaustion
# ============================================================================================


async def test_past_max_streams_per_principal_a_stream_is_429_and_others_are_unaffected() -> None:
    async with hostile(make_app(max_streams_per_principal=4)) as probe:
        holders = [
            asyncio.create_task(
                probe.request("GET", f"/agents/default/sse?thread_id=t-hold-{n}", headers=ALICE, read_for=2)
            )
            for n in range(4)
        ]
        await asyncio.sleep(0.5)
        refused = await probe.request("GET", "/agents/default/sse?thread_id=t-hold-x", headers=ALICE, read_for=1)
        assert_error(refused, 429, "TOO_MANY_REQUESTS")
        assert int(refused.headers["retry-after"]) >= 0
        run = await probe.run(run_input("also a stream", run_id="r-hold", thread_id="t-hold-run"), headers=ALICE)
        assert_error(run, 429, "TOO_MANY_REQUESTS")
        bob = await probe.run(run_input("bob is fine", run_id="r-bob-hold", thread_id="t-bob-hold"), headers=BOB)
        assert_finished(bob)
        for holder in holders:
            assert (await holder).status == 200
        # the streams closed: alice may stream again
        assert_finished(await probe.run(run_input("again", run_id="r-hold-2", thread_id="t-hold-2"), headers=ALICE))


async def test_past_max_run_starts_per_minute_a_run_is_429_and_others_are_unaffected() -> None:
    async with hostile(make_app(max_run_starts_per_minute=5)) as probe:
        statuses = []
        for n in range(8):
            answer = await probe.run(run_input("go", run_id=f"r-rate-{n}", thread_id=f"t-rate-{n}"), headers=ALICE)
            statuses.append(answer.status)
            if answer.status == 429:
                assert_error(answer, 429, "TOO_MANY_REQUESTS")
                assert "retry-after" in answer.headers
                assert_error(
                    await probe.request("GET", f"/ag-ui/threads/t-rate-{n}", headers=ALICE), 404, "UNKNOWN_THREAD"
                )
        assert statuses == [200] * 5 + [429] * 3, statuses
        sent = await probe.request(
            "POST", "/agents/default/messages", json={"thread_id": "t-r", "message": "x"}, headers=ALICE
        )
        assert_error(sent, 429, "TOO_MANY_REQUESTS")
        assert_finished(await probe.run(run_input("bob", run_id="r-rate-bob", thread_id="t-rate-bob"), headers=BOB))


async def test_one_principal_with_a_hundred_concurrent_streams_cannot_starve_another() -> None:
    async with hostile(make_app(), case_timeout=40) as probe:
        streams = [
            asyncio.create_task(
                probe.request("GET", f"/agents/default/sse?thread_id=t-flood-{n}", headers=ALICE, read_for=1.5)
            )
            for n in range(100)
        ]
        await asyncio.sleep(0.5)
        started = time.monotonic()
        assert_finished(await probe.run(run_input("bob", run_id="r-flood-bob", thread_id="t-flood-bob"), headers=BOB))
        assert time.monotonic() - started < 3
        answers = await asyncio.gather(*streams)
        assert {a.status for a in answers} <= {200, 429}, {a.status for a in answers}


async def test_a_burst_of_runs_on_one_thread_admits_exactly_one() -> None:
    async with hostile(make_app()) as probe:
        body = {"forwardedProps": {"tokens": 10}}
        answers = await asyncio.gather(
            *(
                probe.run(
                    {**run_input("go", run_id=f"r-burst-{n}", thread_id="t-burst"), **body},
                    path="/ag-ui/slow",
                    headers=ALICE,
                )
                for n in range(30)
            )
        )
        statuses = sorted(a.status for a in answers)
        assert statuses.count(200) == 1, statuses
        for answer in answers:
            if answer.status == 200:
                assert_finished(answer)
            else:
                assert answer.status in (409, 429), answer
                assert answer.code in ("THREAD_BUSY", "TOO_MANY_REQUESTS"), answer


async def test_two_hundred_quick_runs_all_answer_and_the_server_stays_up() -> None:
    async with hostile(make_app(), case_timeout=40) as probe:
        semaphore = asyncio.Semaphore(20)

        async def one(n: int) -> Answer:
            async with semaphore:
                return await probe.run(run_input("q", run_id=f"r-q-{n}", thread_id=f"t-q-{n}"), headers=ALICE)

        answers = await asyncio.gather(*(one(n) for n in range(200)))
        for answer in answers:
            if answer.status == 200:
                assert_finished(answer)
            else:
                assert_error(answer, 429, "TOO_MANY_REQUESTS")


async def test_streams_a_client_drops_are_released() -> None:
    async with hostile(make_app(max_streams_per_principal=3)) as probe:
        for round_ in range(4):  # 12 streams opened and dropped, three at a time
            await asyncio.gather(
                *(
                    probe.request(
                        "GET", f"/agents/default/sse?thread_id=t-drop-{round_}-{n}", headers=ALICE, read_for=0.3
                    )
                    for n in range(3)
                )
            )
        await asyncio.sleep(0.3)
        assert_finished(await probe.run(run_input("after", run_id="r-drop", thread_id="t-drop"), headers=ALICE))


# ============================================================================================
# offline agent amplification (a subprocess with a memory cap)
# ============================================================================================


def deep_properties(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "minLength": 10**9}
    for n in range(depth):
        schema = {
            "type": "object",
            "properties": {f"p{n}": schema, f"q{n}": {"type": "array", "minItems": 10**9}},
            "required": [f"p{n}", f"q{n}"],
        }
    return schema


AMPLIFIERS: list[tuple[str, dict[str, Any]]] = [
    (
        "minLength-1e9",
        {"type": "object", "properties": {"s": {"type": "string", "minLength": 10**9}}, "required": ["s"]},
    ),
    ("minLength-float-1e308", {"type": "object", "properties": {"s": {"type": "string", "minLength": 1e308}}}),
    ("minItems-1e9", {"type": "object", "properties": {"a": {"type": "array", "minItems": 10**9}}}),
    (
        "minItems-nested",
        {
            "type": "object",
            "properties": {
                "a": {
                    "type": "array",
                    "minItems": 10**9,
                    "items": {
                        "type": "array",
                        "minItems": 10**9,
                        "items": {"type": "array", "minItems": 10**9, "items": {"type": "string", "minLength": 10**6}},
                    },
                }
            },
        },
    ),
    ("minItems-string", {"type": "object", "properties": {"a": {"type": "array", "minItems": "1000000000"}}}),
    ("minimum-huge", {"type": "object", "properties": {"n": {"type": "integer", "minimum": 10**400}}}),
    ("nested-properties-200", deep_properties(200)),
    (
        "wide-required",
        {
            "type": "object",
            "properties": {f"k{n}": {"type": "string", "minLength": 10**6} for n in range(2_000)},
            "required": [f"k{n}" for n in range(2_000)],
        },
    ),
    (
        "anyOf-chain",
        {"anyOf": [{"anyOf": [{"type": "array", "minItems": 10**9, "items": {"type": "string", "minLength": 10**9}}]}]},
    ),
]


@pytest.fixture(scope="module")
def amplification_server() -> Any:
    with subprocess_server("tests.support.hostile_app:app") as served:
        yield served


@pytest.mark.parametrize("schema", [a[1] for a in AMPLIFIERS], ids=[a[0] for a in AMPLIFIERS])
async def test_a_tool_schema_cannot_make_the_offline_agent_answer_with_megabytes(
    amplification_server: Any, schema: dict[str, Any]
) -> None:
    base, process, output = amplification_server
    assert process.poll() is None, f"the server process died earlier: {output.read_text()[-2000:]}"
    body = {
        **run_input("use the tool", run_id=fresh("r-amp"), thread_id=fresh("t-amp")),
        "tools": [{"name": "amplify", "description": "d", "parameters": schema}],
    }
    raw = json.dumps(body)  # 10**400 and 1e308 go out as JSON numbers
    started = time.monotonic()
    async with httpx.AsyncClient(timeout=15) as client:
        probe = Probe(base, client)
        try:
            answer = await probe.request(
                "POST",
                "/ag-ui",
                content=raw.encode(),
                timeout=15,
                headers={**ALICE, "content-type": "application/json"},
            )
        except (TimeoutError, httpx.HTTPError) as exc:
            pytest.fail(
                f"no whole answer within 15 s ({exc!r}); server alive: {process.poll() is None}; "
                f"its output: {output.read_text()[-2000:]}"
            )
        assert time.monotonic() - started < 15
        probe.check_answers()
        if answer.status == 200:
            assert_finished(answer)
            assert len(answer.body) < 64 * 1024, f"{len(answer.body)} bytes"
        else:
            assert answer.status in (400, 422), answer
        assert process.poll() is None, f"the server died: {output.read_text()[-2000:]}"
        await assert_healthy(base, HEALTH)
    assert "Traceback" not in output.read_text(errors="replace"), output.read_text()[-3000:]


# ============================================================================================
# the harness itself: its checks fail when they should
# ============================================================================================


def test_the_leak_check_finds_tracebacks_paths_and_tokens() -> None:
    assert leaks(b'Traceback (most recent call last):\n  File "/x/agui_server/http/endpoints.py", line 3')
    assert leaks(b'{"detail": "bad token alice-token"}')
    assert not leaks(b'{"status_code": 404, "code": "UNKNOWN_RUN", "detail": "No run with id \'r1\'."}')
