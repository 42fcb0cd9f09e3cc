"""Single-stream throughput: events/s of one long reply, read raw off one connection."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

import psutil

from benchmarks.client import Response, connect
from benchmarks.cpu import Others, process_seconds
from benchmarks.workload import expected_events, new_run_id, request_body

if TYPE_CHECKING:
    from collections.abc import Collection

    from benchmarks.server import Server

__all__ = ("StreamRun", "check", "events_per_second")


@dataclass(frozen=True, slots=True)
class StreamRun:
    events_per_s: float
    server_cpu_pct: float
    client_cpu_pct: float
    other_cpu_pct: float
    server_cpu_pct_by_role: dict[str, float]


def check(response: Response, tokens: int) -> None:
    """Raise unless ``response`` is a 200 carrying every event of a ``tokens`` run."""
    want = expected_events(tokens)
    if response.status != 200 or response.frames != want:
        raise RuntimeError(f"expected 200 with {want} events, got {response.status} with {response.frames}")


async def events_per_second(
    server: Server,
    host: str,
    *,
    tokens: int,
    runs: int,
    min_seconds: float,
    max_runs: int = 100,
    cores: Collection[int | None] = (),
) -> tuple[list[float], StreamRun]:
    """Runs of ``tokens`` tokens on one keep-alive connection, after one warm-up run: at least ``runs`` of them
    and at least ``min_seconds`` of streaming (at most ``max_runs``). Returns each run's events/s, and the
    median with both sides' CPU % over all the runs (CPU time is counted in clock ticks: short runs need many).
    """
    me = psutil.Process()
    connection = await connect(host, server.port)
    try:
        check(await connection.run(request_body(new_run_id("warm-stream"), tokens=tokens)), tokens)
        rates: list[float] = []
        wall = 0.0
        roles = server.cpu_by_role()
        server_cpu, client_cpu = server.cpu_seconds(), process_seconds(me)
        others = Others(server.pids, cores=cores)
        while len(rates) < runs or (wall < min_seconds and len(rates) < max_runs):
            response = await connection.run(request_body(new_run_id("stream"), tokens=tokens))
            check(response, tokens)
            wall += response.elapsed
            rates.append(response.frames / response.elapsed)
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, process_seconds(me) - client_cpu
        by_role = {role: 100 * (seconds - roles[role]) / wall for role, seconds in server.cpu_by_role().items()}
        other_cpu = others.seconds(server_cpu + client_cpu)
        median = statistics.median(rates)
        return rates, StreamRun(
            median, 100 * server_cpu / wall, 100 * client_cpu / wall, 100 * other_cpu / wall, by_role
        )
    finally:
        connection.close()
