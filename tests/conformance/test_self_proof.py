"""The runner judged by a corpus of broken streams: each is flagged with its rule and nothing else."""

from __future__ import annotations

import logging

import pytest

from agui_server import AGUIConfig, create_app
from agui_server.protocol.ordering import RULES as ORDERING_RULES
from conformance import BUILTIN_SCENARIOS, RULES, Expectations, Scenario, run_conformance
from conformance.probes import PROBES
from tests.conformance.corpus import CASES, ORDERING_CASES, OTHER_CASES, corpus_app
from tests.support.server import running_server

_USER = [{"id": "u1", "role": "user", "content": "What's the weather in Tokyo?"}]
_WEATHER = {
    "name": "get_weather",
    "description": "weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
SCENARIOS = {
    "corpus": Scenario(
        "corpus", "", {"threadId": "t", "runId": "r", "protocolVersion": "1.0", "messages": _USER}, Expectations(False)
    ),
    "corpus-tools": Scenario(
        "corpus-tools",
        "",
        {"threadId": "t", "runId": "r", "protocolVersion": "1.0", "messages": _USER, "tools": [_WEATHER]},
        Expectations(False),
    ),
    "corpus-state": Scenario(
        "corpus-state",
        "",
        {"threadId": "t", "runId": "r", "protocolVersion": "1.0", "messages": _USER, "state": {"present": 1}},
        Expectations(False),
    ),
    "corpus-legacy": Scenario(
        "corpus-legacy", "", {"threadId": "t", "runId": "r", "messages": _USER}, Expectations(False)
    ),
    **{s.name: s for s in BUILTIN_SCENARIOS},
}


@pytest.fixture(autouse=True)
def _quiet_cut_stream(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="uvicorn.error")


# Only an in-process producer can break these: the wire schema requires the fields, and any string (even
# an empty one) satisfies the client, so no stream on the wire breaks them.
_IN_PROCESS_ONLY = {"order.subagent.missing-id", "order.subagent.missing-name", "order.subagent.missing-message"}


def test_every_ordering_rule_and_every_own_rule_has_a_broken_stream() -> None:
    broken = {case.rule for case in ORDERING_CASES.values() if case.rule is not None}
    assert {f"order.{rule}" for rule in ORDERING_RULES} - _IN_PROCESS_ONLY == broken
    stream_rules = {rule for rule in RULES if not rule.startswith(("order.", "probe."))}
    assert stream_rules == {case.rule for case in OTHER_CASES.values()}
    assert {p.rule for p in PROBES} | {"probe.disconnect"} == {r for r in RULES if r.startswith("probe.")}


@pytest.mark.parametrize("name", sorted(CASES))
async def test_the_runner_flags_the_broken_stream_with_its_rule_only(name: str) -> None:
    case = CASES[name]
    async with running_server(corpus_app) as base:
        report = await run_conformance(
            f"{base}/case/{name}", [SCENARIOS[case.scenario]], probes=False, timeout=10, keepalive_window=0.3
        )
    rules = [finding.rule for finding in report.findings]
    if case.rule is None:
        assert rules == []
        assert not report.failed
    else:
        assert set(rules) == {case.rule}, report.summary()
        finding = report.findings[0]
        assert finding.message
        assert report.failed == (RULES[case.rule].severity == "error")


async def _lax_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    """Answers every request, however broken, with a valid-looking 200 stream."""
    if scope["type"] == "lifespan":
        await corpus_app(scope, receive, send)
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'data: {"type":"RUN_ERROR","message":"x"}\n\n'})


async def test_probes_flag_a_server_that_accepts_anything() -> None:
    async with running_server(_lax_app) as base:
        report = await run_conformance(f"{base}/ag-ui", [], probes=True, timeout=10, body_limit=64 * 1024)
    # (deeply nested JSON is valid AG-UI: a server may run it, and this one ends every run with RUN_ERROR)
    assert {f.rule for f in report.findings} == {p.rule for p in PROBES} - {"probe.deep-nesting"}


async def test_our_server_passes_every_scenario_and_probe() -> None:
    app = create_app(AGUIConfig(strict=True, max_body_size=1024 * 1024))
    async with running_server(app) as base:
        report = await run_conformance(
            f"{base}/ag-ui", BUILTIN_SCENARIOS, probes=True, timeout=20, body_limit=2 * 1024 * 1024
        )
    assert report.findings == [], report.summary()
    assert len(report.results) == len(BUILTIN_SCENARIOS) + len(PROBES) + 1


def test_rules_table_documents_every_rule() -> None:
    from pathlib import Path

    table = (Path(__file__).parents[2] / "conformance" / "RULES.md").read_text(encoding="utf-8")
    for rule in RULES.values():
        assert f"| `{rule.id}` | {rule.severity} | {rule.summary.replace('|', chr(92) + '|')} |" in table


async def test_every_request_sends_accept_event_stream_as_http_agent_does() -> None:
    """A server that negotiates by Accept is asked for SSE (``EventEncoder({accept})`` picks protobuf for ``*/*``)."""
    seen: list[dict[str, str]] = []

    async def negotiating_app(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] == "lifespan":
            await corpus_app(scope, receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        seen.append({"method": scope["method"], **headers})
        sse = headers.get("accept") == "text/event-stream"
        content_type = b"text/event-stream" if sse else b"application/vnd.ag-ui.event+proto"
        response = [(b"content-type", content_type), (b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
        await send({"type": "http.response.start", "status": 200, "headers": response})
        run = (
            b'data: {"type":"RUN_STARTED","threadId":"t","runId":"r"}\n\n'
            b'data: {"type":"RUN_FINISHED","threadId":"t","runId":"r"}\n\n'
        )
        frames = run if sse else b"\x00\x00\x00\x02\x08\x01"
        await send({"type": "http.response.body", "body": frames})

    async with running_server(negotiating_app) as base:
        report = await run_conformance(
            f"{base}/ag-ui", BUILTIN_SCENARIOS[:1], probes=True, timeout=10, body_limit=64 * 1024,
            headers={"Accept": "*/*", "X-Team": "mine"},
        )  # fmt: skip
    assert len(seen) >= 2 + len(PROBES) + 1
    assert {request["accept"] for request in seen} == {"text/event-stream"}
    assert {request["x-team"] for request in seen} == {"mine"}
    assert {r.get("content-type") for r in seen if r["method"] == "POST"} == {"application/json", "text/plain"}
    rules = {finding.rule for finding in report.findings}
    assert "http.content-type" not in rules
    assert "probe.disconnect" not in rules
