"""``python -m benchmarks.tracing``: what OpenTelemetry costs our server, off and on, side by side.

The variants are ``benchmarks/apps/tracing.py``'s apps (tracing off; on with an exporter that drops the spans;
on with the SDK's in-memory exporter; the Prometheus endpoint's metrics). Each is one uvicorn process (uvloop,
httptools) pinned to one core, the client on the other, measured as ``benchmarks.dialects`` measures a
dialect: a single long stream (events/s), 20-token runs on one keep-alive connection (runs/s, p50/p99), and
10 clients (runs/s). Ratios are against the ``off`` row of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.apps.tracing import VARIANTS
from benchmarks.dialects import QUICK, Settings, measure, render
from benchmarks.run import pin_cores

if TYPE_CHECKING:
    from collections.abc import Sequence


async def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tracing", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small figures: proves it still runs")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
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
