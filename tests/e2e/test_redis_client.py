"""The Redis client's short command path (``_LeanRedis``) against a real redis-server: a connection is reused
only after its whole reply was read, a broken one is replaced without the caller seeing it, and the
connections in use never pass ``max_connections``."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
import redis
from redis.exceptions import ConnectionError, ResponseError

from agui_server.runs.redis.client import redis_client
from tests.support.cluster import redis_alone

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_alone(tmp_path_factory.mktemp("redis-client")) as url:
        yield url


def named(url: str, name: str) -> list[dict[str, Any]]:
    """The server's connections named ``name`` (``CLIENT LIST``)."""
    with redis.Redis.from_url(url) as admin:
        return [c for c in admin.client_list() if c.get("name") == name]


async def test_commands_reuse_one_connection_of_the_short_path(redis_url: str) -> None:
    client = redis_client(redis_url, name="lean-reuse")
    try:
        for n in range(50):
            await client.set("lean:k", n)
            assert await client.get("lean:k") == str(n).encode()
        assert await client.hgetall("lean:missing") == {}  # redis-py's reply callbacks still apply
        (connection,) = named(redis_url, "lean-reuse")
        assert int(connection["id"]) > 0
    finally:
        await client.aclose()
    assert named(redis_url, "lean-reuse") == []


async def test_a_command_cancelled_before_its_reply_does_not_hand_that_reply_to_the_next(redis_url: str) -> None:
    client = redis_client(redis_url, name="lean-cancel")
    try:
        await client.delete("lean:list")
        await client.set("lean:value", "expected")
        waiting = asyncio.ensure_future(client.blpop(["lean:list"], timeout=3))
        await asyncio.sleep(0.2)  # BLPOP is on the wire and blocked in the server
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await client.rpush("lean:list", "late")  # a reply the cancelled command's connection could still get
        for _ in range(20):
            assert await client.get("lean:value") == b"expected"
    finally:
        await client.aclose()


async def test_an_error_reply_leaves_the_connection_usable(redis_url: str) -> None:
    client = redis_client(redis_url, name="lean-error")
    try:
        await client.set("lean:string", "x")
        with pytest.raises(ResponseError):
            await client.lpush("lean:string", "y")  # WRONGTYPE
        assert await client.get("lean:string") == b"x"
        script = client.register_script("return ARGV[1]")
        assert await script(args=["a"]) == b"a"
        await client.script_flush()
        assert await script(args=["b"]) == b"b"  # NOSCRIPT: loaded again, as with redis-py's own path
        assert len(named(redis_url, "lean-error")) == 1
    finally:
        await client.aclose()


async def test_a_connection_the_server_closed_is_replaced_without_an_error(redis_url: str) -> None:
    client = redis_client(redis_url, name="lean-killed")
    try:
        await client.set("lean:survives", "yes")
        killed = named(redis_url, "lean-killed")
        assert len(killed) == 1
        with redis.Redis.from_url(redis_url) as admin:
            admin.client_kill_filter(_id=killed[0]["id"])
        assert named(redis_url, "lean-killed") == []
        for _ in range(5):
            assert await client.get("lean:survives") == b"yes"
    finally:
        await client.aclose()


async def test_commands_in_flight_never_take_more_than_max_connections(redis_url: str) -> None:
    client = redis_client(redis_url, name="lean-cap", max_connections=4)  # 2 short-path + 2 in redis-py's pool
    try:
        await client.delete(*(f"lean:cap:{n}" for n in range(5)))
        blocked = [asyncio.ensure_future(client.blpop([f"lean:cap:{n}"], timeout=2)) for n in range(4)]
        await asyncio.sleep(0.3)
        assert len(named(redis_url, "lean-cap")) == 4
        with pytest.raises(ConnectionError, match="Too many connections"):
            await client.get("lean:cap:x")  # a fifth command in flight
        with redis.Redis.from_url(redis_url) as admin:
            for n in range(4):
                admin.rpush(f"lean:cap:{n}", n)
        results = await asyncio.gather(*blocked)
        assert sorted(results) == [(f"lean:cap:{n}".encode(), str(n).encode()) for n in range(4)]
        assert await client.get("lean:cap:missing") is None  # free again
        assert len(named(redis_url, "lean-cap")) <= 4
    finally:
        await client.aclose()


async def test_arguments_reach_the_server_as_redis_py_sends_them(redis_url: str) -> None:
    """The short path packs with hiredis in one call: every kind of argument is stored as redis-py's own path
    stores it, what redis-py turns away is still turned away, and a value larger than the socket takes at once
    is written whole."""
    client = redis_client(redis_url, name="lean-pack")
    values: list[Any] = [b"\x00bytes\xff", "naïve ☃", 0, -17, 2**62, 0.1, 1 / 3, 1e20, -2.5e-300]
    big = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than a loopback socket takes in one write
    try:
        with redis.Redis.from_url(redis_url) as plain:
            for n, value in enumerate(values):
                await client.set(f"lean:pack:{n}", value)
                plain.set(f"plain:pack:{n}", value)
                assert await client.get(f"lean:pack:{n}") == plain.get(f"plain:pack:{n}"), value
            await client.set("lean:pack:big", big)
            assert plain.get("lean:pack:big") == big
            await client.set("lean:pack:view", memoryview(b"viewed"))
            assert plain.get("lean:pack:view") == b"viewed"
        with pytest.raises(redis.DataError):
            await client.set("lean:pack:bool", True)  # type: ignore[arg-type]
        assert await client.execute_command("CONFIG GET", "maxmemory") == {"maxmemory": "0"}  # a two-word name
        assert await client.get("lean:pack:0") == b"\x00bytes\xff"  # the connection still serves
        assert len(named(redis_url, "lean-pack")) == 1
    finally:
        await client.aclose()
