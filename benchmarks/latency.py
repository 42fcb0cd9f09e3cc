"""Time to first event: sequential short runs, from writing the request to holding the first frame."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from benchmarks.client import Connection, connect
from benchmarks.stats import percentile
from benchmarks.stream import check
from benchmarks.workload import new_run_id, request_body

if TYPE_CHECKING:
    from benchmarks.server import Server

__all__ = ("time_to_first_event",)

_TIMEOUT: Final = 30.0
_MAX_OPEN: Final = 50
"""Responses read in the background at most, so that the row measures the first events of runs and not a
pile of unfinished responses."""


async def time_to_first_event(
    server: Server, host: str, *, tokens: int, runs: int, warmup: int, overlap: bool = False
) -> tuple[float, float]:
    """``(p50, p99)`` in seconds from writing the request to holding the first complete ``data:`` frame.

    The runs go one after the other on one keep-alive connection; with ``overlap``, each run gets a
    connection of its own (opened before the clock starts) and the next run starts as soon as this one's
    first frame is in, while the rest of its response is read in the background (for servers whose
    responses end long after their first frame; every response is still checked)."""
    if overlap:
        return await _overlapping(server, host, tokens=tokens, runs=runs, warmup=warmup)
    connection = await connect(host, server.port)
    try:
        samples = []
        for index in range(warmup + runs):
            response = await connection.run(request_body(new_run_id("ttfe"), tokens=tokens))
            check(response, tokens)
            if index >= warmup:
                samples.append(response.time_to_first_frame)
        return percentile(samples, 50), percentile(samples, 99)
    finally:
        connection.close()


async def _drain(connection: Connection, tokens: int) -> None:
    try:
        check(await asyncio.wait_for(connection.finish(), _TIMEOUT), tokens)
    finally:
        connection.close()


async def _overlapping(server: Server, host: str, *, tokens: int, runs: int, warmup: int) -> tuple[float, float]:
    samples = []
    drains: list[asyncio.Task[None]] = []
    try:
        for index in range(warmup + runs):
            if len(drains) >= _MAX_OPEN:
                await drains[len(drains) - _MAX_OPEN]
            connection = await connect(host, server.port)
            try:
                response = await asyncio.wait_for(
                    connection.open_stream(request_body(new_run_id("ttfe"), tokens=tokens)), _TIMEOUT
                )
            except BaseException:
                connection.close()
                raise
            drains.append(asyncio.ensure_future(_drain(connection, tokens)))
            if index >= warmup:
                samples.append(response.time_to_first_frame)
        await asyncio.gather(*drains)
    finally:
        for task in drains:
            task.cancel()
    return percentile(samples, 50), percentile(samples, 99)
