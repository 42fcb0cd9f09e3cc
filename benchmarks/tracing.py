"""``python -m benchmarks.tracing``: what OpenTelemetry costs our server, off and on, side by side.

The variants are ``benchmarks/apps/tracing.py``'s apps (tracing off; on with an exporter that drops the spans;
on with the SDK's in-memory exporter; the Prometheus endpoint's metrics). Each is one uvicorn process (uvloop,
httptools) pinned to one core, the client on the other, measured as ``benchmarks.dialects`` measures a
dialect: a single long stream (events/s), 20-token runs on one keep-alive connection (runs/s, p50/p99), and
10 clients (runs/s). Ratios are against the ``off`` row of the same run.

``--in-process`` measures the run engine alone (``RunManager``, no HTTP): microseconds per 20-token run for
no telemetry at all, ``Telemetry()`` without a configured provider (what every server has by default), and
the three variants above, interleaved and repeated, medians reported. It shows the cost of the "off" path
directly, where the HTTP figures of one shared machine vary by more than it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.apps.tracing import VARIANTS, telemetry_variants
from benchmarks.dialects import QUICK, Settings, measure, render
from benchmarks.run import pin_cores

if TYPE_CHECKING:
    from collections.abc import Sequence


async def _runs_per_variant(telemetry: Any, runs: int) -> float:
    """Microseconds per 20-token run of the in-process engine with ``telemetry``."""
    from agui_server.agents.base import as_agent
    from agui_server.protocol.encoding import decode_input
    from agui_server.runs.manager import RunManager
    from benchmarks.apps.agent import agent
    from benchmarks.workload import request_body

    manager = RunManager(telemetry=telemetry)
    runner = as_agent(agent)
    inputs = [decode_input(request_body(f"r{n}", tokens=20)) for n in range(runs)]
    gc.collect()
    began = time.perf_counter()
    for input in inputs:
        run = await manager.start(runner, input)
        await run.ended
    elapsed = time.perf_counter() - began
    await manager.shutdown()
    return elapsed / runs * 1e6


async def in_process(runs: int, repeats: int) -> dict[str, float]:
    """Median microseconds per run for each telemetry variant, the variants interleaved."""
    variants = telemetry_variants()
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for telemetry in variants.values():  # warm-up
        await _runs_per_variant(telemetry, max(10, runs // 10))
    for _ in range(repeats):
        for name, telemetry in variants.items():
            samples[name].append(await _runs_per_variant(telemetry, runs))
    return {name: statistics.median(values) for name, values in samples.items()}


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tracing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small figures: proves it still runs")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--in-process", action="store_true", help="the run engine alone: microseconds per run")
    args = parser.parse_args(argv)
    if args.in_process:
        costs = await in_process(200 if args.quick else 2_000, 1 if args.quick else 7)
        base = costs["none"]
        print("| telemetry | µs per 20-token run (median) | minus none, µs |\n|---|---|---|")
        for name, cost in costs.items():
            print(f"| {name} | {cost:.1f} | {cost - base:+.1f} |")
        if args.json:
            args.json.write_text(json.dumps(costs, indent=2))
        return 0
    settings = QUICK if args.quick else Settings()
    server_core, _load_core = pin_cores()
    results = []
    with tempfile.TemporaryDirectory(prefix="agui-bench-tracing-") as directory:
        for name in VARIANTS:
            print(f"{name} …", flush=True)
            results.append(await measure(name, settings, server_core, Path(directory), "benchmarks.apps.tracing"))
    print(render(results, base_name=VARIANTS[0], title="OpenTelemetry"))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
