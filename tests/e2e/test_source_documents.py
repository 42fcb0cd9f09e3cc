"""The client code of the source documents (``/work/shared/docs/seeds``), run as written against the examples.

Each document shows client code people already run. ``tests/node/seeds/`` holds that code copied character
for character from the documents (``000_sse.js`` … ``004_curl.sh``); the one change made, at run time, is
the origin (``http://127.0.0.1:8080``, ``http://localhost:8000`` … becomes the test server's). Where a
document's URLs are relative, the code runs in a Chromium page served from the server's own origin
(``browser.mjs``), or under Node.js with a base-URL shim defined before the code. Around the code there are
only shims (``verbatim.mjs`` and the ``*_run.mjs`` drivers) that load it, call it and report.

Each example is started as a user would: ``uvicorn examples.<name>:app`` in a subprocess on a free port,
stopped by its pid. The assertions are what a reader of the document expects to see: the console lines
the document's code prints, the DOM it writes, the output of its curl command.

Needs ``node``, ``(cd tests/node && npm ci)`` (``eventsource``, ``axios``, ``playwright-core``), Chromium
at ``/usr/bin/chromium`` (or ``$CHROMIUM``), ``curl`` and ``requests`` in the dev dependencies; their
absence fails the tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.server import free_port, running_server

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
SEEDS = NODE_DIR / "seeds"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SETUP_HINT = "install Node.js and run `(cd tests/node && npm ci)`; CI does both before `uv run pytest`"
OFFLINE_TAIL = (
    "I am the offline agent of agui-server: no model, no network, the same reply every time. "
    "Point --agent at your own agent to do real work."
)


def offline_reply(said: str) -> str:
    """What the built-in offline agent answers to ``said``."""
    return f'You said: "{said}". {OFFLINE_TAIL}'


# --- processes -------------------------------------------------------------------------------------------


class Process:
    """A subprocess whose stdout and stderr lines are collected as they come; stopped by its pid."""

    def __init__(self, args: list[str], *, cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self.popen = subprocess.Popen(
            args,
            cwd=cwd,
            env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._readers = [
            threading.Thread(target=self._read, args=(self.popen.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: Any, lines: list[str]) -> None:
        for raw in iter(stream.readline, b""):
            with self._changed:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until ``predicate()`` holds or the process ended; return whether it holds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or (self.popen.poll() is not None and not any(r.is_alive() for r in self._readers)):
                    return predicate()
                self._changed.wait(min(left, 0.1))
            return True

    def wait_exit(self, timeout: float) -> int:
        try:
            code = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"{self.args[:3]} did not end within {timeout} s\n{self.transcript()}")
        for reader in self._readers:
            reader.join(5)
        return code

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        for reader in self._readers:
            reader.join(5)
        for stream in (self.popen.stdout, self.popen.stderr):
            if stream:
                stream.close()

    def transcript(self, last: int = 60) -> str:
        return "stdout:\n" + "\n".join(self.out[-last:]) + "\nstderr:\n" + "\n".join(self.err[-last:])

    def reports(self) -> list[dict[str, Any]]:
        """The ``@@{json}`` report lines of a seeds driver."""
        return [json.loads(line[2:]) for line in list(self.out) if line.startswith("@@")]


@contextlib.contextmanager
def process(args: list[str], **kwargs: Any) -> Iterator[Process]:
    running = Process(args, **kwargs)
    try:
        yield running
    finally:
        running.stop()


@contextlib.contextmanager
def example_server(name: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, Process]]:
    """``uvicorn examples.<name>:app`` on a free loopback port, as a user starts it; yields (origin, process)."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "uvicorn", f"examples.{name}:app", "--host", "127.0.0.1", "--port", str(port)]
    with process(args, env=env) as server:
        deadline = time.monotonic() + 20
        while True:
            if server.popen.poll() is not None:
                server.wait_exit(5)
                pytest.fail(f"examples.{name} exited early ({server.popen.returncode})\n{server.transcript()}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(origin + "/", timeout=1)
                break
            if time.monotonic() > deadline:
                pytest.fail(f"examples.{name} did not answer within 20 s\n{server.transcript()}")
            time.sleep(0.1)
        yield origin, server


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail(f"`node` is not on PATH: {SETUP_HINT}")
    return found


def need_packages(*names: str) -> None:
    for name in names:
        if not (NODE_DIR / "node_modules" / name / "package.json").is_file():
            pytest.fail(f"the npm package {name} is not installed in {NODE_DIR}: {SETUP_HINT}")


def seed(name: str, doc_origin: str | None = None, origin: str | None = None) -> str:
    """A seeds file, with the document's origin replaced by the test server's."""
    text = (SEEDS / name).read_text(encoding="utf-8")
    if doc_origin and origin:
        assert doc_origin in text, f"{name} no longer contains {doc_origin}"
        text = text.replace(doc_origin, origin)
    return text


def browser(spec: dict[str, Any]) -> Process:
    """Start ``browser.mjs`` (headless Chromium) with ``spec``; the caller stops it."""
    need_packages("playwright-core")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not at {CHROMIUM} (set $CHROMIUM)")
    return Process([node(), str(SEEDS / "browser.mjs"), json.dumps(spec)], cwd=NODE_DIR, env={"CHROMIUM": CHROMIUM})


def browser_lines(run: Process) -> list[dict[str, Any]]:
    lines = []
    for line in list(run.out):
        with contextlib.suppress(json.JSONDecodeError):
            lines.append(json.loads(line))
    return lines


def console(lines: list[dict[str, Any]], load: int | None = None) -> list[str]:
    return [line["text"] for line in lines if "console" in line and (load is None or line["load"] == load)]


def sse_frames(text: str) -> list[dict[str, Any]]:
    """Frames of a raw ``text/event-stream``: ``{"id", "event", "data", "retry", "comments"}`` (data parsed)."""
    frames = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        frame: dict[str, Any] = {"id": None, "event": None, "data": None, "retry": None, "lines": block.split("\n")}
        data_lines = []
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "data":
                data_lines.append(value)
            elif field in ("id", "event", "retry"):
                frame[field] = value
        if data_lines:
            raw = "\n".join(data_lines)
            try:
                frame["data"] = json.loads(raw)
            except json.JSONDecodeError:
                frame["data"] = raw
        frames.append(frame)
    return frames


def start_run(origin: str, message: str, *, agent: str = "agent-1") -> httpx.Response:
    """A run of ``agent`` through the AG-UI endpoint (a normal ``RunAgentInput``), read to its end."""
    stamp = f"{time.monotonic_ns()}"
    body = {
        "threadId": f"t-{stamp}",
        "runId": f"r-{stamp}",
        "messages": [{"id": f"m-{stamp}", "role": "user", "content": message}],
    }
    response = httpx.post(f"{origin}/ag-ui/{agent}", json=body, timeout=15)
    assert response.status_code == 200, (response.status_code, response.text[:500])
    return response


def run_until(
    origin: str,
    message: str,
    done: Callable[[], bool],
    *,
    ready: Callable[[], bool] | None,
    client: Process,
    attempts: int = 4,
) -> None:
    """Start runs (``message``) until ``done()``: a feed client only sees runs that start after it subscribed.

    Waits (≤ 8 s) for ``ready()`` when given (the client reported its stream open), then starts a run and
    waits ≤ 3 s for ``done()``; again, at most ``attempts`` runs.
    """
    if ready is not None:
        client.wait_for(ready, 8)
    for _ in range(attempts):
        start_run(origin, message)
        if client.wait_for(done, 3):
            return


# --- 000: GET /agents/{id}/sse + POST /agents/{id}/messages (Russian) ------------------------------------

REPLY_000 = offline_reply("Привет, агент!")


@pytest.fixture(scope="module")
def rest_and_sse() -> Iterator[tuple[str, Process]]:
    with example_server("rest_and_sse") as served:
        yield served


def test_000_browser_page_with_both_snippets_gets_the_reply_on_every_load(rest_and_sse) -> None:
    """000_sse.js and 000_send.js as two <script>s of a page on the server's origin, loaded three times.

    thread_456 is reused by every load (the code is verbatim), so each load must still get a reply: an
    unnamed frame with the whole text, which ``onmessage`` prints.
    """
    origin, server = rest_and_sse
    spec = {
        "origin": origin,
        "page": "000_page.html",
        "loads": 3,
        "timeoutMs": 10000,
        "settleMs": 500,
        "waitFor": ["^Новое сообщение от агента: ", "^Сообщение отправлено:"],
    }
    run = browser(spec)
    try:
        run.wait_exit(60)
    finally:
        run.stop()
    lines = browser_lines(run)
    report = f"{run.transcript()}\nserver:\n{server.transcript(20)}"
    assert not [line for line in lines if "fatal" in line or "pageerror" in line], report
    ends = [line for line in lines if "end" in line]
    assert [line["load"] for line in ends] == [1, 2, 3], report
    for load in (1, 2, 3):
        assert ends[load - 1]["end"] == "matched", report
        texts = console(lines, load)
        received = [text for text in texts if text.startswith("Новое сообщение от агента: ")]
        assert len(received) >= 1, report
        assert all(text == f"Новое сообщение от агента: {REPLY_000}" for text in received), report
        sent = [
            line
            for line in lines
            if line.get("load") == load and str(line.get("text")).startswith("Сообщение отправлено:")
        ]
        assert len(sent) == 1, report
        result = sent[0]["args"][1]
        assert result["status"] == "success", report
        assert result["message"] == "Message sent to agent.", report
        assert not [text for text in texts if text.startswith("Ошибка при отправке сообщения:")], report
        # the subscription stays open while the page is: an ended stream would make the EventSource log an
        # error and reconnect
        assert not [text for text in texts if text.startswith("Ошибка SSE:")], report


def test_000_node_eventsource_package_runs_both_snippets(rest_and_sse) -> None:
    """The same two snippets under Node.js: the `eventsource` package, relative URLs resolved by a shim."""
    need_packages("eventsource")
    origin, _server = rest_and_sse
    with process([node(), str(SEEDS / "000_node.mjs"), origin, "15"], cwd=NODE_DIR) as client:
        got = client.wait_for(
            lambda: (
                any(line.startswith("Новое сообщение от агента: ") for line in client.out)
                and any(line.startswith("Сообщение отправлено:") for line in client.out)
            ),
            15,
        )
    assert got, client.transcript()
    received = [line for line in client.out if line.startswith("Новое сообщение от агента: ")]
    assert all(line == f"Новое сообщение от агента: {REPLY_000}" for line in received), client.transcript()
    # Node prints the result object over several lines (util.inspect)
    printed = "\n".join(client.out)
    sent = printed[printed.index("Сообщение отправлено:") :]
    assert "status: 'success'" in sent, client.transcript()
    assert "message: 'Message sent to agent.'" in sent, client.transcript()
    assert not [line for line in client.err if line.startswith("Ошибка при отправке сообщения:")], client.transcript()


def test_000_a_message_posted_before_the_subscription_is_not_lost(rest_and_sse) -> None:
    """The document opens the EventSource, then sends at once: the POST may land first. A subscriber that
    comes a second after the run ended still gets its reply (not the document's code: httpx, its own thread)."""
    origin, _server = rest_and_sse
    thread = f"late-{time.monotonic_ns()}"
    sent = httpx.post(
        f"{origin}/agents/agent_123/messages", json={"thread_id": thread, "message": "Привет, агент!"}, timeout=10
    )
    assert 200 <= sent.status_code < 300, (sent.status_code, sent.text)
    assert sent.json()["status"] == "success", sent.text
    time.sleep(1.0)
    messages = []
    with httpx.Client(timeout=httpx.Timeout(10, read=5)) as client:
        url = f"{origin}/agents/agent_123/sse"
        with connect_sse(client, "GET", url, params={"thread_id": thread}) as source:
            assert source.response.status_code == 200
            for event in source.iter_sse():
                if event.event == "message" and event.data:
                    messages.append(json.loads(event.data))
                    break
    assert messages == [{"agent_id": "agent_123", "thread_id": thread, "message": REPLY_000}]


# --- 001: POST /v1/react/sessions, the sse_driver proxy (Russian) ----------------------------------------

QUERY_001 = "What is the capital of France and what is the weather there right now?"


@pytest.fixture(scope="module")
def worker_bridge() -> Iterator[tuple[str, Process]]:
    with example_server("worker_bridge") as served:
        yield served


def test_001_browser_fetch_reader_fills_thought_and_answer(worker_bridge) -> None:
    """001_consume.js verbatim on a page (served from the server's origin) with the two display elements."""
    origin, server = worker_bridge
    spec = {
        "origin": origin,
        "page": "001_page.html",
        "timeoutMs": 15000,
        "settleMs": 200,
        "waitFor": ["^Stream finished\\.$"],
        "dom": ["thought-display", "answer-display"],
    }
    run = browser(spec)
    try:
        run.wait_exit(40)
    finally:
        run.stop()
    lines = browser_lines(run)
    report = f"{run.transcript()}\nserver:\n{server.transcript(20)}"
    assert not [line for line in lines if "fatal" in line or "pageerror" in line], report
    end = next(line for line in lines if "end" in line)
    assert end["end"] == "matched", report
    assert end["dom"]["answer-display"]["text"] == offline_reply(QUERY_001), report
    assert end["dom"]["thought-display"]["text"].strip(), report
    texts = console(lines)
    failures = ("Failed to parse JSON from stream", "An error event was received", "Error starting stream")
    assert not [text for text in texts if text.startswith(failures)], report
    tools = [t for t in texts if t.startswith("Agent is calling tool: ")]
    assert len(tools) == 1, report
    assert tools[0] != "Agent is calling tool: undefined", report
    ordered = [
        "Backend worker has acknowledged the session.",
        tools[0],
        "Final answer received. Closing connection.",
        "Stream finished.",
    ]
    assert [t for t in texts if t in ordered] == ordered, report


def test_001_wire_parts_are_data_lines_only(worker_bridge) -> None:
    """The parts the reader splits on ``\\n\\n``: each exactly one ``data: {json}`` line, in the order the doc shows."""
    origin, _server = worker_bridge
    response = httpx.post(
        f"{origin}/v1/react/sessions", json={"user_query": QUERY_001, "model_alias": "smart_agent"}, timeout=15
    )
    assert response.status_code == 200, response.text[:500]
    assert response.text.endswith("\n\n"), response.text[-200:]
    parts = [part for part in response.text.split("\n\n") if part]
    for part in parts:
        assert part.startswith("data: "), part
        assert "\n" not in part, part
    events = [json.loads(part[6:]) for part in parts]
    kinds = [event["event_type"] for event in events]
    assert kinds[0] == "worker_ack", kinds
    assert kinds[-1] == "FinalAnswerStreamEnd", kinds
    assert kinds.count("AgentToolCallStart") == 1, kinds
    assert kinds.index("AgentThoughtStream") < kinds.index("AgentToolCallStart") < kinds.index("FinalAnswerStream")
    answer = "".join(e["payload"]["char"] for e in events if e["event_type"] == "FinalAnswerStream")
    assert answer == offline_reply(QUERY_001)


async def test_001_browser_page_shows_the_error_event_of_a_failed_run() -> None:
    """001_consume.js on its page against the same session route whose agent raises: ``error`` with a message."""
    from litestar import Litestar

    from agui_server import AGUIConfig, AGUIPlugin
    from agui_server.dialects import EventEnvelope, RunRoute
    from examples.worker_bridge import session_input

    async def failing_agent(input: Any, ctx: Any) -> Any:
        yield "Let me think"
        raise RuntimeError("the worker crashed")

    route = RunRoute("/v1/react/sessions", EventEnvelope(), request=session_input)
    app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agent=failing_agent, routes=[route]))])
    need_packages("playwright-core")
    spec = {
        "origin": "",
        "page": "001_page.html",
        "timeoutMs": 15000,
        "settleMs": 200,
        "waitFor": ["^Stream finished\\.$"],
        "dom": ["thought-display", "answer-display"],
    }
    async with running_server(app) as origin:
        spec["origin"] = origin
        client = await asyncio.create_subprocess_exec(
            node(), str(SEEDS / "browser.mjs"), json.dumps(spec),
            cwd=NODE_DIR, env={**os.environ, "CHROMIUM": CHROMIUM},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            stdout, stderr = await asyncio.wait_for(client.communicate(), timeout=40)
        except TimeoutError:
            client.kill()
            await client.wait()
            raise
    lines = [json.loads(line) for line in stdout.decode().split("\n") if line.startswith("{")]
    report = f"{stdout.decode()}\n{stderr.decode()}"
    assert not [line for line in lines if "fatal" in line or "pageerror" in line], report
    texts = console(lines)
    errors = [text for text in texts if text.startswith("An error event was received: ")]
    assert len(errors) == 1, report
    assert errors[0].removeprefix("An error event was received: ").strip() not in ("", "undefined"), report
    assert "Stream finished." in texts, report
    assert not [text for text in texts if text.startswith("Failed to parse JSON from stream")], report


# --- 002: POST /ag-ui read by fetch, axios, curl, requests (Chinese) -------------------------------------

DOC_ORIGIN_002 = "http://127.0.0.1:8080"


@pytest.fixture(scope="module")
def agui_fetch() -> Iterator[tuple[str, Process]]:
    with example_server("agui_fetch") as served:
        yield served


def _segments(lines: list[str]) -> dict[int, list[str]]:
    """The document's console lines of each ``sendMessage`` call, split at the driver's ``begin`` reports."""
    segments: dict[int, list[str]] = {}
    current = 0
    for line in lines:
        if line.startswith("@@"):
            current = json.loads(line[2:]).get("begin", current)
        else:
            segments.setdefault(current, []).append(line)
    return segments


def test_002_fetch_reader_asked_twice_with_the_same_run_id(agui_fetch) -> None:
    """002_fetch.js (sendMessage + handleSSEEvent) under Node 20, two questions in a row (runId run_456 both times)."""
    origin, server = agui_fetch
    questions = ["你是谁", "今天天气怎么样"]
    with process([node(), str(SEEDS / "002_fetch_run.mjs"), origin, *questions], cwd=NODE_DIR) as client:
        code = client.wait_exit(30)
    report = f"{client.transcript()}\nserver:\n{server.transcript(20)}"
    assert code == 0, report
    calls = {r["call"]: r for r in client.reports() if "call" in r}
    segments = _segments(client.out)
    for index, question in enumerate(questions, start=1):
        reply = offline_reply(question)
        assert "".join(calls[index]["chunks"]) == reply, report
        assert "运行开始: run_456" in segments[index], report
        assert f"消息结束: {reply}" in segments[index], report
        assert len([line for line in segments[index] if line.startswith("增量内容: ")]) >= 3, report
    assert not [line for line in client.err if "解析 SSE 失败" in line or line.startswith("错误:")], report


def test_002_axios_send_message_returns_the_run(agui_fetch) -> None:
    """002_axios.mjs (``import axios from 'axios'`` put before the document's snippet) under Node.js."""
    need_packages("axios")
    origin, server = agui_fetch
    question = "你好"
    with process([node(), str(SEEDS / "002_axios_run.mjs"), origin, question], cwd=NODE_DIR) as client:
        code = client.wait_exit(30)
    report = f"{client.transcript()}\nserver:\n{server.transcript(20)}"
    assert code == 0, report
    result = next(r for r in client.reports() if "events" in r)
    events = result["events"]
    kinds = [event["type"] for event in events]
    assert kinds[0] == "RUN_STARTED", report
    assert kinds[-1] == "RUN_FINISHED", report
    assert events[0]["runId"] == "run_456", report
    assert events[0]["threadId"] == "thread_123", report
    text = "".join(event["delta"] for event in events if event["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == offline_reply(question), report
    assert result["chunks"] == events, report
    assert not [line for line in client.err if "解析 SSE 失败" in line], report


def _run_curl(script: str, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, timeout=timeout, check=False)


def test_002_curl_command(agui_fetch) -> None:
    """002_curl.sh: the document's curl command, origin changed."""
    origin, _server = agui_fetch
    result = _run_curl(seed("002_curl.sh", DOC_ORIGIN_002, origin))
    output = result.stdout.decode()
    assert result.returncode == 0, (result.returncode, result.stderr.decode()[-500:])
    data = [json.loads(line[6:]) for line in output.split("\n") if line.startswith("data: ")]
    kinds = [event["type"] for event in data]
    assert kinds[0] == "RUN_STARTED", output
    assert (data[0]["threadId"], data[0]["runId"]) == ("thread_123", "run_456"), output
    assert kinds[-1] == "RUN_FINISHED", output
    text = "".join(event["delta"] for event in data if event["type"] == "TEXT_MESSAGE_CONTENT")
    assert text == offline_reply("你是谁"), output
    assert "\r" not in output, "frames must be LF-only for readers that split on \\n"


def _python(code: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-u", "-c", code],
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        check=False,
        text=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def _need_requests() -> None:
    check = _python("import requests")
    if check.returncode != 0:
        pytest.fail(f"`import requests` fails in the project's Python (add requests to the dev deps):\n{check.stderr}")


# The document's snippet compares the bytes lines of `iter_lines()` with a str (`line.startswith('data: ')`),
# which raises TypeError in Python 3 whatever the server sends. The first test pins that (so a reader of this
# file knows it is the document's bug, not the server's); the second runs the same code with one shim before
# it, the fix a reader would make (lines decoded from UTF-8, as document 003's Python client does).
DECODED_LINES_SHIM = """\
import requests as _requests
_iter_lines = _requests.Response.iter_lines
def _decoded_lines(self, *args, **kwargs):
    for _line in _iter_lines(self, *args, **kwargs):
        yield _line.decode("utf-8") if isinstance(_line, bytes) else _line
_requests.Response.iter_lines = _decoded_lines
"""


def test_002_python_requests_snippet_as_written_fails_on_bytes_lines(agui_fetch) -> None:
    """002_requests.py verbatim: the document's own bug, a TypeError on the first line, not the server's."""
    _need_requests()
    origin, _server = agui_fetch
    result = _python(seed("002_requests.py", DOC_ORIGIN_002, origin))
    assert result.returncode != 0, result.stdout
    assert "TypeError: startswith first arg must be bytes or a tuple of bytes, not str" in result.stderr, result.stderr


def test_002_python_requests_snippet_with_decoded_lines(agui_fetch) -> None:
    """002_requests.py verbatim, after a shim that decodes ``iter_lines()`` to str."""
    _need_requests()
    origin, _server = agui_fetch
    result = _python(DECODED_LINES_SHIM + seed("002_requests.py", DOC_ORIGIN_002, origin))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.split("\n")
    events = [line.removeprefix("Event: ") for line in lines if line.startswith("Event: ")]
    assert events[0] == "RUN_STARTED", result.stdout
    assert events[-1] == "RUN_FINISHED", result.stdout
    assert "TEXT_MESSAGE_CONTENT" in events, result.stdout
    deltas = [line.removeprefix("  Delta: ") for line in lines if line.startswith("  Delta: ")]
    assert "".join(deltas) == offline_reply("你是谁"), result.stdout


async def test_002_fetch_reader_logs_the_error_event_of_a_failed_run() -> None:
    """002_fetch.js against an app whose agent raises, ``reader_extras=True``: ``handleSSEEvent`` logs ``错误:``."""
    from litestar import Litestar

    from agui_server import AGUIConfig, AGUIPlugin

    async def failing_agent(input: Any, ctx: Any) -> Any:
        yield "Let me look that up"
        raise RuntimeError("the model provider is down")

    app = Litestar(plugins=[AGUIPlugin(AGUIConfig(agent=failing_agent, reader_extras=True))])
    async with running_server(app) as origin:
        client = await asyncio.create_subprocess_exec(
            node(), str(SEEDS / "002_fetch_run.mjs"), origin, "你是谁",
            cwd=NODE_DIR, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            stdout, stderr = await asyncio.wait_for(client.communicate(), timeout=30)
        except TimeoutError:
            client.kill()
            await client.wait()
            raise
    out, err = stdout.decode(), stderr.decode()
    assert client.returncode == 0, (out, err)
    errors = [line for line in err.split("\n") if line.startswith("错误: ")]
    assert len(errors) == 1, (out, err)
    message = errors[0].removeprefix("错误: ").strip()
    assert message, (out, err)
    assert message != "undefined", (out, err)
    assert "运行开始: run_456" in out, out


# --- 003: /events, /stream/{agent}, the CLI's SSE feeds (English) ----------------------------------------

DOC_ORIGIN_003 = "http://localhost:8000"


@pytest.fixture
def event_feeds() -> Iterator[tuple[str, Process]]:
    """A fresh server per test: /events is server-wide, so no run of another test shows up."""
    with example_server("event_feeds") as served:
        yield served


def _curl_feed(origin: str, server: Process, script: str, message: str, event_name: str) -> list[dict[str, Any]]:
    reply = offline_reply(message)

    def frames() -> list[dict[str, Any]]:
        return sse_frames("\n".join(client.out) + "\n")

    def done() -> bool:
        seen = frames()
        names = [frame["event"] for frame in seen]
        hits = [i for i, f in enumerate(seen) if f["event"] == event_name and isinstance(f["data"], dict)
                and f["data"].get("message") == reply]  # fmt: skip
        return bool(hits) and "complete" in names[hits[0] :]

    with process(["bash", "-c", script]) as client:
        run_until(origin, message, done, ready=None, client=client)
        # the frame after `complete` is not waited for: curl is stopped by its pid here
    got = frames()
    assert done(), f"{client.transcript()}\nserver:\n{server.transcript(20)}"
    return got


def test_003_curl_events(event_feeds) -> None:
    """003_curl.sh: ``curl -N http://localhost:8000/events`` (origin changed) while a run of agent-1 happens."""
    origin, server = event_feeds
    frames = _curl_feed(origin, server, seed("003_curl.sh", DOC_ORIGIN_003, origin), "hello feeds curl", "message")
    data_frames = [frame for frame in frames if frame["data"] is not None]
    assert all(frame["id"] for frame in data_frames), frames
    assert any(frame["retry"] for frame in frames), frames
    message = next(f for f in frames if f["event"] == "message" and f["data"].get("message"))
    assert message["data"]["message"] == offline_reply("hello feeds curl")


def test_003_curl_agent_stream(event_feeds) -> None:
    """003_curl_agent.sh: ``curl -N http://localhost:8000/stream/agent-1`` (origin changed)."""
    origin, server = event_feeds
    script = seed("003_curl_agent.sh", DOC_ORIGIN_003, origin)
    frames = _curl_feed(origin, server, script, "hello agent stream", "agent_message")
    message = next(f for f in frames if f["event"] == "agent_message")
    assert message["data"]["agent_id"] == "agent-1", frames
    assert all(frame["id"] for frame in frames if frame["data"] is not None), frames


def test_003_browser_html_client(event_feeds) -> None:
    """003_client.html, the document's whole page, in Chromium on the server's origin: a <p> per message."""
    origin, server = event_feeds
    message = "hello feeds browser"
    spec = {
        "origin": origin,
        "docOrigin": DOC_ORIGIN_003,
        "page": "003_client.html",
        "timeoutMs": 20000,
        "settleMs": 200,
        "waitFor": ["^Stream completed$"],
        "dom": ["messages"],
    }
    run = browser(spec)
    try:
        run_until(
            origin,
            message,
            lambda: any('"end"' in line for line in run.out),
            ready=lambda: any(f'"response":"{origin}/events"' in line for line in run.out),
            client=run,
        )
        run.wait_exit(30)
    finally:
        run.stop()
    lines = browser_lines(run)
    report = f"{run.transcript()}\nserver:\n{server.transcript(20)}"
    assert not [line for line in lines if "fatal" in line or "pageerror" in line], report
    end = next(line for line in lines if "end" in line)
    assert end["end"] == "matched", report
    html = end["dom"]["messages"]["html"]
    assert f"<p>{offline_reply(message)}</p>" in html, report
    texts = console(lines)
    assert any(text.startswith("Received:") for text in texts), report
    assert not [text for text in texts if text.startswith("SSE error:")], report


@contextlib.contextmanager
def static_page(port: int, body: str) -> Iterator[str]:
    """An HTTP server on loopback ``port`` answering ``body`` (HTML) to every GET, like a front-end dev
    server; yields its origin, ``http://localhost:<port>``. Stopped at the end."""
    payload = body.encode()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_003_browser_html_client_on_another_origin_allowed_by_the_env() -> None:
    """003_client.html served by a front-end server of another origin, listed in ``ALLOWED_ORIGINS`` as the
    document's ``.env`` step does (here in the environment): the cross-origin EventSource gets the messages."""
    message = "hello feeds cross-origin"
    front_port = free_port()
    env = {"ALLOWED_ORIGINS": f"http://localhost:3000,http://localhost:{front_port}"}
    with example_server("event_feeds", env=env) as (origin, server):
        with static_page(front_port, seed("003_client.html", DOC_ORIGIN_003, origin)) as front:
            spec = {
                "origin": origin,
                "pageUrl": f"{front}/",
                "timeoutMs": 20000,
                "settleMs": 200,
                "waitFor": ["^Stream completed$"],
                "dom": ["messages"],
            }
            run = browser(spec)
            try:
                run_until(
                    origin,
                    message,
                    lambda: any('"end"' in line for line in run.out),
                    ready=lambda: any(f'"response":"{origin}/events"' in line for line in run.out),
                    client=run,
                )
                run.wait_exit(30)
            finally:
                run.stop()
    lines = browser_lines(run)
    report = f"{run.transcript()}\nserver:\n{server.transcript(20)}"
    end = next(line for line in lines if "end" in line)
    assert end["end"] == "matched", report
    assert f"<p>{offline_reply(message)}</p>" in end["dom"]["messages"]["html"], report
    assert not [text for text in console(lines) if text.startswith("SSE error:")], report


def test_003_python_stream_events(event_feeds) -> None:
    """003_stream_events.py verbatim (origin changed), stopped by its pid once it printed the reply."""
    _need_requests()
    origin, server = event_feeds
    message = "hello feeds python"
    reply = offline_reply(message)
    code = seed("003_stream_events.py", DOC_ORIGIN_003, origin)

    def printed() -> list[str]:
        return list(client.out)

    def done() -> bool:
        lines = printed()
        hits = [i for i, line in enumerate(lines) if line.startswith("Received: {") and _message_of(line) == reply]
        return bool(hits) and "Event: complete" in lines[hits[0] :]

    with process([sys.executable, "-u", "-c", code]) as client:
        time.sleep(0.5)  # the client prints nothing before the first frame; run_until starts runs until one shows
        run_until(origin, message, done, ready=None, client=client)
    assert done(), f"{client.transcript()}\nserver:\n{server.transcript(20)}"
    lines = printed()
    first = next(i for i, line in enumerate(lines) if line.startswith("Received: {") and _message_of(line) == reply)
    # The server writes `data:` before `event:` and `id:` in a frame (so readers that keep only parts starting
    # with `data: `, like document 001's, still work), where document 003's sample output shows id, event,
    # data; this client prints each field as it comes, so the frame's `Event: message` follows its data.
    assert "Event: message" in (lines[first - 1], lines[first + 1]), lines


def _message_of(line: str) -> Any:
    try:
        return json.loads(line.removeprefix("Received: ")).get("message")
    except (json.JSONDecodeError, AttributeError):
        return None


def test_003_node_agent_specific_stream(event_feeds) -> None:
    """003_agent_stream.js verbatim (origin changed) under Node.js, the `eventsource` package as EventSource."""
    need_packages("eventsource")
    origin, server = event_feeds
    message = "hello feeds node"
    expected = f"Message from agent-1: {offline_reply(message)}"
    with process([node(), str(SEEDS / "003_agent_run.mjs"), origin, "20"], cwd=NODE_DIR) as client:
        run_until(
            origin,
            message,
            lambda: expected in client.out,
            ready=lambda: any(line.startswith('@@{"open"') for line in client.out),
            client=client,
        )
    assert expected in client.out, f"{client.transcript()}\nserver:\n{server.transcript(20)}"


def test_003_get_stream_runs_once_across_eventsource_reconnects(event_feeds) -> None:
    """An EventSource on ``GET /ag-ui/agent-1/stream?message=hi`` for 5 s: one run, then 204 on the reconnect."""
    need_packages("eventsource")
    origin, server = event_feeds
    url = f"{origin}/ag-ui/agent-1/stream?message=hi"
    with process([node(), str(SEEDS / "003_reconnect.mjs"), url, "5"], cwd=NODE_DIR) as client:
        client.wait_exit(15)
    reports = client.reports()
    report = f"{client.transcript()}\nserver:\n{server.transcript(30)}"
    frames = [r for r in reports if "event" in r]
    assert frames, report
    assert all(f["id"] for f in frames), report
    kinds = [f["data"].get("type") if isinstance(f["data"], dict) else None for f in frames]
    # this app's GET stream speaks the feed dialect (`message` frames with the whole text, `complete` at the
    # run's end); the AG-UI one would send RUN_STARTED … RUN_FINISHED: either way, exactly one run
    starts = [f for f, kind in zip(frames, kinds, strict=True) if "RUN_STARTED" in (f["event"], kind)]
    completes = [f for f in frames if f["event"] == "complete"]
    assert len(starts) <= 1, report
    assert len(completes) <= 1, report
    assert len(starts) + len(completes) >= 1, report
    deltas = [f["data"]["delta"] for f, kind in zip(frames, kinds, strict=True) if kind == "TEXT_MESSAGE_CONTENT"]
    messages = [f["data"]["message"] for f in frames if f["event"] == "message" and "message" in f["data"]]
    if deltas:
        assert "".join(deltas) == offline_reply("hi"), report
    else:
        assert messages == [offline_reply("hi")], report
    # the reconnect after the run's end carried Last-Event-ID and got 204, which ends an EventSource for good
    errors = [r for r in reports if "error" in r]
    assert any(r.get("code") == 204 for r in errors), report
    assert reports[-1] == {"end": "time", "readyState": 2}, report
    last_id = frames[-1]["id"]
    again = httpx.get(url, headers={"Last-Event-ID": last_id, "accept": "text/event-stream"}, timeout=10)
    assert again.status_code == 204, (again.status_code, again.text[:300])


# --- 004: GET/POST /api/chat/stream with token/tool events (Korean) --------------------------------------

DOC_ORIGIN_004 = "http://localhost:3002"


@pytest.fixture(scope="module")
def chat_stream() -> Iterator[tuple[str, Process]]:
    with example_server("chat_stream") as served:
        yield served


def _chat_events(client: httpx.Client, method: str, url: str, **kwargs: Any) -> list[tuple[str, Any]]:
    with connect_sse(client, method, url, timeout=20, **kwargs) as source:
        assert source.response.status_code == 200, source.response.read()[:500]
        # a frame without data (the stream's first, `retry:` only) dispatches nothing in an EventSource;
        # httpx-sse still yields it, with data ""
        return [(sse.event, json.loads(sse.data)) for sse in source.iter_sse() if sse.data]


def _check_weather_run(events: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in events]
    tokens = "".join(data["content"] for name, data in events if name == "token")
    assert tokens.strip(), events
    for name in ("tool_call", "tool_progress", "tool_result"):
        assert name in names, events
    call = next(data for name, data in events if name == "tool_call")
    assert isinstance(call["tool"], str), call
    assert call["tool"], call
    assert isinstance(call["args"], dict), call
    progress = next(data for name, data in events if name == "tool_progress")
    assert progress["tool"] == call["tool"], progress
    assert progress["message"], progress
    result = next(data for name, data in events if name == "tool_result")
    assert result["tool"] == call["tool"], result
    assert result["result"], result
    assert names.index("tool_call") < names.index("tool_progress") < names.index("tool_result"), names
    assert "error" not in names, events
    assert names[-1] == "done", names
    done = events[-1][1]
    assert done["message"] == "complete", done
    return dict(done)


def _percent_encode_query(command: str) -> str:
    """The command with its URL's query percent-encoded (``서울날씨알려줘`` -> ``%EC%84%9C…``), nothing else changed."""
    start = command.index('"http')
    end = command.index('"', start + 1)
    url = command[start + 1 : end]
    return command[: start + 1] + urllib.parse.quote(url, safe=":/?&=%") + command[end:]


def test_004_curl_get_weather(chat_stream) -> None:
    """004_curl.sh: the document's GET curl command, origin changed and the query percent-encoded.

    As written, curl sends the Korean query as raw UTF-8 bytes in the request line; uvicorn (httptools)
    answers ``400 Bad Request`` / ``Invalid HTTP request received.`` before the app sees the request (HTTP
    requires a percent-encoded request-target; browsers and ``curl -G --data-urlencode`` encode it). So this
    runs the documented fallback: the same command with the query percent-encoded.
    """
    origin, server = chat_stream
    command = seed("004_curl.sh", DOC_ORIGIN_004, origin)
    assert "message=서울날씨알려줘&enableTools=true" in command
    result = _run_curl(_percent_encode_query(command), timeout=20)
    output = result.stdout.decode("utf-8", "replace")
    assert result.returncode == 0, (result.returncode, result.stderr.decode()[-500:])
    frames = sse_frames(output)
    assert frames, f"{output!r}\nserver:\n{server.transcript(20)}"
    done = _check_weather_run([(frame["event"], frame["data"]) for frame in frames if frame["data"] is not None])
    assert done["sessionId"], done
    assert isinstance(done["historyLength"], int), done
    assert done["historyLength"] >= 2, done


def test_004_get_weather_with_query_parameters(chat_stream) -> None:
    origin, _server = chat_stream
    with httpx.Client() as client:
        events = _chat_events(
            client, "GET", f"{origin}/api/chat/stream", params={"message": "서울날씨알려줘", "enableTools": "true"}
        )
    done = _check_weather_run(events)
    assert isinstance(done["sessionId"], str), done
    assert done["sessionId"], done
    assert isinstance(done["historyLength"], int), done
    assert done["historyLength"] >= 2, done


def test_004_post_body_keeps_the_session_history(chat_stream) -> None:
    """The document's POST body twice with sessionId user-123: historyLength grows."""
    origin, _server = chat_stream
    body = {"message": "서울의 날씨를 알려주고 섭씨를 화씨로 변환해줘", "sessionId": "user-123", "enableTools": True}
    with httpx.Client() as client:
        first = _check_weather_run(_chat_events(client, "POST", f"{origin}/api/chat/stream", json=body))
        second = _check_weather_run(_chat_events(client, "POST", f"{origin}/api/chat/stream", json=body))
    assert first["sessionId"] == second["sessionId"] == "user-123", (first, second)
    assert first["historyLength"] >= 2, first
    assert second["historyLength"] >= first["historyLength"] + 2, (first, second)


def test_004_tools_off_gives_no_tool_events(chat_stream) -> None:
    origin, _server = chat_stream
    with httpx.Client() as client:
        events = _chat_events(
            client, "GET", f"{origin}/api/chat/stream", params={"message": "서울날씨알려줘", "enableTools": "false"}
        )
    names = [name for name, _ in events]
    assert not {"tool_call", "tool_progress", "tool_result"} & set(names), events
    assert "".join(data["content"] for name, data in events if name == "token").strip(), events
    assert names[-1] == "done", names
    assert events[-1][1]["message"] == "complete", events
