"""Redis clients with the backend's settings, chosen from the URL.

* ``redis://[user:password@]host:port/0``: one Redis (or Valkey) server;
* ``rediss://...``: the same over TLS;
* ``redis+cluster://[user:password@]host:port`` (``rediss+cluster://`` with TLS): a Redis Cluster (or Valkey
  cluster), found from that one node; the client follows the cluster's slots and its ``MOVED`` answers.

User and password are Redis ACL credentials (``AUTH user password``), percent-encoded in the URL. The query
string takes redis-py's connection options (``?ssl_cert_reqs=none``, ``?ssl_ca_certs=/path``). Every key of
one prefix lies in one hash slot (keys.py), so a cluster runs every script and transaction on one node.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any, Final

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster

__all__ = ("CLUSTER_SCHEMES", "is_cluster_url", "redis_client", "sync_redis_client")

CLUSTER_SCHEMES: Final = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
"""URL schemes that mean a Redis Cluster, and the plain scheme redis-py reads after them."""
_CLUSTER_REDIS_PY: Final = (8, 0)
"""The first redis-py whose asyncio cluster client has pub/sub (the workers' cancel channel)."""
_CONNECT_TIMEOUT: Final = 2.0
_HEALTH_CHECK: Final = 15


def _split(url: str) -> tuple[str, bool]:
    """``url`` as redis-py reads it, and whether it names a cluster."""
    scheme, sep, rest = url.partition("://")
    plain = CLUSTER_SCHEMES.get(scheme.lower())
    if not sep or plain is None:
        return url, False
    return f"{plain}://{rest}", True


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://`` or ``rediss+cluster://``)."""
    return _split(url)[1]


def _check_cluster_support() -> None:
    installed = tuple(int(part) for part in version("redis").split(".")[:2] if part.isdigit())
    if installed < _CLUSTER_REDIS_PY:
        wanted = ".".join(map(str, _CLUSTER_REDIS_PY))
        raise ValueError(
            f"a Redis Cluster URL needs redis-py {wanted} or later (asyncio cluster pub/sub); "
            f"redis {version('redis')} is installed: pip install 'redis>={wanted}'"
        )


def redis_client(url: str, *, name: str, max_connections: int = 1_000, socket_timeout: float = 5.0) -> Any:
    """A client on ``url`` whose connections are named ``name`` (``CLIENT LIST`` shows them).

    Commands in flight at once take one connection each, up to ``max_connections`` (per node on a cluster;
    redis-py's default of 100 made the 101st concurrent command fail); each command gives up after
    ``socket_timeout`` seconds. (A pool that makes commands wait for a free connection instead costs about
    0.15 ms per run.) redis-py types replies as ``bytes | str``, so the client is ``Any`` here.
    """
    target, cluster = _split(url)
    if cluster:
        _check_cluster_support()
        return RedisCluster.from_url(
            target,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            health_check_interval=_HEALTH_CHECK,
            client_name=name,
        )
    pool = ConnectionPool.from_url(
        target,
        max_connections=max_connections,
        socket_timeout=socket_timeout,
        socket_connect_timeout=_CONNECT_TIMEOUT,
        health_check_interval=_HEALTH_CHECK,
        retry_on_timeout=False,
        client_name=name,
    )
    return Redis.from_pool(pool)  # the client owns the pool: closing it closes the connections


def sync_redis_client(url: str, *, socket_timeout: float = 5.0) -> Any:
    """A blocking client on ``url`` (the same URL forms), for code that is not async."""
    import redis  # (only publish_event and the tests use it)
    import redis.cluster

    target, cluster = _split(url)
    if cluster:
        return redis.cluster.RedisCluster.from_url(target, socket_timeout=socket_timeout)
    return redis.Redis.from_url(target, socket_timeout=socket_timeout)
