"""Observability without a server: nothing recorded (and the plain path taken) when OpenTelemetry is missing or
not configured, the README's table of metrics, and log lines carrying run and trace ids."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agui_server.agents.base import FunctionAgent, RunContext
from agui_server.observability import METRICS, JsonFormatter, RunContextFilter, Telemetry
from agui_server.observability import telemetry as telemetry_module
from agui_server.observability.telemetry import handoff, received, terminal_labels
from agui_server.protocol import events as ev
from agui_server.protocol.types import RunAgentInput
from agui_server.runs.guard import encode_for_client
from agui_server.runs.recorder import RunRecorder
from tests.support.otel import Otel

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def _recorder(telemetry: Telemetry | None) -> tuple[RunRecorder, list[str]]:
    written: list[str] = []
    recorder = RunRecorder(
        RunAgentInput(thread_id="t", run_id="r", messages=[]),
        RunContext(thread_id="t", run_id="r"),
        lambda _payload, kind: written.append(kind),
        strict=True,
        run_timeout=None,
        telemetry=telemetry,
    )
    return recorder, written


async def _hello(input: Any, ctx: Any) -> AsyncIterator[str]:
    yield "hello"


async def test_without_a_configured_provider_nothing_is_recorded_and_the_plain_sink_runs() -> None:
    telemetry = Telemetry()  # the global providers, which no test sets
    assert telemetry.tracer is None
    assert telemetry.metrics is None
    recorder, written = _recorder(telemetry)
    assert not recorder.scope.observed
    assert recorder.guard._sink == recorder._sink  # no per-event work for observability
    recorder.guard.start()
    await recorder.run(FunctionAgent(_hello))
    assert written[-1] == "RUN_FINISHED"
    assert recorder.scope.span is None
    assert handoff() == ""
    assert received("") == (None, "")


def test_without_the_opentelemetry_api_nothing_is_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    otel = Otel()
    monkeypatch.setattr(telemetry_module, "_OTEL", False)  # as when the otel extra is not installed
    telemetry = Telemetry(tracer_provider=otel.tracer_provider, meter_provider=otel.meter_provider)
    assert telemetry.tracer is None
    assert telemetry.metrics is None
    assert not _recorder(telemetry)[0].scope.observed
    otel.shutdown()


async def test_with_a_provider_the_recorder_counts_events_and_ends_the_span_at_the_terminal() -> None:
    otel = Otel()
    recorder, written = _recorder(otel.telemetry)
    assert recorder.scope.observed
    assert recorder.guard._sink == recorder._observed_sink
    recorder.guard.start()
    await recorder.run(FunctionAgent(_hello))
    [run] = otel.spans("agui.run")
    assert run.attributes is not None
    assert run.attributes["agui.run.events"] == len(written) == 5  # started, start, content, end, finished
    otel.shutdown()


async def test_a_run_a_pre_1_0_client_stops_is_counted_cancelled_as_any_other_cancelled_run() -> None:
    """Such a client gets the cancel as ``RUN_ERROR`` ``CANCELLED`` (protocol.compat.downgrade), written under the
    type of the event the guard emitted (``RUN_FINISHED``): the labels go by what the run did."""
    outcomes = []
    for legacy in (False, True):
        otel = Otel()
        recorder = RunRecorder(
            RunAgentInput(thread_id="t", run_id="r", messages=[]),
            RunContext(thread_id="t", run_id="r", legacy_client=legacy),
            lambda _payload, _kind: None,
            strict=True,
            run_timeout=None,
            telemetry=otel.telemetry,
        )
        recorder.guard.cancelled()  # (stopped before its agent started)
        [(labels, point)] = otel.points("agui.runs.ended")
        [run] = otel.spans("agui.run")
        assert run.attributes is not None
        outcomes.append((labels["outcome"], labels["code"], point.value, run.attributes["agui.run.outcome"]))
        otel.shutdown()
    assert outcomes == [("cancelled", "", 1, "cancelled")] * 2
    cancelled = encode_for_client(ev.RunFinishedEvent(thread_id="t", run_id="r", outcome=ev.CancelledOutcome()), True)
    assert terminal_labels("RUN_FINISHED", cancelled) == ("cancelled", "")
    no_worker = b'{"type":"RUN_ERROR","message":"m","code":"NO_WORKER"}'
    assert terminal_labels("RUN_ERROR", no_worker) == ("error", "NO_WORKER")
    assert terminal_labels("RUN_FINISHED", b'{"type":"RUN_FINISHED","threadId":"t","runId":"r"}') == ("success", "")


def test_a_handoff_that_cannot_be_read_is_ignored() -> None:
    assert received("{not json") == (None, "")
    assert received(b'{"carrier": 5}') == (None, "")


# --- the README's table of metrics -------------------------------------------------------------


def _readme_metrics() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n### Metrics\n", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `agui.")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows]


def test_the_readme_lists_every_metric_as_defined() -> None:
    rows = _readme_metrics()
    assert [row[0] for row in rows] == [spec.name for spec in METRICS]
    for row, spec in zip(rows, METRICS, strict=True):
        name, prometheus, kind, unit, labels, _meaning = row
        assert prometheus == spec.prometheus, name
        assert kind == spec.kind, name
        assert unit == spec.unit, name
        assert labels == (", ".join(spec.labels) or "—"), name


# --- logs --------------------------------------------------------------------------------------


async def test_log_lines_of_a_run_carry_its_run_and_trace_ids_in_text_and_json() -> None:
    otel = Otel()
    logger = logging.getLogger("agui_server.test_observability")
    text_out, json_out = io.StringIO(), io.StringIO()
    text_handler, json_handler = logging.StreamHandler(text_out), logging.StreamHandler(json_out)
    text_handler.setFormatter(logging.Formatter("%(message)s%(agui_context)s"))
    json_handler.setFormatter(JsonFormatter())
    for handler in (text_handler, json_handler):
        handler.addFilter(RunContextFilter())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    async def talking(input: Any, ctx: Any) -> AsyncIterator[str]:
        logger.info("inside the run")
        yield "hi"

    try:
        logger.info("outside any run")
        recorder, _written = _recorder(otel.telemetry)
        recorder.guard.start()
        await recorder.run(FunctionAgent(talking))
    finally:
        logger.removeHandler(text_handler)
        logger.removeHandler(json_handler)
        otel.shutdown()
    [run] = otel.spans("agui.run")
    assert run.context is not None
    trace_id, span_id = format(run.context.trace_id, "032x"), format(run.context.span_id, "016x")

    outside, inside = text_out.getvalue().splitlines()
    assert outside == "outside any run"
    assert inside == f"inside the run [run=r trace={trace_id}]"

    lines = [json.loads(line) for line in json_out.getvalue().splitlines()]
    assert set(lines[0]) == {"time", "level", "logger", "message"}
    assert lines[1]["message"] == "inside the run"
    assert lines[1]["run_id"] == "r"
    assert lines[1]["thread_id"] == "t"
    assert lines[1]["trace_id"] == trace_id
    assert lines[1]["span_id"] == span_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", lines[1]["time"])
