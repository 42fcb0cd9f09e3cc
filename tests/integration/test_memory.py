"""Bounded memory: 10,000 runs through the app leave the process's memory flat.

The runs go through the app in a fresh process, so that nothing else this test session allocated moves
the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.server import ROOT

MIB = 1024 * 1024


def _probe(runs: int, max_finished_runs: int) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.memory_probe", str(runs), str(max_finished_runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_memory_stays_flat_over_10000_runs() -> None:
    report = _probe(10_000, 200)
    samples = dict(report["samples"])  # type: ignore[arg-type]
    grown = samples[10_000] - samples[2_000]
    # 8,000 more runs (about 270,000 events) once every bounded store is full: a few MiB at most
    assert grown < 6 * MIB, f"RSS grew by {grown / MIB:.1f} MiB between run 2,000 and run 10,000: {samples}"
    assert report["runs"] == 200
    assert report["feeds"] <= 200
    assert report["threads"] == 500


def test_the_probe_sees_growth_when_runs_are_not_bounded() -> None:
    report = _probe(4_000, 1_000_000)
    samples = dict(report["samples"])  # type: ignore[arg-type]
    assert samples[4_000] - samples[1_000] > 20 * MIB
