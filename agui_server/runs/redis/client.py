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

import asyncio
import contextlib
import functools
from importlib.metadata import version
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar

from hiredis import pack_command
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import ClusterPipeline, ClusterPubSub, RedisCluster
from redis.exceptions import (
    ConnectionError,
    CrossSlotTransactionError,
    InvalidPipelineStack,
    RedisClusterException,
    ResponseError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

__all__ = (
    "CLUSTER_SCHEMES",
    "ClusterUnavailable",
    "is_cluster_url",
    "redis_client",
    "send_together",
    "sync_redis_client",
)

CLUSTER_SCHEMES: Final = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
"""URL schemes that mean a Redis Cluster, and the plain scheme redis-py reads after them."""
_CLUSTER_REDIS_PY: Final = (8, 0)
"""The first redis-py whose asyncio cluster client has pub/sub (the workers' cancel channel)."""
_CONNECT_TIMEOUT: Final = 2.0
_HEALTH_CHECK: Final = 15
LEAN_CONNECTIONS: Final = 64
"""Connections at most (and at most half of ``max_connections``) that a one-server client keeps for the short
command path (:class:`_LeanRedis`); commands in flight past them go through redis-py's pool."""


_T = TypeVar("_T")
_P = ParamSpec("_P")


class ClusterUnavailable(ConnectionError):
    """No node of the Redis Cluster could serve the command (no node answered, a refused login, slots not
    served). redis-py raises ``RedisClusterException`` then, which is no ``RedisError``; the cluster client
    here raises this ``ConnectionError`` instead, so that the backend meets a cluster that is away as it meets
    a lone server that is away (``BACKEND_UNAVAILABLE``, the worker's retries, a follower's ``RUN_ERROR``)."""


def _unavailable_on_cluster_errors(
    method: Callable[_P, Coroutine[Any, Any, _T]],
) -> Callable[_P, Coroutine[Any, Any, _T]]:
    @functools.wraps(method)
    async def call(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(*args, **kwargs)
        except (CrossSlotTransactionError, InvalidPipelineStack):
            raise  # (the caller's mistake, not the cluster's state)
        except RedisClusterException as exc:
            raise ClusterUnavailable(str(exc)) from exc

    return call


class _ClusterPipeline(ClusterPipeline):
    execute = _unavailable_on_cluster_errors(ClusterPipeline.execute)
    watch = _unavailable_on_cluster_errors(ClusterPipeline.watch)


class _ClusterPubSub(ClusterPubSub):
    execute_command = _unavailable_on_cluster_errors(ClusterPubSub.execute_command)


class _RedisCluster(RedisCluster):
    """redis-py's asyncio cluster client whose failures are all ``RedisError`` (``ClusterUnavailable``)."""

    execute_command = _unavailable_on_cluster_errors(RedisCluster.execute_command)

    def pipeline(self, transaction: Any | None = None, shard_hint: Any | None = None) -> ClusterPipeline:
        if shard_hint:
            raise RedisClusterException("shard_hint is deprecated in cluster mode")
        return _ClusterPipeline(self, transaction)  # type: ignore[abstract]  # (as redis-py's own pipeline())

    def pubsub(self, node: Any = None, host: str | None = None, port: int | None = None, **kwargs: Any) -> Any:
        return _ClusterPubSub(self, node=node, host=host, port=port, **kwargs)


class _LeanRedis(Redis):
    """redis-py's asyncio client on one server, with a shorter path for a command.

    redis-py takes a connection from its pool under a lock, checks it for unread data, wraps the command in
    its retry and observability machinery and gives the connection back under the lock again: about 35 µs
    of Python per command, more than the round trip to a Redis on loopback (``benchmarks/README.md``, issue
    15). Here a command takes a connection from a plain list of idle ones (up to ``lean`` of them, made with
    the pool's own settings: address, TLS, ACL login, timeouts, client name, health checks) and puts it
    back once its whole reply is read; what redis-py's path does for a command (packing, the reply's
    parsing and its callbacks) is the same. A connection whose command failed in any other way (the
    server went away, a timeout, a cancellation mid-reply) is dropped, never reused; when it failed for a
    closed or broken connection the command goes once more through redis-py's own path, which reconnects
    and retries as it always does. Past ``lean`` commands in flight, redis-py's pool takes the rest.

    A command is also sent more directly (:func:`_send`): packed by hiredis in one call and written to the
    connection's stream, where redis-py encodes each argument in Python and wraps the write in a task with a
    timeout (``asyncio.wait_for``) even when the socket takes the bytes at once (about 15 µs a command).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle: list[Any] = []
        self._lean_left = 0
        """Lean connections that may still be made (the cap less those made and not dropped)."""

    @classmethod
    def lean_from_pool(cls, pool: ConnectionPool, lean: int) -> _LeanRedis:
        """A client that owns ``pool`` and keeps up to ``lean`` connections of its own."""
        client = cls.from_pool(pool)
        assert isinstance(client, _LeanRedis)
        client._lean_left = lean
        return client

    def _take(self) -> Any | None:
        """An idle lean connection, or a new one while the cap allows (``None`` past it)."""
        if self._idle:
            return self._idle.pop()
        if self._lean_left > 0:
            self._lean_left -= 1
            return self.connection_pool.make_connection()  # type: ignore[no-untyped-call]
        return None

    async def _drop(self, conn: Any) -> None:
        """Close ``conn`` for good (its command failed part-way); a new one may take its place."""
        self._lean_left += 1
        with contextlib.suppress(Exception):
            await conn.disconnect(nowait=True)

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        conn = self._take()
        if conn is None:
            return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        try:
            await _send(conn, args)
            result = await self.parse_response(conn, args[0], **options)
        except ResponseError:  # (the whole reply was read: the connection is fine)
            self._idle.append(conn)
            raise
        except BaseException as exc:
            await self._drop(conn)
            if isinstance(exc, ConnectionError):
                return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            raise
        self._idle.append(conn)
        return result

    async def execute_together(self, commands: Sequence[tuple[Any, ...]]) -> list[Any] | None:
        """``commands`` written to one lean connection at once and their replies read in order (an error reply
        in its place as a ``ResponseError``); ``None`` when no lean connection is free or the connection failed
        (closed or broken: some of the commands may have run)."""
        conn = self._take()
        if conn is None:
            return None
        replies: list[Any] = []
        try:
            packed = b"".join(pack_command(args) for args in commands)
            writer = _open_writer(conn)
            if writer is None:
                await conn.send_packed_command(packed)  # (connects and checks health when due, bounded)
            else:
                writer.write(packed)
                await _drained(conn, writer)
            for args in commands:
                try:
                    replies.append(await self.parse_response(conn, args[0]))
                except ResponseError as exc:
                    replies.append(exc)
        except BaseException as exc:
            await self._drop(conn)
            if isinstance(exc, ConnectionError):
                return None
            raise
        self._idle.append(conn)
        return replies

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        idle, self._idle = self._idle, []
        self._lean_left = 0
        for conn in idle:
            with contextlib.suppress(Exception):
                await conn.disconnect()
        await super().aclose(close_connection_pool)


async def _send(conn: Any, args: tuple[Any, ...]) -> None:
    """Send a command on a lean connection. The bytes go straight to the connection's stream when it is open,
    needs no health check now, and every argument is one hiredis packs as redis-py would (``bytes``, ``str``,
    ``int``, ``float``, and a command name without a space); otherwise, or when its buffer is not empty once
    written (the socket is slow to take it), redis-py's own path: it connects, checks the connection's
    health, packs anything else the way it always does (a ``DataError`` for a ``bool``), and bounds the wait
    for the socket by the connection's timeout."""
    writer = _open_writer(conn)
    if writer is None or not isinstance(args[0], str) or " " in args[0]:
        await conn.send_command(*args)
        return
    try:
        packed = pack_command(args)
    except TypeError:  # (a bool, a memoryview, something redis-py turns away or packs its own way)
        await conn.send_command(*args)
        return
    writer.write(packed)
    await _drained(conn, writer)


def _open_writer(conn: Any) -> asyncio.StreamWriter | None:
    """The stream of ``conn`` when bytes may go straight to it: it is open and needs no health check now."""
    writer: asyncio.StreamWriter | None = conn._writer
    if (
        writer is None
        or writer.transport.is_closing()
        or (conn.health_check_interval and asyncio.get_running_loop().time() > conn.next_health_check)
    ):
        return None
    return writer


async def _drained(conn: Any, writer: asyncio.StreamWriter) -> None:
    """Once the socket took what was written to ``writer`` (at once, as a rule), bounded by the connection's
    timeout."""
    if writer.transport.get_write_buffer_size():
        try:
            await asyncio.wait_for(writer.drain(), conn.socket_timeout)
        except TimeoutError:
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            raise ConnectionError(f"Error while writing to socket: {exc}") from exc


async def send_together(redis: Any, commands: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The replies of ``commands``, in order, each error reply in its place as a ``ResponseError``.

    On one server they are written at once on one connection (one round trip; Redis runs them in order, a
    command after a blocking one once that one returns: the worker's read of the queue and the claim of what
    it read, ``worker.py``); on a cluster, or with no lean connection free, one after another through the
    client's own path, as also when the connection failed on the way (so the commands must be safe to send
    twice). Commands are plain Redis commands of ``str``, ``bytes`` and numbers."""
    if isinstance(redis, _LeanRedis):
        replies = await redis.execute_together(commands)
        if replies is not None:
            return replies
    replies = []
    for args in commands:
        try:
            replies.append(await redis.execute_command(*args))
        except ResponseError as exc:
            replies.append(exc)
    return replies


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
    0.15 ms per run.) On one server, up to ``LEAN_CONNECTIONS`` of them (at most half) serve commands
    through a shorter path than redis-py's pool (:class:`_LeanRedis`). redis-py types replies as
    ``bytes | str``, so the client is ``Any`` here.
    """
    target, cluster = _split(url)
    if cluster:
        _check_cluster_support()
        return _RedisCluster.from_url(
            target,
            max_connections=max_connections,
            socket_timeout=socket_timeout,
            socket_connect_timeout=_CONNECT_TIMEOUT,
            health_check_interval=_HEALTH_CHECK,
            client_name=name,
        )
    lean = min(LEAN_CONNECTIONS, max_connections // 2)
    pool = ConnectionPool.from_url(
        target,
        max_connections=max_connections - lean,
        socket_timeout=socket_timeout,
        socket_connect_timeout=_CONNECT_TIMEOUT,
        health_check_interval=_HEALTH_CHECK,
        retry_on_timeout=False,
        client_name=name,
    )
    return _LeanRedis.lean_from_pool(pool, lean)  # the client owns the pool: closing it closes the connections


def sync_redis_client(url: str, *, socket_timeout: float = 5.0) -> Any:
    """A blocking client on ``url`` (the same URL forms), for code that is not async."""
    import redis  # (only publish_event and the tests use it)
    import redis.cluster

    target, cluster = _split(url)
    if cluster:
        return redis.cluster.RedisCluster.from_url(target, socket_timeout=socket_timeout)
    return redis.Redis.from_url(target, socket_timeout=socket_timeout)
