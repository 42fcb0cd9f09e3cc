"""The playground page (``GET /ag-ui/playground``) driven in headless Chromium as a person would use it.

``tests/node/playground.mjs`` (playwright-core over Debian's ``/usr/bin/chromium``, no browser download) opens
the page served by ``uvicorn tests.support.playground_app:app`` on a free loopback port (stopped by its pid),
clicks and types, and reports what the page showed; these tests judge it. Its screenshots, light and dark, wide
and narrow, are written to ``artifacts/playground/`` (kept by CI with the run's artifacts).

Also: the committed ``playground.js`` is the build of ``web/playground`` (``node build.mjs --check``), and
``agui-server serve`` prints the page's URL and serves it on loopback unless told not to.

Needs ``node``, ``(cd tests/node && npm ci)`` and ``(cd web/playground && npm ci)`` (``uv run pytest`` runs both
when needed) and Chromium at ``/usr/bin/chromium`` (or ``$CHROMIUM``); their absence fails the tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_source_documents import Process, need_packages, node
from tests.support.server import free_port, uvicorn_app
from tests.support.sse import run_input

pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "tests" / "node"
WEB_DIR = ROOT / "web" / "playground"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "playground"
STEPS = ["chat", "tool", "stop", "reload", "thread", "interrupt", "threads", "screenshots"]


def drive(origin: str, steps: list[str], token: str | None = None) -> dict[str, Any]:
    """Run ``playground.mjs`` against ``origin``; the report of each step by name (and ``outside``: the requests
    the page made to anywhere but the server)."""
    need_packages("playwright-core")
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"Chromium is not at {CHROMIUM} (set $CHROMIUM)")
    spec = {"origin": origin, "shots": str(SHOTS), "steps": steps, "token": token}
    run = Process(
        [node(), str(NODE_DIR / "playground.mjs"), json.dumps(spec)], cwd=NODE_DIR, env={"CHROMIUM": CHROMIUM}
    )
    try:
        code = run.wait_exit(170)
    finally:
        run.stop()
    reports: dict[str, Any] = {}
    for line in run.out:
        report = json.loads(line)
        if "step" in report:
            reports[report["step"]] = report
        elif "outside" in report:
            reports["outside"] = report["outside"]
        elif "pageerror" in report or report.get("console") == "error":
            reports.setdefault("errors", []).append(report)
    assert code == 0, run.transcript()
    for step in steps:
        assert step in reports, run.transcript()
        assert "error" not in reports[step], (reports[step], run.transcript())
    return reports


@pytest.fixture(scope="module")
def origin() -> Any:
    with uvicorn_app("tests.support.playground_app:app") as origin:
        yield origin


@pytest.fixture(scope="module")
def seen(origin: str) -> Any:
    return drive(origin, STEPS)


def texts(report: dict[str, Any], kind: str) -> list[str]:
    return [item["text"] for item in report["chat"] if item["kind"] == kind]


def seqs_of(report: dict[str, Any], run_id: str) -> list[int]:
    return [entry["seq"] for entry in report["timeline"] if entry["run"] == run_id]


def test_a_message_sent_with_the_keyboard_gets_the_offline_agents_reply(seen: Any) -> None:
    chat = seen["chat"]
    assert chat["reached"][-1] == "composer-input"  # Tab reached the message box; typing and Enter sent it
    assert texts(chat, "user") == ["hello playground"]
    replies = texts(chat, "assistant")
    assert replies[0].startswith('You said: "hello playground". I am the offline agent')
    # the offline agent calls the first tool offered, the page's pick_color: Escape declined it, the next run
    # carried the result
    assert chat["focusedInDialog"] == "color-dialog"
    assert replies[1] == 'The tool pick_color returned: {"declined":true}. That completes the request.'
    assert chat["status"] == "finished"
    run_seqs = seqs_of(chat, chat["runId"])
    assert run_seqs == list(range(1, len(run_seqs) + 1))
    assert chat["cursor"] == run_seqs[-1]
    types = [entry["type"] for entry in chat["timeline"] if entry["run"] == chat["runId"]]
    assert types[0] == "RUN_STARTED"
    assert types[-1] == "RUN_FINISHED"
    assert all(re.fullmatch(r"\+\d+ ms", entry["ms"]) for entry in chat["timeline"])
    curl = chat["curl"]
    assert curl.startswith("curl -N -X POST 'http://127.0.0.1:")
    assert "/ag-ui/default'" in curl
    body = json.loads(curl.split("<<'JSON'\n", 1)[1].split("\nJSON", 1)[0])
    assert body["runId"] == chat["runId"]
    assert body["threadId"] == chat["threadId"]
    assert body["messages"][-1]["role"] == "tool"
    assert "Authorization" not in curl


def test_the_agent_calls_the_pages_color_picker_and_answers_its_result(seen: Any) -> None:
    tool = seen["tool"]
    assert tool["prompt"] == "Which color should the banner be?"
    (call,) = [item for item in tool["chat"] if item["kind"] == "tool"]
    assert call["tool"] == "pick_color"
    assert call["status"] == "done"
    assert json.loads(call["result"].removeprefix("→ ")) == {"color": "#00aa55"}
    assert texts(tool, "assistant") == ["Let me ask you for a color.", "You picked #00aa55."]


def test_stop_ends_a_slow_run_early(seen: Any) -> None:
    stop = seen["stop"]
    assert stop["status"] == "cancelled"
    assert "The run was stopped." in texts(stop, "note")
    (partial,) = texts(stop, "assistant")
    assert partial.startswith("t0 t1 ")
    assert "t79" not in partial
    assert [entry["type"] for entry in stop["timeline"]][-1] == "RUN_FINISHED"


def test_a_reload_mid_run_resumes_after_the_cursor_without_loss(seen: Any) -> None:
    reload = seen["reload"]
    assert reload["before"] >= 12
    assert reload["lastEventId"] == str(reload["before"])  # the resume asked for what came after the cursor
    assert reload["status"] == "finished"
    (reply,) = texts(reload, "assistant")
    assert reply == "".join(f"t{n} " for n in range(80))  # every token once, in order
    run_seqs = seqs_of(reload, reload["runId"])
    assert run_seqs == list(range(1, len(run_seqs) + 1))  # no event lost or shown twice across the reload
    assert reload["cursor"] == run_seqs[-1] == 84  # RUN_STARTED, START, 80 tokens, END, RUN_FINISHED


def test_a_stored_thread_opens_from_the_list_and_by_id(seen: Any) -> None:
    thread = seen["thread"]
    thread_id = thread["threadId"]
    assert thread_id == seen["chat"]["threadId"]
    assert thread_id in thread["listed"]  # the server's list of threads
    for opened in (thread["fromList"], thread["byId"]):  # the second in a browser profile that never saw it
        assert opened["threadId"] == thread_id
        assert texts(opened, "user") == ["hello playground"]
        replies = texts(opened, "assistant")
        assert len(replies) == 2
        assert replies[1].startswith("The tool pick_color returned")
        assert [item["tool"] for item in opened["chat"] if item["kind"] == "tool"] == ["pick_color"]


def test_the_thread_list_is_the_servers_and_renames_and_deletes_there(origin: str, seen: Any) -> None:
    threads = seen["threads"]
    first, second = threads["first"], threads["second"]
    assert first != second
    shown = threads["afterRuns"]["shown"]
    assert [t["id"] for t in shown] == threads["afterRuns"]["server"]  # the whole list, newest first
    assert [t["id"] for t in shown[:2]] == [second, first]
    assert [t["name"] for t in shown[:2]] == ["the second of two threads", "the first of two threads"]
    assert shown[0]["preview"].startswith('You said: "the second of two threads"')
    assert shown[0]["current"] is True
    assert [t["current"] for t in shown[1:]] == [False] * (len(shown) - 1)
    # nothing of the list is kept in the browser: with localStorage cleared, and in a profile that never saw them
    for listed in (threads["afterClear"], threads["fresh"]):
        assert [t["id"] for t in listed] == [t["id"] for t in shown]
        assert [t["name"] for t in listed] == [t["name"] for t in shown]

    assert threads["renameDialog"] == {"focused": "rename-input", "value": "the second of two threads"}
    renamed = threads["renamed"]
    assert [(t["id"], t["name"]) for t in renamed["shown"][:2]] == [
        (second, "Renamed by the test"),
        (first, "the first of two threads"),
    ]
    assert renamed["focused"] == f"rename:{second}"  # back on the button that opened the dialog

    assert threads["deleteDialog"] == {"focused": "delete-no", "name": "the first of two threads"}
    kept = [t["id"] for t in threads["kept"]]
    assert kept == [t["id"] for t in renamed["shown"]]  # Escape deleted nothing
    deleted = threads["deleted"]
    assert [t["id"] for t in deleted["shown"]] == [t for t in kept if t != first] == deleted["server"]
    assert deleted["focused"] == kept[kept.index(first) + 1]  # on the thread that came after it
    assert threads["nativeDialogs"] == []

    listed = httpx.get(f"{origin}/ag-ui/threads", params={"limit": 100}).json()["threads"]
    titles = {t["threadId"]: t["title"] for t in listed}
    assert titles[second] == "Renamed by the test"
    assert first not in titles
    assert httpx.get(f"{origin}/ag-ui/threads/{first}").status_code == 404
    assert httpx.get(f"{origin}/ag-ui/threads/{second}").status_code == 200


def test_load_more_adds_the_next_page_of_threads() -> None:
    with uvicorn_app("tests.support.playground_app:app") as origin:
        for n in range(23):
            body = run_input(f"thread number {n}", thread_id=f"bulk-{n:02}", run_id=f"bulk-run-{n}")
            answer = httpx.post(f"{origin}/ag-ui/default", json=body, timeout=20)
            assert answer.status_code == 200, answer.text
            assert b"RUN_FINISHED" in answer.content
        more = drive(origin, ["more"])["more"]
    newest_first = [f"bulk-{n:02}" for n in reversed(range(23))]
    assert more["server"] == newest_first
    assert (len(more["before"]["shown"]), more["before"]["more"]) == (20, True)  # a page is 20
    assert [t["id"] for t in more["before"]["shown"]] == newest_first[:20]
    assert [t["id"] for t in more["after"]["shown"]] == newest_first
    assert more["after"]["shown"][-1]["name"] == "thread number 0"
    assert more["after"]["more"] is False  # that was the last page
    assert more["after"]["focused"] == "bulk-02"  # the first thread the page added


def test_an_interrupt_is_answered_in_the_form(seen: Any) -> None:
    interrupt = seen["interrupt"]
    assert interrupt["legend"] == "approval: Send the email to the team?"
    assert interrupt["sendDisabled"] is True  # the thread must answer it first
    assert interrupt["hidden"] is True
    assert texts(interrupt, "assistant")[-1].endswith(": sent. ")


def test_state_tree_marks_the_last_patch_and_the_page_has_light_and_dark(seen: Any) -> None:
    shots = seen["screenshots"]
    assert sorted(shots["changed"]) == ["/plan/done", "/plan/steps/2"]
    assert '"path": "/plan/steps/-"' in shots["patch"]
    assert '2: "review"' in shots["state"]
    assert "done: 1" in shots["state"]
    assert texts(shots, "reasoning") == ["The user wants a plan; keep it short."]
    assert shots["lightBg"] != shots["darkBg"]
    assert shots["theme"] == "light"
    assert shots["toggledBg"] == shots["lightBg"]
    assert shots["overflow"] is False  # 390 px wide: nothing sticks out sideways
    assert shots["unnamed"] == []  # every control has a name a screen reader can say
    for path in shots["files"]:
        assert Path(path).stat().st_size > 10_000, path


def test_the_page_reaches_nothing_but_the_server_and_raises_no_errors(seen: Any) -> None:
    assert seen["outside"] == []
    assert seen.get("errors", []) == []


def test_with_tokens_the_page_asks_for_one_and_keeps_it_in_the_tab() -> None:
    with uvicorn_app("tests.support.playground_app:app", env={"PLAYGROUND_TOKENS": "secret-alice alice"}) as origin:
        assert httpx.get(f"{origin}/ag-ui/playground/agents").status_code == 401
        auth = drive(origin, ["auth"], token="secret-alice")["auth"]
    assert auth["whoami"] == "signed in as alice"
    assert auth["stored"] == {"session": "secret-alice", "local": []}  # sessionStorage only, never localStorage
    assert texts(auth, "assistant")[0].startswith('You said: "hello with a token"')


def test_the_committed_script_is_the_build_of_web_playground() -> None:
    if not (WEB_DIR / "node_modules" / "esbuild" / "package.json").is_file():
        pytest.fail(f"the npm packages of {WEB_DIR} are not installed: run `(cd web/playground && npm ci)`")
    result = subprocess.run(
        [node(), "build.mjs", "--check"], cwd=WEB_DIR, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("args", "on"), [([], True), (["--no-playground"], False), (["--host", "0.0.0.0"], False)])
def test_serve_prints_the_playground_url_and_serves_it_on_loopback(args: list[str], on: bool) -> None:
    port = free_port()
    command = [sys.executable, "-m", "agui_server", "serve", "--port", str(port), "--log-level", "warning", *args]
    server = Process(command, env={"AGUI_AUTH_TOKENS": ""})
    try:
        url = f"http://127.0.0.1:{port}/ag-ui/playground"
        up = server.wait_for(lambda: _answers(f"http://127.0.0.1:{port}/ag-ui/runs/x/events") == 404, 20)
        assert up, server.transcript()
        if on:
            assert f"playground: {url}" in server.out, server.transcript()
            assert _answers(url) == 200
        else:
            assert _answers(url) == 405  # no page: the path is POST /ag-ui/{agentId}
            assert not any("playground" in line for line in server.out)
    finally:
        server.stop()


def _answers(url: str) -> int | None:
    try:
        return httpx.get(url, timeout=2).status_code
    except httpx.TransportError:
        return None
