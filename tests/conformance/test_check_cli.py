"""``agui-server check`` as a CI pipeline runs it: exit statuses, reports, options."""

from __future__ import annotations

import asyncio
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conformance.corpus import corpus_app
from tests.support.server import ROOT, cli_server, free_port, running_server


async def check(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "agui_server", "check", *args,
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_clean_report_against_our_server_with_json_and_junit(tmp_path: Path) -> None:
    with cli_server() as base:
        status, out, _ = await check(
            base + "/ag-ui",
            "--body-limit",
            "2000000",
            "--json",
            str(tmp_path / "r.json"),
            "--junit",
            str(tmp_path / "r.xml"),
        )
    assert status == 0, out
    assert "0 failed (0 errors, 0 warnings)" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is True
    assert {c["name"] for c in report["checks"]} >= {"plain-chat", "legacy-client", "probe.disconnect"}
    suite = ET.parse(tmp_path / "r.xml").getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"
    assert int(suite.get("tests", "0")) == len(report["checks"])


async def test_findings_exit_1_and_name_rule_event_and_frame(tmp_path: Path) -> None:
    async with running_server(corpus_app) as base:
        status, out, _ = await check(
            base + "/case/text.content-not-started", "--scenario", "plain-chat", "--no-probes",
            "--junit", str(tmp_path / "r.xml"),
        )  # fmt: skip
    assert status == 1
    assert "ERROR order.text.content-not-started [plain-chat] event #1" in out
    assert "No active text message found with ID 'm1'" in out
    assert 'frame: data: {"type": "TEXT_MESSAGE_CONTENT"' in out
    failure = ET.parse(tmp_path / "r.xml").getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("type") == "order.text.content-not-started"


async def test_users_scenario_files_and_headers(tmp_path: Path) -> None:
    (tmp_path / "mine.json").write_text(
        json.dumps(
            {
                "name": "greeting",
                "description": "says hello back",
                "input": {"threadId": "t", "runId": "r", "messages": [{"id": "m", "role": "user", "content": "hi"}]},
                "expect": {"assistantText": True, "textContains": ["You said"]},
            }
        )
    )
    with cli_server() as base:
        status, out, _ = await check(
            base + "/ag-ui", "--scenarios", str(tmp_path), "--scenario", "greeting", "--no-probes",
            "--header", "Authorization: Bearer x", "--timeout", "10",
        )  # fmt: skip
    assert status == 0, out
    assert "greeting" in out
    assert "1 passed, 0 failed" in out


async def test_usage_errors_and_unreachable_urls_exit_2(tmp_path: Path) -> None:
    status, _, err = await check(f"http://127.0.0.1:{free_port()}/ag-ui", "--no-probes")
    assert status == 2
    assert "cannot connect" in err
    status, _, err = await check("http://127.0.0.1:1/ag-ui", "--scenario", "no-such-scenario")
    assert status == 2
    assert "unknown scenario" in err
    (tmp_path / "bad.json").write_text("{not json")
    status, _, err = await check("http://127.0.0.1:1/ag-ui", "--scenarios", str(tmp_path))
    assert status == 2
    assert "not valid JSON" in err
    status, _, err = await check("ftp://example/ag-ui")
    assert status == 2
