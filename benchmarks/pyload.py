"""A Python load generator, for machines without wrk (``--load-tool python``; ``--quick`` falls back to it).

Each client is one keep-alive connection running short runs back to back until the time is up, checking
that every response carries all its events. It runs in the benchmark process, on the load core.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import psutil

from benchmarks.client import Connection, connect
from benchmarks.cpu import process_seconds
from benchmarks.results import LoadRun
from benchmarks.stats import percentile
from benchmarks.workload import expected_events, new_run_id, request_body

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("run_pyload",)


async def run_pyload(host: str, ports: Sequence[int], *, clients: int, duration: float, tokens: int) -> LoadRun:
    """``clients`` connections running ``tokens``-token runs for ``duration`` seconds, spread over ``ports``
    in turn (several web processes of one server)."""
    connections = await asyncio.gather(*(connect(host, ports[i % len(ports)]) for i in range(clients)))
    latencies: list[float] = []
    errors = 0
    want = expected_events(tokens)

    async def client(connection: Connection, deadline: float) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            response = await connection.run(request_body(new_run_id("load"), tokens=tokens))
            latencies.append(response.elapsed)
            if response.status != 200 or response.frames != want:
                errors += 1

    me = psutil.Process()
    cpu_before = process_seconds(me)
    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(c, started + duration) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    wall = time.perf_counter() - started
    cpu = process_seconds(me) - cpu_before
    if not latencies:
        raise RuntimeError("no run finished")
    return LoadRun(len(latencies), errors, len(latencies) / wall, percentile(latencies, 99), cpu, wall)
