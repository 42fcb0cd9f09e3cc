"""Principals and ownership: who is calling, and what each caller may see, through every endpoint."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from agui_server import AGUIConfig, OfflineAgent, create_app
from agui_server.dialects import ChatEvents, FeedRoute, MessageEvents, RunRoute, chat_request
from agui_server.http.auth import BearerTokens
from agui_server.principals import Principal
from tests.support.server import running_server
from tests.support.sse import collect_events, parse_frames, run_input, sse_blocks

TOKENS = "alice-token alice\nbob-token bob\nops-token ops admin\ncarol-token carol"
ALICE = {"authorization": "Bearer alice-token"}
BOB = {"authorization": "Bearer bob-token"}
OPS = {"authorization": "Bearer ops-token"}


def app(**extra: Any) -> Any:
    routes = [
        FeedRoute("/events", MessageEvents()),
        FeedRoute("/stream/{agent_id}", MessageEvents(), scope="agent"),
        RunRoute("/api/chat/stream", ChatEvents(), request=chat_request, methods=("GET", "POST")),
    ]
    config = AGUIConfig(auth=BearerTokens.parse(TOKENS), agent=OfflineAgent(delay=0.005), routes=routes, **extra)
    return create_app(config)


def deltas(events: list[dict[str, Any]]) -> str:
    return "".join(e.get("delta", "") for e in events)


ENDPOINTS = [
    ("POST", "/ag-ui", run_input("hi")),
    ("POST", "/ag-ui/default", run_input("hi")),
    ("GET", "/ag-ui/default/stream?message=hi", None),
    ("GET", "/ag-ui/runs/r1/events", None),
    ("POST", "/ag-ui/runs/r1/stop", None),
    ("POST", "/ag-ui/connect", {"threadId": "t1"}),
    ("GET", "/ag-ui/threads/t1", None),
    ("GET", "/agents/default/sse?thread_id=t1", None),
    ("POST", "/agents/default/messages", {"thread_id": "t1", "message": "hi"}),
    ("GET", "/events", None),
    ("GET", "/stream/default", None),
    ("GET", "/api/chat/stream?message=hi", None),
    ("POST", "/api/chat/stream", {"message": "hi"}),
]


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("credential", [None, "Bearer wrong", "Basic YWxpY2U6eA==", "Bearer"])
async def test_every_endpoint_answers_401_without_a_valid_token(
    method: str, path: str, body: Any, credential: str | None
) -> None:
    headers = {"authorization": credential} if credential else {}
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.request(method, base + path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["code"] == "UNAUTHENTICATED"


async def test_two_principals_never_see_each_others_threads_runs_or_feeds() -> None:
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        # alice's secret conversation on thread t1
        _, alice_events, _ = await collect_events(
            client, base + "/ag-ui", run_input("alice's secret", run_id="ra", thread_id="t1"), headers=ALICE
        )
        assert "alice's secret" in deltas(alice_events)
        # bob reads the same thread id: 404, and none of alice's words anywhere
        assert (await client.get(base + "/ag-ui/threads/t1", headers=BOB)).status_code == 404
        assert (await client.get(base + "/ag-ui/runs/ra/events", headers=BOB)).status_code == 404
        stop = await client.post(base + "/ag-ui/runs/ra/stop", headers=BOB)
        assert stop.status_code == 404
        assert stop.json()["code"] == "UNKNOWN_RUN"
        connect = await client.post(base + "/ag-ui/connect", json={"threadId": "t1"}, headers=BOB)
        assert b"secret" not in connect.content
        # bob's run on "t1" is his own thread: the agent sees none of alice's history
        _, bob_events, _ = await collect_events(
            client, base + "/ag-ui", run_input("bob here", run_id="rb", thread_id="t1"), headers=BOB
        )
        assert "secret" not in deltas(bob_events)
        bob_thread = (await client.get(base + "/ag-ui/threads/t1", headers=BOB)).json()
        alice_thread = (await client.get(base + "/ag-ui/threads/t1", headers=ALICE)).json()
        assert [m["role"] for m in bob_thread["messages"]] == ["user", "assistant"]
        assert "secret" not in str(bob_thread)
        assert [m["role"] for m in alice_thread["messages"]] == ["user", "assistant"]
        assert alice_thread["threadId"] == bob_thread["threadId"] == "t1"
        # bob replaying alice's exact request cannot re-attach to her run
        replay = await client.post(
            base + "/ag-ui", json=run_input("alice's secret", run_id="ra", thread_id="t1"), headers=BOB
        )
        assert replay.status_code == 409
        assert b"secret" not in replay.content
        # the subscription is per owner too
        async with client.stream("GET", base + "/agents/default/sse?thread_id=t1", headers=BOB) as response:
            await client.post(
                base + "/agents/default/messages", json={"thread_id": "t1", "message": "x"}, headers=ALICE
            )
            await client.post(
                base + "/agents/default/messages", json={"thread_id": "t1", "message": "mine"}, headers=BOB
            )
            buffer = b""
            async with asyncio.timeout(10):
                async for chunk in response.aiter_raw():
                    buffer += chunk
                    if buffer.count(b"event: RUN_FINISHED") >= 2:  # bob's earlier run (just ended), then his new one
                        break
        assert b"mine" in buffer
        assert b'\\"x\\"' not in buffer
        # the server-wide and per-agent feeds are for admins
        assert (await client.get(base + "/events", headers=BOB)).status_code == 403
        assert (await client.get(base + "/stream/default", headers=ALICE)).status_code == 403
        async with client.stream("GET", base + "/events", headers=OPS) as admin_feed:
            assert admin_feed.status_code == 200


async def test_a_stop_by_the_owner_works_and_by_another_does_not() -> None:
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        body = run_input("x" * 300, run_id="long", thread_id="t")
        async with client.stream(
            "POST", base + "/ag-ui", json=body, headers={**ALICE, "x-agui-on-disconnect": "continue"}
        ):
            pass
        assert (await client.post(base + "/ag-ui/runs/long/stop", headers=BOB)).status_code == 404
        stopped = await client.post(base + "/ag-ui/runs/long/stop", headers=ALICE)
        assert stopped.status_code == 200


async def test_an_eventsource_may_send_its_token_as_access_token() -> None:
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.get(
            base + "/ag-ui/default/stream", params={"message": "hi", "access_token": "bob-token"}
        )
    assert response.status_code == 200
    assert parse_frames(response.content)[-1][1]["type"] == "RUN_FINISHED"


async def test_a_thread_owner_hook_lets_a_team_share_threads() -> None:
    teams = {"alice": "team-a", "bob": "team-a", "carol": "team-c"}
    shared = app(thread_owner=lambda principal: teams.get(principal.id, principal.id))
    async with running_server(shared) as base, httpx.AsyncClient(timeout=10) as client:
        await collect_events(client, base + "/ag-ui", run_input("plan", run_id="r1", thread_id="team"), headers=ALICE)
        as_bob = await client.get(base + "/ag-ui/threads/team", headers=BOB)
        as_carol = await client.get(base + "/ag-ui/threads/team", headers={"authorization": "Bearer carol-token"})
    assert as_bob.status_code == 200
    assert "plan" in str(as_bob.json())
    assert as_carol.status_code == 404


async def test_the_agent_sees_its_principal() -> None:
    seen: list[Principal] = []

    async def agent(input: Any, ctx: Any) -> Any:
        seen.append(ctx.principal)
        yield "ok"

    config = AGUIConfig(auth=BearerTokens.parse(TOKENS), agent=agent)
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=10) as client:
        await collect_events(client, base + "/ag-ui", run_input("hi"), headers=OPS)
    assert seen == [Principal("ops", frozenset({"admin"}))]


async def test_without_auth_everyone_is_the_anonymous_admin() -> None:
    config = AGUIConfig(routes=[FeedRoute("/events", MessageEvents())])
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=10) as client:
        await collect_events(client, base + "/ag-ui", run_input("hi", thread_id="open"))
        assert (await client.get(base + "/ag-ui/threads/open")).status_code == 200
        async with client.stream("GET", base + "/events") as feed:
            assert feed.status_code == 200


def test_token_files_name_the_line_never_the_token() -> None:
    with pytest.raises(ValueError, match="line 2") as info:
        BearerTokens.parse("good alice\nsecret-token-value\n")
    assert "secret-token-value" not in str(info.value)
    with pytest.raises(ValueError, match="reserved"):
        BearerTokens.parse("t anonymous")


# -- ids ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("runId", "r\r\nSet-Cookie: x=1"),
        ("runId", "r\x00"),
        ("threadId", "t\nINFO forged log line"),
        ("runId", "x" * 257),
        ("threadId", ""),
    ],
)
async def test_ids_with_control_characters_or_too_long_are_422_naming_the_field(field: str, value: str) -> None:
    body = run_input("hi")
    body[field] = value
    async with running_server(create_app(AGUIConfig())) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.post(base + "/ag-ui", json=body)
        healthy = await client.post(base + "/ag-ui", json=run_input("hi", run_id="after"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert healthy.status_code == 200


async def test_a_unicode_run_id_gets_a_percent_encoded_content_location_that_resumes() -> None:
    async with running_server(create_app(AGUIConfig())) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.post(base + "/ag-ui", json=run_input("hi", run_id="运行-1 é"))
        location = response.headers["content-location"]
        again = await client.get(base + location, params={"after": 0})
    assert response.status_code == 200
    assert location == "/ag-ui/runs/%E8%BF%90%E8%A1%8C-1%20%C3%A9/events"
    assert parse_frames(again.content)[0][1]["runId"] == "运行-1 é"


async def test_ids_in_queries_and_bodies_outside_run_agent_input_are_checked_too() -> None:
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        sub = await client.get(base + "/agents/default/sse", params={"thread_id": "a\nb"}, headers=ALICE)
        msg = await client.post(
            base + "/agents/default/messages", json={"thread_id": "a\rb", "message": "x"}, headers=ALICE
        )
        chat = await client.get(
            base + "/api/chat/stream", params={"message": "x", "sessionId": "s" * 300}, headers=ALICE
        )
        connect = await client.post(base + "/ag-ui/connect", json={"threadId": "\x00"}, headers=ALICE)
    assert (sub.status_code, sub.json()["errors"][0]["field"]) == (422, "thread_id")
    assert msg.status_code == 422
    assert (chat.status_code, chat.json()["errors"][0]["field"]) == (422, "sessionId")
    assert connect.status_code == 422


async def test_a_cursor_ahead_of_a_thread_feed_is_400_not_a_hang() -> None:
    async with running_server(create_app(AGUIConfig())) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.get(base + "/agents/default/sse", params={"thread_id": "t", "after": 999})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_CURSOR"


async def test_the_request_log_escapes_the_path_and_names_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agui_server.http")
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        await client.get(base + "/ag-ui/threads/x%0AINFO%20forged", headers=ALICE)
    lines = [r.getMessage() for r in caplog.records if r.name == "agui_server.http"]
    assert any("/ag-ui/threads/x\\x0aINFO forged alice 404" in line for line in lines), lines
    assert all("\n" not in line for line in lines)
    assert all("alice-token" not in line for line in lines)


async def test_feeds_of_an_admin_resume_and_events_carry_ids() -> None:
    async with running_server(app()) as base, httpx.AsyncClient(timeout=10) as client:
        async with client.stream("GET", base + "/events", headers=OPS) as feed:
            await collect_events(client, base + "/ag-ui", run_input("one", run_id="f1", thread_id="f"), headers=ALICE)
            buffer = b""
            async with asyncio.timeout(10):
                async for chunk in feed.aiter_raw():
                    buffer += chunk
                    if b"event: complete" in buffer:
                        break
    blocks = sse_blocks(buffer)
    assert [data["run_id"] for event, _, data in blocks if event == "complete"] == ["f1"]


# -- limits -----------------------------------------------------------------------------------------------


async def test_a_greedy_principal_gets_429_for_streams_and_starts_and_others_do_not() -> None:
    config_app = app(max_streams_per_principal=2, max_run_starts_per_minute=5)
    async with running_server(config_app) as base, httpx.AsyncClient(timeout=10) as client:
        async with (
            client.stream("GET", base + "/agents/default/sse?thread_id=a", headers=ALICE) as first,
            client.stream("GET", base + "/agents/default/sse?thread_id=b", headers=ALICE) as second,
        ):
            assert (first.status_code, second.status_code) == (200, 200)
            third = await client.get(base + "/agents/default/sse?thread_id=c", headers=ALICE)
            run = await client.post(base + "/ag-ui", json=run_input("hi", run_id="s1"), headers=ALICE)
            bobs = await client.post(base + "/ag-ui", json=run_input("hi", run_id="s2"), headers=BOB)
        assert third.status_code == 429
        assert third.json()["code"] == "TOO_MANY_REQUESTS"
        assert int(third.headers["retry-after"]) >= 1
        assert run.status_code == 429
        assert bobs.status_code == 200
        # the streams are closed now: alice may stream again, until her run starts run out
        statuses = []
        for n in range(6):
            response = await client.post(
                base + "/ag-ui", json=run_input("hi", run_id=f"m{n}", thread_id=f"m{n}"), headers=ALICE
            )
            statuses.append(response.status_code)
        assert statuses == [200, 200, 200, 200, 200, 429]
        late = await client.post(base + "/ag-ui", json=run_input("hi", run_id="late", thread_id="late"), headers=ALICE)
        assert late.status_code == 429
        assert 1 <= int(late.headers["retry-after"]) <= 60


# -- cross-site ----------------------------------------------------------------------------------------------


CROSS_SITE = [
    ("POST", "/ag-ui", run_input("hi")),
    ("GET", "/ag-ui/default/stream?message=hi", None),
    ("POST", "/agents/default/messages", {"thread_id": "t", "message": "hi"}),
    ("GET", "/agents/default/sse?thread_id=t", None),
    ("POST", "/api/chat/stream", {"message": "hi"}),
]


@pytest.mark.parametrize(("method", "path", "body"), CROSS_SITE, ids=[f"{m} {p}" for m, p, _ in CROSS_SITE])
async def test_another_sites_page_is_refused_unless_its_origin_is_allowed(method: str, path: str, body: Any) -> None:
    config = AGUIConfig(
        routes=[RunRoute("/api/chat/stream", ChatEvents(), request=chat_request, methods=("GET", "POST"))],
        allowed_origins=["http://app.example"],
    )
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=10) as client:
        evil = {"sec-fetch-site": "cross-site", "origin": "http://evil.example"}
        img = {"sec-fetch-site": "cross-site"}  # an <img> or a navigation: no Origin at all
        allowed = {"sec-fetch-site": "cross-site", "origin": "http://app.example"}
        same = {"sec-fetch-site": "same-origin"}
        answers = {}
        for name, headers in (("evil", evil), ("img", img), ("allowed", allowed), ("same", same), ("curl", {})):
            if method == "GET" and "sse" in path:
                async with client.stream(method, base + path, headers=headers) as response:
                    answers[name] = response.status_code
            else:
                response = await client.request(method, base + path, json=body, headers=headers)
                answers[name] = response.status_code
                if name == "evil":
                    assert response.json()["code"] == "CROSS_SITE"
    assert answers["evil"] == answers["img"] == 403
    assert answers["allowed"] in (200, 202)
    assert answers["same"] in (200, 202)
    assert answers["curl"] in (200, 202)


async def test_a_post_without_a_content_type_is_415() -> None:
    async with running_server(create_app(AGUIConfig())) as base, httpx.AsyncClient(timeout=10) as client:
        raw = b'{"threadId":"t","runId":"r","messages":[]}'
        response = await client.post(base + "/ag-ui", content=raw, headers={"content-type": ""})
        text = await client.post(base + "/ag-ui", content=raw, headers={"content-type": "text/plain"})
    assert (response.status_code, response.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert text.status_code == 415


@pytest.mark.parametrize("policy", ["grace:nan", "grace:inf", "grace:-1", "grace:1e309", "grace:86401", "later"])
async def test_a_disconnect_policy_without_a_finite_bound_is_400(policy: str) -> None:
    async with running_server(create_app(AGUIConfig())) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.post(base + "/ag-ui", json=run_input("hi"), headers={"x-agui-on-disconnect": policy})
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_DISCONNECT_POLICY"


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"s": {"type": "string", "minLength": 10**9}}, "required": ["s"]},
        {"type": "object", "properties": {"a": {"type": "array", "minItems": 10**9}}, "required": ["a"]},
        {
            "type": "object",
            "properties": {
                "a": {
                    "type": "array",
                    "minItems": 10**6,
                    "items": {"type": "array", "minItems": 10**6, "items": {"type": "string", "minLength": 10**6}},
                }
            },
            "required": ["a"],
        },
    ],
)
async def test_the_offline_agent_answers_a_tool_schema_with_a_small_example(schema: dict[str, Any]) -> None:
    body = run_input("hi", tools=[{"name": "t", "description": "d", "parameters": schema}])
    async with running_server(create_app(AGUIConfig())) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.post(base + "/ag-ui", json=body)
    assert response.status_code == 200
    assert len(response.content) < 64 * 1024
    assert b"TOOL_CALL_END" in response.content
