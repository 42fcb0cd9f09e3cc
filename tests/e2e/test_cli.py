"""``agui-server serve`` as a user runs it: a subprocess on a free loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from tests.support.server import ROOT, cli_server, free_port, stop_process
from tests.support.sse import run_input

USER_AGENT = textwrap.dedent(
    """
    import asyncio

    async def agent(input, ctx):
        yield "Hello from "
        await asyncio.sleep(0)
        yield f"my own agent, thread {input.thread_id}"
    """
)


def _events(raw: bytes) -> list[dict[str, object]]:
    return [json.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]


def test_curl_streams_a_run_from_the_offline_agent() -> None:
    with cli_server() as base:
        result = subprocess.run(
            [
                "curl", "-sN", "-X", "POST", base + "/ag-ui",
                "-H", "content-type: application/json",
                "-d", '{"threadId":"t","runId":"r","messages":[{"id":"m","role":"user","content":"你是谁"}]}',
            ],
            capture_output=True,
            timeout=30,
            check=True,
        )  # fmt: skip
    data_lines = [line for line in result.stdout.split(b"\n") if line.startswith(b"data: ")]
    kinds = [json.loads(line[6:])["type"] for line in data_lines]
    assert kinds[:2] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert kinds.count("TEXT_MESSAGE_CONTENT") >= 3
    assert "你是谁".encode() in result.stdout


def test_serves_a_users_async_generator_with_no_other_change(tmp_path: Path) -> None:
    package = tmp_path / "mypkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text(USER_AGENT)
    with cli_server("--agent", "mypkg.mod:agent", cwd=tmp_path) as base:
        response = httpx.post(base + "/ag-ui", json=run_input(thread_id="abc"), timeout=10)
    events = _events(response.content)
    text = "".join(str(e["delta"]) for e in events if e["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == "Hello from my own agent, thread abc"
    assert events[-1]["type"] == "RUN_FINISHED"


def test_settings_come_from_a_dotenv_file(tmp_path: Path) -> None:
    package = tmp_path / "envpkg"
    package.mkdir()
    (package / "__init__.py").write_text(USER_AGENT)
    (tmp_path / ".env").write_text("# settings\nAGUI_AGENT=envpkg:agent\nAGUI_PATH='/custom'\n")
    with cli_server(cwd=tmp_path) as base:
        response = httpx.post(base + "/custom", json=run_input(), timeout=10)
        options = httpx.options(
            base + "/custom",
            headers={"origin": "http://app.example", "access-control-request-method": "POST"},
            timeout=10,
        )
    assert "my own agent" in response.text
    assert "access-control-allow-origin" not in options.headers  # CORS stays off unless origins are given


def test_allowed_origins_from_the_environment_turn_on_cors() -> None:
    with cli_server(env={"AGUI_ALLOWED_ORIGINS": "http://app.example, http://other.example"}) as base:
        response = httpx.options(
            base + "/ag-ui",
            headers={"origin": "http://other.example", "access-control-request-method": "POST"},
            timeout=10,
        )
    assert response.headers["access-control-allow-origin"] == "http://other.example"


def test_a_bad_agent_reference_is_a_clear_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agui_server", "serve", "--agent", "no_such_module:agent"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert result.returncode == 2
    assert "cannot import module 'no_such_module'" in result.stderr


def test_help_explains_the_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agui_server", "serve", "--help"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    for needle in ("--agent", "MODULE:ATTR", "AGUI_PORT", "curl", "async def agent"):
        assert needle in result.stdout


def test_a_missing_api_key_is_a_clear_error_at_start_up(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}
    for name, variable in (("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY")):
        result = subprocess.run(
            [sys.executable, "-m", "agui_server", "serve", "--agent", name, "--model", "m"],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env=env,
        )
        assert result.returncode == 2
        assert variable in result.stderr


def test_serve_raises_the_open_file_limit_and_keeps_connections_below_it() -> None:
    import subprocess
    import sys

    code = (
        "import resource\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))\n"
        "from agui_server.cli import _connection_budget\n"
        "budget = _connection_budget()\n"
        "print(budget, resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30).stdout
    budget, soft, hard = (int(x) for x in out.split())
    assert soft == hard
    assert 64 <= budget < soft


FAILING_AGENT = textwrap.dedent(
    """
    async def agent(input, ctx):
        yield "about to fail"
        raise RuntimeError("boom")
    """
)


def test_log_format_json_writes_one_object_per_line_with_the_run_id(tmp_path: Path) -> None:
    (tmp_path / "failing.py").write_text(FAILING_AGENT)
    log = tmp_path / "server.log"
    port = free_port()
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "agui_server", "serve", "--port", str(port), "--agent", "failing:agent",
             "--log-format", "json"],
            cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    response = httpx.post(base + "/ag-ui", json=run_input(run_id="logged"), timeout=5)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
        finally:
            stop_process(process)
    assert _events(response.content)[-1]["code"] == "AGENT_ERROR"
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    failed = [line for line in lines if line["message"].startswith("agent failed")]
    assert len(failed) == 1
    assert failed[0]["run_id"] == "logged"
    assert failed[0]["level"] == "ERROR"
    assert "RuntimeError: boom" in failed[0]["exception"]
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's own lines are JSON too
