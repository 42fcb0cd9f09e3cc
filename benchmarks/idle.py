"""Idle held streams: the server's RSS growth per stream while many streams wait after RUN_STARTED, and the
CPU the server spends on them (its keepalives) while they wait."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Final

from benchmarks.client import Connection, connect
from benchmarks.results import IdleRow
from benchmarks.workload import new_run_id, request_body

if TYPE_CHECKING:
    from benchmarks.server import Server

__all__ = ("idle_streams",)

_OPEN_BATCH: Final = 100
"""Streams opened at once: keeps the listen backlog and the server's accept loop out of the picture."""
_SETTLE: Final = 0.5
_WARMUP_STREAMS: Final = 20


async def _open(host: str, port: int) -> Connection:
    connection = await connect(host, port)
    try:
        response = await asyncio.wait_for(connection.open_stream(request_body(new_run_id("idle"), idle=True)), 30)
    except BaseException:
        connection.close()
        raise
    if response.status != 200 or response.frames < 1:
        connection.close()
        raise RuntimeError(f"idle stream answered {response.status} with {response.frames} frames")
    return connection


async def _open_many(host: str, port: int, count: int) -> list[Connection]:
    connections: list[Connection] = []
    try:
        for start in range(0, count, _OPEN_BATCH):
            batch = min(_OPEN_BATCH, count - start)
            connections += await asyncio.gather(*(_open(host, port) for _ in range(batch)))
    except BaseException:
        _close_all(connections)
        raise
    return connections


def _close_all(connections: list[Connection]) -> None:
    for connection in connections:
        with contextlib.suppress(Exception):
            connection.close()


async def idle_streams(server: Server, host: str, *, streams: int, window: float) -> IdleRow:
    """Hold ``streams`` idle streams: KiB of server RSS per stream (against the RSS just before opening them),
    then the server's CPU over ``window`` seconds while they wait (keepalives only: nothing else happens)."""
    _close_all(await _open_many(host, server.port, _WARMUP_STREAMS))
    await asyncio.sleep(_SETTLE)
    before = server.rss()
    connections = await _open_many(host, server.port, streams)
    try:
        await asyncio.sleep(_SETTLE)
        after = server.rss()
        cpu = server.cpu_seconds()
        started = time.monotonic()
        await asyncio.sleep(window)
        cpu_pct = (server.cpu_seconds() - cpu) / (time.monotonic() - started) * 100
        alive = sum(not connection.closed for connection in connections)
    finally:
        _close_all(connections)
    await asyncio.sleep(_SETTLE)
    return IdleRow(streams=streams, kib_per_stream=(after - before) / streams / 1024, cpu_pct=cpu_pct, alive=alive)
