"""The concurrent rows: runs/s and p99 latency at N clients, with both sides' CPU %."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.cpu import Others
from benchmarks.pyload import run_pyload
from benchmarks.results import LoadRow
from benchmarks.workload import PATH, new_run_id
from benchmarks.wrk import run_wrk_many, write_script

if TYPE_CHECKING:
    from pathlib import Path

    from benchmarks.server import Server

__all__ = ("LoadTool", "measure_load", "split_clients")


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


def split_clients(clients: int, ports: int) -> list[int]:
    """``clients`` connections spread evenly over ``ports`` web processes (none where there are too few)."""
    share, extra = divmod(clients, ports)
    return [n for n in (share + (1 if i < extra else 0) for i in range(ports)) if n > 0]


async def measure_load(
    server: Server, host: str, tool: LoadTool, *, clients: int, duration: float, tokens: int
) -> LoadRow:
    """One concurrent row; the server's CPU % is its CPU time over the row's wall time (every server-side
    process summed). A server with several web processes gets the clients spread over them: with wrk, one
    wrk per web process, side by side on the load core."""
    roles_before = server.cpu_by_role()
    server_cpu, others = server.cpu_seconds(), Others(server.pids, cores=(tool.server_core, tool.core))
    started = time.perf_counter()
    if tool.wrk is not None:
        targets = []
        for port, share in zip(server.ports, split_clients(clients, len(server.ports)), strict=False):
            prefix = new_run_id(f"wrk-{server.name}")
            script = write_script(tool.work_dir, tokens=tokens, prefix=prefix, path=PATH)
            targets.append((f"http://{host}:{port}{PATH}", script, share))
        result = run_wrk_many(tool.wrk, targets, duration=duration, core=tool.core)
        requests, errors, rate, p99, load_cpu = (
            result.requests, result.errors, result.runs_per_s, result.p99_s, result.cpu_seconds
        )  # fmt: skip
    else:
        py = await run_pyload(host, server.ports, clients=clients, duration=duration, tokens=tokens)
        requests, errors, rate, p99, load_cpu = py.requests, py.errors, py.runs_per_s, py.p99_s, py.cpu_seconds
    wall = time.perf_counter() - started
    server_cpu = server.cpu_seconds() - server_cpu
    roles = {role: 100 * (seconds - roles_before[role]) / wall for role, seconds in server.cpu_by_role().items()}
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
        server_cpu_pct_by_role=roles,
    )
