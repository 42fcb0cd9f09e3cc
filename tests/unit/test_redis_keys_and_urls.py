"""The Redis backend's key names (one hash slot per prefix) and the client its URL chooses, without a server."""

from __future__ import annotations

import inspect

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import SSLConnection
from redis.crc import key_slot

from agui_server.runs.redis.client import is_cluster_url, redis_client
from agui_server.runs.redis.keys import Keys

SAMPLE = "id{with}braces"
"""An id with braces of its own: the key's hash tag is still its prefix's (the first ``{...}``)."""


def every_key(keys: Keys) -> list[str]:
    """Every key name ``keys`` makes: each property, and each method called with ``SAMPLE`` for every id it
    takes (a script's keys among them: ``appended`` holds the server's wide feed too)."""
    names: list[str] = []
    for name, member in vars(Keys).items():
        if name.startswith("_"):
            continue
        if isinstance(member, property):
            names.append(getattr(keys, name))
        elif inspect.isfunction(member):
            ids = [SAMPLE] * (len(inspect.signature(member).parameters) - 1)
            made = getattr(keys, name)(*ids)
            names.extend(made if isinstance(made, list) else [made])  # of_thread, appended …: lists of keys
    return names


@pytest.mark.parametrize("prefix", ["agui", "tenant-7", "a{b", "x:y"])
def test_every_key_of_a_prefix_lies_in_one_hash_slot_whatever_the_ids(prefix: str) -> None:
    keys = Keys(prefix)
    names = every_key(keys)
    assert len(names) > 20
    assert {key_slot(name.encode()) for name in names} == {key_slot(b"{" + prefix.encode() + b"}")}
    assert all(name.startswith("{" + prefix + "}:") for name in names)
    assert keys.wide_feed(None) != keys.wide_feed("default") != keys.wide_feed_watched("default")


def test_a_prefix_with_a_hash_tag_of_its_own_is_used_as_it_is() -> None:
    keys = Keys("myapp:{agui}")
    assert keys.queue == "myapp:{agui}:queue"
    assert {key_slot(name.encode()) for name in every_key(keys)} == {key_slot(b"agui")}
    assert Keys("x{}").queue == "{x{}}:queue"  # an empty {} is no hash tag: braces go around it


def test_prefixes_spread_over_the_slots_of_three_shards() -> None:
    thirds = {key_slot(Keys(f"tenant-{n}").queue.encode()) * 3 // 16384 for n in range(12)}
    assert thirds == {0, 1, 2}


async def test_the_url_chooses_the_client() -> None:
    plain = redis_client("redis://alice:s%40cret@127.0.0.1:6390/2", name="t")
    tls = redis_client("rediss://127.0.0.1:6390/0?ssl_cert_reqs=none", name="t")
    cluster = redis_client("redis+cluster://bob:pw@127.0.0.1:7000", name="t", max_connections=7)
    cluster_tls = redis_client("rediss+cluster://127.0.0.1:7000", name="t")
    try:
        assert isinstance(plain, Redis)
        options = plain.connection_pool.connection_kwargs
        assert (options["username"], options["password"], options["db"]) == ("alice", "s@cret", 2)
        assert options["client_name"] == "t"
        assert tls.connection_pool.connection_class is SSLConnection
        assert isinstance(cluster, RedisCluster)
        assert (cluster.connection_kwargs["username"], cluster.connection_kwargs["password"]) == ("bob", "pw")
        (node,) = cluster.nodes_manager.startup_nodes.values()  # the rest of the cluster is found from it
        assert (node.host, node.port, node.max_connections) == ("127.0.0.1", 7000, 7)
        assert node.connection_kwargs["client_name"] == "t"
        assert cluster.connection_kwargs["connection_class"] is not SSLConnection
        assert cluster_tls.connection_kwargs["connection_class"] is SSLConnection
    finally:
        for client in (plain, tls, cluster, cluster_tls):
            await client.aclose()
    assert is_cluster_url("REDIS+CLUSTER://h:1")
    assert not is_cluster_url("redis://h:1/0")
