"""Caps on runs in progress: per principal (429) and for the whole deployment (503), in memory and over Redis."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from agui_server import AGUIConfig, RedisBackend, create_app
from agui_server.http.auth import BearerTokens
from tests.support.cluster import Cluster
from tests.support.server import running_server

TOKENS = BearerTokens.parse("alice-token alice\nbob-token bob")
ALICE = {"authorization": "Bearer alice-token"}
BOB = {"authorization": "Bearer bob-token"}


async def slow(input: Any, ctx: Any) -> Any:
    yield "working "
    await asyncio.sleep(float(input.forwarded_props.get("seconds", 1.5)) if input.forwarded_props else 1.5)
    yield "done"


@pytest.fixture(
    params=["memory", pytest.param("redis", marks=pytest.mark.redis), pytest.param("cluster", marks=pytest.mark.redis)]
)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """In memory, over one redis-server, and over a 3-primary Redis Cluster (the owner's runs index is a key
    the scripts find in the run's status: it must share the run's slot)."""
    if request.param == "memory":
        yield {}
        return
    cluster = Cluster(tmp_path, request.param)
    cluster.start_redis()
    try:
        yield {"backend": RedisBackend(cluster.redis_url, prefix=f"caps-{uuid.uuid4().hex[:8]}", worker_slots=8)}
    finally:
        cluster.stop()


async def post(client: httpx.AsyncClient, base: str, thread: str, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        base + "/agents/default/messages", json={"thread_id": thread, "message": "hi"}, headers=headers
    )


async def test_a_principal_past_its_runs_in_progress_gets_429_and_another_does_not(backend: dict[str, Any]) -> None:
    app = create_app(AGUIConfig(agent=slow, auth=TOKENS, max_runs_per_principal=2, **backend))
    async with running_server(app) as base, httpx.AsyncClient(timeout=20) as client:
        assert (await post(client, base, "a1", ALICE)).status_code == 202
        assert (await post(client, base, "a2", ALICE)).status_code == 202
        third = await post(client, base, "a3", ALICE)
        bobs = await post(client, base, "b1", BOB)
        assert third.status_code == 429
        assert third.json()["code"] == "TOO_MANY_REQUESTS"
        assert "retry-after" in third.headers
        assert bobs.status_code == 202
        # once alice's runs are over she may start again
        deadline = asyncio.get_running_loop().time() + 15
        while (await post(client, base, "a4", ALICE)).status_code == 429:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)


async def test_the_deployment_past_max_runs_answers_503_server_busy(backend: dict[str, Any]) -> None:
    app = create_app(AGUIConfig(agent=slow, max_runs=2, **backend))
    async with running_server(app) as base, httpx.AsyncClient(timeout=20) as client:
        assert (await post(client, base, "s1", {})).status_code == 202
        assert (await post(client, base, "s2", {})).status_code == 202
        busy = await post(client, base, "s3", {})
        assert busy.status_code == 503
        assert busy.json()["code"] == "SERVER_BUSY"
        assert busy.headers["retry-after"] == "5"
        deadline = asyncio.get_running_loop().time() + 15
        while (await post(client, base, "s4", {})).status_code == 503:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
