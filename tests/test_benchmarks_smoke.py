"""The benchmark still starts: ``python -m benchmarks --quick`` measures every default server and prints every row.

The benchmark itself is not part of the test run; this only proves the harness works, our server over
Redis included (one web process and one worker, and two of each, with the benchmark's own redis-server:
CI installs redis-server, and without it the benchmark exits with an error, so this fails rather than
skips). Without wrk on the machine, ``--quick`` falls back to the Python load generator.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.apps import DEFAULT_SERVERS, REDIS, label
from benchmarks.load import split_clients
from benchmarks.report import figures

ROOT = Path(__file__).resolve().parents[1]


def _table_rows(output: str) -> dict[str, list[str]]:
    rows = {}
    for line in output.splitlines():
        if line.startswith("| ") and not line.startswith("| Figure"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[cells[0]] = cells[1:]
    return rows


def _header(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith("| Figure"))
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@pytest.mark.redis
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
    assert set(results) == set(DEFAULT_SERVERS)
    others = [name for name in DEFAULT_SERVERS if name != "ceiling"]
    header = _header(proc.stdout)
    for name in others:
        baseline = "ours" if name in REDIS else "ceiling"
        assert f"{label(name)} vs {baseline}" in header, header

    rows = _table_rows(proc.stdout)
    for figure in figures(settings):
        assert figure.label in rows, f"missing row {figure.label!r} in:\n{proc.stdout}"
        cells = rows[figure.label]
        # ceiling, then value and ratio for each other server, then the CPU column
        assert len(cells) == 2 * len(DEFAULT_SERVERS), cells
        for index, name in enumerate(others):
            value, ratio = cells[1 + 2 * index], cells[2 + 2 * index]
            if figure.key == "idle_kib_per_stream" and name in REDIS:
                assert (value, ratio) == ("—", "—"), (name, cells)  # not measured over Redis
                continue
            number = _value(results[name], figure.key)
            assert math.isfinite(number), (name, figure.key, number)
            if name in REDIS and "_c" in figure.key:
                # a run over Redis may take over a second to end: a 1 s row can finish none of them
                assert number >= 0, (name, figure.key, number)
                continue
            assert number > 0, (name, figure.key, number)
            assert float(ratio) > 0, (figure.label, name, cells)
        assert _value(results["ceiling"], figure.key) > 0, (figure.key, results["ceiling"])
    for name, result in results.items():
        assert len(result["load"]) == len(settings.clients)
        assert all(row["errors"] == 0 for row in result["load"]), result["load"]
        if name in REDIS:
            assert sum(row["requests"] for row in result["load"]) > 0, result["load"]
            assert set(result["events_server_cpu_pct_by_role"]) == {"web", "worker", "redis"}, result
    for name, deployment in REDIS.items():
        assert f"{label(name)} server CPU % by process (web / worker / redis)" in proc.stdout
        assert deployment.web == len(split_clients(100, deployment.web))


def test_clients_are_spread_over_the_web_processes() -> None:
    assert split_clients(1, 2) == [1]
    assert split_clients(10, 2) == [5, 5]
    assert split_clients(101, 2) == [51, 50]
    assert split_clients(100, 1) == [100]


def _value(result: dict[str, object], key: str) -> float:
    if key in result:
        return float(result[key])  # type: ignore[arg-type]
    metric, _, clients = key.rpartition("_c")
    for row in result["load"]:  # type: ignore[attr-defined]
        if row["clients"] == int(clients):
            return float(row[metric])
    raise KeyError(key)


def test_the_dialect_benchmark_measures_every_dialect(tmp_path: Path) -> None:
    from benchmarks.apps.dialects import DIALECTS

    out = tmp_path / "dialects.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.dialects", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = json.loads(out.read_text())
    assert [row["dialect"] for row in rows] == list(DIALECTS)
    for row in rows:
        assert row["stream_events_per_s"] > 0
        assert row["short_runs_per_s"] > 0
        assert row["clients10_runs_per_s"] > 0
    assert "| chat_events |" in completed.stdout


def test_the_tracing_benchmark_measures_every_variant(tmp_path: Path) -> None:
    from benchmarks.apps.tracing import VARIANTS

    out = tmp_path / "tracing.json"
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.tracing", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    rows = json.loads(out.read_text())
    assert [row["dialect"] for row in rows] == list(VARIANTS)
    assert all(row["stream_events_per_s"] > 0 and row["short_runs_per_s"] > 0 for row in rows)
    assert "| memory_exporter |" in completed.stdout


def test_the_thread_store_servers_measure_their_short_runs(tmp_path: Path) -> None:
    """``ours+sqlite`` and ``ours+postgres`` (the benchmark's own PostgreSQL server: without its binaries the
    benchmark exits with a hint, so this fails rather than skips) serve runs and fill the short-run rows."""
    from benchmarks.apps import THREAD_STORES

    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--servers", "ours", *THREAD_STORES, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    settings = SimpleNamespace(**report["settings"], load_tokens=report["settings"]["short_tokens"])
    results = {r["name"]: r for r in report["results"]}
    assert set(results) == {"ours", *THREAD_STORES}
    header = _header(proc.stdout)
    rows = _table_rows(proc.stdout)
    for name in THREAD_STORES:
        assert f"{label(name)} vs ours" in header, header
        index = header.index(label(name)) - 1  # the cells leave out the figure's name
        assert all(row["errors"] == 0 for row in results[name]["load"]), results[name]["load"]
        for figure in figures(settings):
            short_run = figure.key.startswith(("ttfe_", "runs_per_s_c", "p99_ms_c"))
            value, ratio = rows[figure.label][index], rows[figure.label][index + 1]
            if not short_run:
                assert (value, ratio) == ("—", "—"), (name, figure.key, value)
                continue
            assert _value(results[name], figure.key) > 0, (name, figure.key)
            assert float(ratio) > 0, (name, figure.key, ratio)
    assert set(results["ours+postgres"]["load"][0]["server_cpu_pct_by_role"]) == {"server", "postgres"}
    assert "ours+postgres server CPU % by process (server / postgres)" in proc.stdout


@pytest.mark.redis
def test_before_measures_our_servers_at_a_commit_in_the_same_run(tmp_path: Path) -> None:
    """``--before COMMIT`` adds, for each of our servers, the same server running that commit's code (its rows
    ``ours @COMMIT``), each ratio against that commit's own baseline. (HEAD: a shallow clone has no other.)"""
    from benchmarks.server import short_revision

    rev = short_revision("HEAD")
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--servers", "ceiling", "ours", "ours+redis-1x1",
         "--before", "HEAD", "--only", "first_event", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = {r["name"]: r for r in json.loads(out.read_text())["results"]}
    assert list(results) == ["ceiling", f"ours@{rev}", "ours", f"ours+redis-1x1@{rev}", "ours+redis-1x1"]
    header = _header(proc.stdout)
    assert f"ours @{rev} vs ceiling" in header, header
    assert f"{label('ours+redis-1x1')} @{rev} vs ours @{rev}" in header, header
    assert all(result["ttfe_p50_ms"] > 0 for result in results.values()), results
    assert f"(rows '@{rev}': at {rev})" in proc.stdout


def test_a_commits_servers_import_that_commits_tree(tmp_path: Path) -> None:
    from benchmarks.apps import at_revision
    from benchmarks.server import _root, extract_revision, short_revision

    rev = short_revision("HEAD")
    extract_revision(rev, tmp_path)
    tree = _root(at_revision("ours", rev), tmp_path)
    committed = subprocess.run(
        ["git", "show", f"{rev}:agui_server/runs/guard.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    assert (tree / "agui_server" / "runs" / "guard.py").read_bytes() == committed
    assert not (tree / "benchmarks").exists()  # (the benchmark's apps are the working tree's on both sides)
    assert _root("ours", tmp_path) == ROOT
