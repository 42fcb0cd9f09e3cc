"""``python -m benchmarks.dialects``: what each dialect, and a static bearer token, cost beside AG-UI.

Each dialect's server is our server with ``POST /ag-ui`` in that dialect (``benchmarks/apps/dialects.py``),
one uvicorn process (uvloop, httptools) pinned to one core, the client on the other. Figures, per dialect:

- single stream: AG-UI events/s of one long reply (the run's events over the response's time, however many
  frames the dialect makes of them), read raw off one keep-alive connection;
- short runs: 20-token runs one after another on one keep-alive connection (runs/s, p50 and p99 latency);
- 10 clients: runs/s with 10 keep-alive connections running 20-token runs back to back.

Ratios are against the AG-UI row of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from benchmarks.apps.dialects import BENCH_TOKEN, DIALECTS
from benchmarks.client import Connection, connect
from benchmarks.run import pin_cores
from benchmarks.server import HOST, _free_port, _pin, _spawn, _stop
from benchmarks.stats import percentile
from benchmarks.workload import expected_events, new_run_id, request_body

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Sequence

_STARTUP_TIMEOUT = 30.0


@dataclass
class DialectResult:
    dialect: str
    stream_events_per_s: float = 0.0
    short_runs_per_s: float = 0.0
    short_p50_ms: float = 0.0
    short_p99_ms: float = 0.0
    clients10_runs_per_s: float = 0.0


@dataclass(frozen=True)
class Settings:
    tokens: int = 20_000
    stream_runs: int = 3
    short_tokens: int = 20
    short_runs: int = 300
    clients: int = 10
    duration: float = 3.0


QUICK = Settings(tokens=500, stream_runs=1, short_runs=20, duration=0.5)


async def _run(connection: Connection, tokens: int) -> float:
    response = await connection.run(request_body(new_run_id("dialect"), tokens=tokens))
    if response.status != 200 or response.frames < 1:
        raise RuntimeError(f"expected a 200 stream, got {response.status} with {response.frames} frames")
    return response.elapsed


async def _ready(process: subprocess.Popen[bytes], port: int, log: Path, headers: dict[str, str] | None) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early (see {log})")
        try:
            connection = await connect(HOST, port, headers)
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError("server did not start") from None
            await asyncio.sleep(0.1)
            continue
        try:
            await asyncio.wait_for(_run(connection, 1), 5)
            return
        finally:
            connection.close()


async def measure(
    name: str, settings: Settings, core: int | None, log_dir: Path, module: str = "benchmarks.apps.dialects"
) -> DialectResult:
    """The figures of the app ``module:name``, served by one uvicorn process pinned to ``core``."""
    port = _free_port()
    log = log_dir / f"{name}.log"
    command = [
        sys.executable, "-m", "uvicorn", f"{module}:{name}", "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = _spawn(command, log)
    result = DialectResult(name)
    headers = {"Authorization": f"Bearer {BENCH_TOKEN}"} if name.endswith("_auth") else None
    try:
        await _ready(process, port, log, headers)
        _pin([psutil.Process(process.pid)], core)
        connection = await connect(HOST, port, headers)
        try:
            await _run(connection, settings.tokens)  # warm-up
            rates = [expected_events(settings.tokens) / await _run(connection, settings.tokens)]
            rates += [expected_events(settings.tokens) / await _run(connection, settings.tokens)
                      for _ in range(settings.stream_runs - 1)]  # fmt: skip
            result.stream_events_per_s = statistics.median(rates)
            for _ in range(10):
                await _run(connection, settings.short_tokens)
            began = time.perf_counter()
            latencies = [await _run(connection, settings.short_tokens) for _ in range(settings.short_runs)]
            result.short_runs_per_s = settings.short_runs / (time.perf_counter() - began)
            result.short_p50_ms = percentile(latencies, 50) * 1000
            result.short_p99_ms = percentile(latencies, 99) * 1000
        finally:
            connection.close()
        result.clients10_runs_per_s = await _concurrent(port, settings, headers)
    finally:
        _stop(process)
    return result


async def _concurrent(port: int, settings: Settings, headers: dict[str, str] | None) -> float:
    connections = [await connect(HOST, port, headers) for _ in range(settings.clients)]
    done = 0
    stop_at = time.perf_counter() + settings.duration

    async def loop(connection: Connection) -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await _run(connection, settings.short_tokens)
            done += 1

    began = time.perf_counter()
    try:
        await asyncio.gather(*(loop(c) for c in connections))
    finally:
        for connection in connections:
            connection.close()
    return done / (time.perf_counter() - began)


def render(results: Sequence[DialectResult], base_name: str = "ag_ui", title: str = "Dialect") -> str:
    """The table, with ratios against the row ``base_name``."""
    base = next(r for r in results if r.dialect == base_name)
    lines = [
        f"| {title} | Single stream, AG-UI events/s | ÷ {base_name} | 20-token runs/s (1 client) | ÷ {base_name} "
        f"| p50 / p99 ms | 10 clients: runs/s | ÷ {base_name} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.dialect} | {r.stream_events_per_s:,.0f} | {r.stream_events_per_s / base.stream_events_per_s:.2f} "
            f"| {r.short_runs_per_s:,.0f} | {r.short_runs_per_s / base.short_runs_per_s:.2f} "
            f"| {r.short_p50_ms:.2f} / {r.short_p99_ms:.2f} "
            f"| {r.clients10_runs_per_s:,.0f} | {r.clients10_runs_per_s / base.clients10_runs_per_s:.2f} |"
        )
    return "\n".join(lines)


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.dialects", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small figures: proves it still runs")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else Settings()
    server_core, _load_core = pin_cores()
    results = []
    with tempfile.TemporaryDirectory(prefix="agui-bench-dialects-") as directory:
        for name in DIALECTS:
            print(f"{name} …", flush=True)
            results.append(await measure(name, settings, server_core, Path(directory)))
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
