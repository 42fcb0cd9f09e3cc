"""The benchmark still starts: ``python -m benchmarks --quick`` measures all three servers and prints every row.

The benchmark itself is not part of the test run; this only proves the harness works. Without wrk on the
machine, ``--quick`` falls back to the Python load generator, so this never skips.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from benchmarks.apps import SERVERS
from benchmarks.report import figures

ROOT = Path(__file__).resolve().parents[1]


def _table_rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith("| Figure"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def test_quick_benchmark_prints_every_figure_for_every_server(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    report = json.loads(out.read_text())
    settings = SimpleNamespace(**report["settings"], load_tokens=report["settings"]["short_tokens"])
    results = {r["name"]: r for r in report["results"]}
    assert set(results) == set(SERVERS)

    rows = _table_rows(proc.stdout)
    for figure in figures(settings):
        assert figure.label in rows, f"missing row {figure.label!r} in:\n{proc.stdout}"
        cells = rows[figure.label]
        # ceiling, then value and ratio for each other server, then the CPU column
        assert len(cells) == 2 * len(SERVERS), cells
        for name in SERVERS:
            value = _value(results[name], figure.key)
            assert math.isfinite(value), (name, figure.key, value)
            assert value > 0, (name, figure.key, value)
        for ratio in cells[2 : 2 * len(SERVERS) - 1 : 2]:
            assert float(ratio) > 0, (figure.label, cells)
    for result in results.values():
        assert len(result["load"]) == len(settings.clients)
        assert all(row["errors"] == 0 for row in result["load"]), result["load"]


def _value(result: dict[str, object], key: str) -> float:
    if key in result:
        return float(result[key])  # type: ignore[arg-type]
    metric, _, clients = key.rpartition("_c")
    for row in result["load"]:  # type: ignore[attr-defined]
        if row["clients"] == int(clients):
            return float(row[metric])
    raise KeyError(key)
