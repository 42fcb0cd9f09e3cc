"""The concurrent rows: runs/s and p99 latency at N clients, with both sides' CPU %."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.cpu import Others
from benchmarks.pyload import run_pyload
from benchmarks.results import LoadRow
from benchmarks.workload import PATH, new_run_id
from benchmarks.wrk import run_wrk, write_script

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.server import Server

__all__ = ("LoadTool", "measure_load")


@dataclass(frozen=True, slots=True)
class LoadTool:
    """``wrk`` (a path to it) or ``None`` for the Python load generator; the cores of the load and server."""

    wrk: str | None
    core: int | None
    work_dir: Path
    server_core: int | None = None

    @property
    def name(self) -> str:
        return "wrk" if self.wrk else "python"


async def measure_load(
    server: Server, host: str, tool: LoadTool, *, clients: int, duration: float, tokens: int
) -> LoadRow:
    """One concurrent row; the server's CPU % is its CPU time over the row's wall time."""
    server_cpu, others = server.cpu_seconds(), Others([server.pid], cores=(tool.server_core, tool.core))
    started = time.perf_counter()
    if tool.wrk is not None:
        script = write_script(tool.work_dir, tokens=tokens, prefix=new_run_id(f"wrk-{server.name}"), path=PATH)
        result = run_wrk(
            tool.wrk, f"http://{host}:{server.port}{PATH}", script, clients=clients, duration=duration, core=tool.core
        )
        requests, errors, rate, p99, load_cpu = (
            result.requests, result.errors, result.runs_per_s, result.p99_s, result.cpu_seconds
        )  # fmt: skip
    else:
        py = await run_pyload(host, server.port, clients=clients, duration=duration, tokens=tokens)
        requests, errors, rate, p99, load_cpu = py.requests, py.errors, py.runs_per_s, py.p99_s, py.cpu_seconds
    wall = time.perf_counter() - started
    server_cpu = server.cpu_seconds() - server_cpu
    other_cpu = others.seconds(server_cpu + load_cpu)
    return LoadRow(
        clients=clients,
        runs_per_s=rate,
        p99_ms=p99 * 1000,
        requests=requests,
        errors=errors,
        server_cpu_pct=100 * server_cpu / wall,
        load_cpu_pct=100 * load_cpu / wall,
        other_cpu_pct=100 * other_cpu / wall,
    )
