"""The runner judges the official TypeScript SDK fairly: a server built on ``@ag-ui/encoder`` 1.0.0 passes it.

``tests/node/encoder_server/server.mjs`` serves AG-UI the way the SDK's examples do (``EventEncoder``
negotiated by Accept, ``RunAgentInputSchema`` from ``@ag-ui/core`` 1.0.0, Content-Type and Cache-Control
but no X-Accel-Buffering). Nothing it does breaks an AG-UI rule, so the runner must find no error in it.
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conformance import BUILTIN_SCENARIOS, run_conformance
from conformance.probes import PROBES
from tests.support.server import free_port

pytestmark = pytest.mark.node

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
SERVER = NODE_DIR / "encoder_server" / "server.mjs"
SETUP_HINT = "install Node.js 20+ and npm (apt-get install nodejs npm); pytest then runs `npm ci` in tests/node"
MAX_BODY = 1024 * 1024


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"`node` is not on PATH, so the TypeScript SDK server cannot run: {SETUP_HINT}")
    for package, expected in (("agui-encoder-v1", "1.0.0"), ("agui-core-v1", "1.0.0")):
        manifest = NODE_DIR / "node_modules" / package / "package.json"
        if not manifest.is_file():
            pytest.fail(f"{package} is not installed in {NODE_DIR}: {SETUP_HINT}")
        installed = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        assert installed == expected, f"{package} is {installed}, expected {expected}"
    return node


@contextmanager
def encoder_server() -> Iterator[str]:
    """Start server.mjs on a free loopback port; yields its URL; stops it by its pid."""
    port = free_port()
    process = subprocess.Popen(
        [_node(), str(SERVER), "--port", str(port), "--max-body", str(MAX_BODY)],
        cwd=NODE_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 20
        line = ""
        while not line.startswith("listening"):  # the server prints one line once it listens
            remaining = deadline - time.monotonic()
            if process.poll() is not None or remaining <= 0:
                raise RuntimeError(f"server.mjs did not start (exit {process.poll()}): {line}")
            if select.select([process.stdout], [], [], min(remaining, 0.5))[0]:
                line = process.stdout.readline()
        yield f"http://127.0.0.1:{port}/ag-ui"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


async def test_the_typescript_sdk_encoder_server_passes_the_runner() -> None:
    with encoder_server() as url:
        report = await run_conformance(url, BUILTIN_SCENARIOS, probes=True, timeout=20, body_limit=2 * MAX_BODY)
    assert not report.failed, report.summary()
    assert [f for f in report.findings if f.severity == "error"] == [], report.summary()
    assert {f.rule for f in report.findings} <= {"http.accel-buffering"}  # the SDK examples do not send it
    assert len(report.results) == len(BUILTIN_SCENARIOS) + len(PROBES) + 1
