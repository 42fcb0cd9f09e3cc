"""Traces and metrics of runs through the app, the model a loopback fake of Chat Completions.

The spans go to the OpenTelemetry SDK's in-memory exporter; the Prometheus endpoint's text is read with
``prometheus_client``'s own parser.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from agui_server import AGUIConfig, MetricsEndpoint, create_app
from agui_server.agents.openai import OpenAIAgent
from agui_server.agents.tools import tool
from agui_server.http.auth import BearerTokens
from agui_server.observability import METRICS
from tests.support import fake_openai as fo
from tests.support.otel import CLIENT_SPAN_ID, TRACE_ID, TRACEPARENT, Otel, hex_trace, parent_of, span_id
from tests.support.server import running_server
from tests.support.sse import collect_events, run_input, types

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.support.fake_openai import ScriptedUpstream


@tool
async def get_weather(city: str) -> dict[str, Any]:
    """The current weather in a city.

    Args:
        city: the city's name.
    """
    return {"city": city, "temperature": 21}


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[ScriptedUpstream, str]]:
    fake = fo.openai_upstream()
    async with running_server(fake) as base:
        yield fake, base + "/v1"


@pytest.fixture
def otel() -> AsyncIterator[Otel]:
    o = Otel()
    yield o  # type: ignore[misc]
    o.shutdown()


def _client(config: AGUIConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(config)), base_url="http://test", timeout=10)


def _agent(base_url: str) -> OpenAIAgent:
    return OpenAIAgent(fo.MODEL, api_key=fo.API_KEY, base_url=base_url, tools=[get_weather], retry_backoff=0.01)


async def test_a_text_run_is_one_span_tree_from_the_clients_traceparent_to_the_model(
    upstream: tuple[ScriptedUpstream, str], otel: Otel
) -> None:
    fake, base_url = upstream
    fake.add(fo.text(["Hel", "lo"]))
    async with _client(AGUIConfig(agent=_agent(base_url), telemetry=otel.telemetry)) as client:
        response, events, _ids = await collect_events(
            client, "/ag-ui", run_input("Hi", protocolVersion="1.0"), headers={"traceparent": TRACEPARENT}
        )
    assert response.status_code == 200
    assert types(events)[-1] == "RUN_FINISHED"

    request, run, chat = otel.one("agui.request"), otel.one("agui.run"), otel.one(f"chat {fo.MODEL}")
    assert len(otel.spans()) == 3
    # one trace, the client's: request under the client's span, run under request, model call under run
    assert {hex_trace(s) for s in (request, run, chat)} == {TRACE_ID}
    assert parent_of(request) == int(CLIENT_SPAN_ID, 16)
    assert parent_of(run) == span_id(request)
    assert parent_of(chat) == span_id(run)
    assert request.kind is SpanKind.SERVER
    assert chat.kind is SpanKind.CLIENT

    assert dict(run.attributes or {}) == {
        "agui.agent.id": "default",
        "agui.thread.id": "t1",  # the client's id, not the owner-namespaced key
        "agui.run.id": "r1",
        "agui.protocol.version": "1.0",
        "agui.dialect": "ag-ui",
        "agui.principal.id": "anonymous",
        "agui.run.outcome": "success",
        "agui.run.events": len(events),
    }
    assert run.status.status_code is StatusCode.UNSET
    assert request.attributes is not None
    assert request.attributes["agui.run.id"] == "r1"
    assert request.attributes["http.response.status_code"] == 200
    assert request.attributes["agui.stream.completed"] is True
    assert request.attributes["agui.stream.events"] == len(events)

    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == fo.MODEL
    assert attributes["gen_ai.usage.input_tokens"] == 12  # fo.usage_chunk()
    assert attributes["gen_ai.usage.output_tokens"] == 5
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["server.address"] == "127.0.0.1"
    ttft = attributes["gen_ai.response.time_to_first_chunk"]
    assert isinstance(ttft, float)
    assert 0 < ttft < (chat.end_time - chat.start_time) / 1e9  # type: ignore[operator]
    assert fo.API_KEY not in repr([dict(s.attributes or {}) for s in otel.spans()])

    started = otel.points("agui.runs.started")
    ended = otel.points("agui.runs.ended")
    assert [(a, p.value) for a, p in started] == [({"agent": "default"}, 1)]
    assert [(a, p.value) for a, p in ended] == [({"agent": "default", "outcome": "success", "code": ""}, 1)]
    assert [p.value for _a, p in otel.points("agui.runs.active")] == [0]
    assert [p.value for _a, p in otel.points("agui.sent.events")] == [len(events)]
    assert [p.count for _a, p in otel.points("agui.upstream.time_to_first_token")] == [1]


async def test_a_tool_run_has_a_span_per_model_call_and_per_tool_call(
    upstream: tuple[ScriptedUpstream, str], otel: Otel
) -> None:
    fake, base_url = upstream
    fake.add(fo.tool_call("get_weather", '{"city": "Paris"}', "call_1"), fo.text(["Sunny."]))
    async with _client(AGUIConfig(agent=_agent(base_url), telemetry=otel.telemetry)) as client:
        _response, events, _ids = await collect_events(client, "/ag-ui", run_input("Weather?"))
    assert "TOOL_CALL_RESULT" in types(events)

    run = otel.one("agui.run")
    chats = sorted(otel.spans(f"chat {fo.MODEL}"), key=lambda s: s.start_time or 0)
    tool_span = otel.one("execute_tool get_weather")
    assert len(chats) == 2
    assert all(parent_of(s) == span_id(run) for s in (*chats, tool_span))
    # the tool ran between the two model calls
    assert chats[0].end_time <= tool_span.start_time  # type: ignore[operator]
    assert tool_span.end_time <= chats[1].start_time  # type: ignore[operator]
    assert dict(tool_span.attributes or {}) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_1",
        "gen_ai.tool.type": "function",
    }
    assert tool_span.status.status_code is StatusCode.UNSET
    assert chats[0].attributes is not None
    assert chats[0].attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert run.attributes is not None
    assert run.attributes["agui.run.outcome"] == "success"
    assert run.attributes["agui.protocol.version"] == "0"  # a 0.0.x client (no protocolVersion)
    assert [(a, p.value) for a, p in otel.points("agui.tool.calls")] == [({"tool": "get_weather", "error": "false"}, 1)]


async def test_an_upstream_failure_marks_the_model_span_and_the_run_span_with_its_code(
    upstream: tuple[ScriptedUpstream, str], otel: Otel
) -> None:
    fake, base_url = upstream
    fake.add(fo.unauthorized())
    async with _client(AGUIConfig(agent=_agent(base_url), telemetry=otel.telemetry)) as client:
        _response, events, _ids = await collect_events(client, "/ag-ui", run_input("Hi"))
    assert events[-1]["type"] == "RUN_ERROR"
    assert events[-1]["code"] == "UPSTREAM_AUTH_FAILED"

    run, chat = otel.one("agui.run"), otel.one(f"chat {fo.MODEL}")
    assert parent_of(chat) == span_id(run)
    for span in (run, chat):
        assert span.status.status_code is StatusCode.ERROR
        assert span.attributes is not None
        assert span.attributes["error.type"] == "UPSTREAM_AUTH_FAILED"
    assert run.attributes is not None
    assert run.attributes["agui.run.outcome"] == "error"
    assert run.attributes["agui.error.code"] == "UPSTREAM_AUTH_FAILED"
    assert chat.attributes is not None
    assert "gen_ai.response.time_to_first_chunk" not in chat.attributes
    # nothing of the key or the provider's reply (which quotes part of the key) in any span
    text = repr([(s.attributes, s.events, s.status.description) for s in otel.spans()])
    assert fo.API_KEY[:8] not in text
    assert fo.API_KEY[-4:] not in text

    assert [(a, p.value) for a, p in otel.points("agui.upstream.errors")] == [
        ({"provider": "openai", "code": "UPSTREAM_AUTH_FAILED"}, 1)
    ]
    assert [(a, p.value) for a, p in otel.points("agui.runs.ended")] == [
        ({"agent": "default", "outcome": "error", "code": "UPSTREAM_AUTH_FAILED"}, 1)
    ]


async def test_a_rejected_run_ends_its_request_span_with_the_status_and_code(otel: Otel) -> None:
    gate = asyncio.Event()

    async def waiting(input: Any, ctx: Any) -> AsyncIterator[str]:
        await gate.wait()
        yield "done"

    async with _client(AGUIConfig(agent=waiting, telemetry=otel.telemetry, on_disconnect="continue")) as client:
        first = asyncio.create_task(collect_events(client, "/ag-ui", run_input("one", run_id="a")))
        for _ in range(200):
            if otel.points("agui.runs.active") and otel.points("agui.runs.active")[0][1].value == 1:
                break
            await asyncio.sleep(0.01)
        busy = await client.post("/ag-ui", json=run_input("two", run_id="b"))
        gate.set()
        await asyncio.wait_for(first, 10)
    assert busy.status_code == 409
    rejected = [s for s in otel.spans("agui.request") if (s.attributes or {}).get("agui.error.code")]
    assert len(rejected) == 1
    assert rejected[0].attributes is not None
    assert rejected[0].attributes["http.response.status_code"] == 409
    assert rejected[0].attributes["agui.error.code"] == "THREAD_BUSY"
    assert [(a, p.value) for a, p in otel.points("agui.rejections")] == [({"status": "409", "code": "THREAD_BUSY"}, 1)]


# --- the Prometheus endpoint ---------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, read by prometheus_client's own parser."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and wanted <= set(ls)]
    return sum(found)


async def test_the_metrics_endpoint_parses_as_prometheus_text_and_moves_as_runs_happen() -> None:
    config = AGUIConfig(metrics=MetricsEndpoint(token="scrape-secret-123"), strict=True)
    async with _client(config) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
        scrape = {"authorization": "Bearer scrape-secret-123"}
        before = _samples((await client.get("/metrics", headers=scrape)).text)
        assert _value(before, "agui_runs_started_total") == 0

        sent = 0
        for n in range(3):
            _response, events, _ids = await collect_events(client, "/ag-ui", run_input("hi", run_id=f"r{n}"))
            sent += len(events)
        assert (await client.post("/ag-ui", json={"threadId": "t"})).status_code == 422

        response = await client.get("/metrics", headers=scrape)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    after = _samples(response.text)
    assert _value(after, "agui_runs_started_total", agent="default") == 3
    assert _value(after, "agui_runs_ended_total", agent="default", outcome="success", code="") == 3
    assert _value(after, "agui_runs_active", agent="default") == 0
    assert _value(after, "agui_streams_open", kind="run") == 0
    assert _value(after, "agui_sent_events_total", kind="run") == sent
    assert _value(after, "agui_sent_bytes_total", kind="run") > sent * 20
    assert _value(after, "agui_run_duration_seconds_count", agent="default", outcome="success") == 3
    assert _value(after, "agui_run_time_to_first_event_seconds_count", agent="default") == 3
    assert _value(after, "agui_rejections_total", status="422", code="INVALID_INPUT") == 1
    assert _value(after, "agui_rejections_total", status="401", code="UNAUTHENTICATED") == 2  # the bad scrapes


async def test_the_metrics_endpoint_can_require_the_admin_role() -> None:
    auth = BearerTokens.parse("tok-alice alice\ntok-ops ops admin")
    async with _client(AGUIConfig(auth=auth, metrics=MetricsEndpoint(admin=True))) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers={"authorization": "Bearer tok-alice"})).status_code == 403
        answer = await client.get("/metrics", headers={"authorization": "Bearer tok-ops"})
    assert answer.status_code == 200
    assert _value(_samples(answer.text), "agui_rejections_total", status="403", code="FORBIDDEN") == 1


def test_the_metrics_endpoint_is_off_by_default() -> None:
    assert AGUIConfig().metrics is None
    with pytest.raises(ValueError, match="authenticator"):
        AGUIConfig(metrics=MetricsEndpoint(admin=True))


async def test_every_metric_is_on_the_endpoint_under_its_prometheus_name(
    upstream: tuple[ScriptedUpstream, str],
) -> None:
    fake, base_url = upstream
    fake.add(fo.tool_call(), fo.unavailable(), fo.text())
    async with _client(AGUIConfig(agent=_agent(base_url), metrics=MetricsEndpoint())) as client:
        await collect_events(client, "/ag-ui", run_input("Weather?"))
        await client.get("/ag-ui/runs/r1/events", params={"after": 1})
        await client.post("/ag-ui", json={})
        families = {f.name for f in text_string_to_metric_families((await client.get("/metrics")).text)}
    # (the parser names a counter's family without _total; Redis's metrics need a Redis engine)
    expected = {spec.prometheus.removesuffix("_total") for spec in METRICS if not spec.name.startswith("agui.redis.")}
    assert expected - families == set()
