"""Our server serving the benchmark agent with OpenTelemetry off and on: ``uvicorn benchmarks.apps.tracing:<name>``.

- ``off``: no tracer or meter provider configured (the default of an application that installed nothing);
- ``noop_exporter``: an SDK tracer provider whose batch processor hands the spans to an exporter that drops
  them (what the SDK costs before the network);
- ``memory_exporter``: an SDK tracer provider whose simple processor hands each span, as it ends, to the SDK's
  in-memory exporter (kept in the process: memory grows with the runs of one benchmark);
- ``metrics``: tracing off, the Prometheus endpoint on (every metric recorded into the SDK's meter provider).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agui_server import AGUIConfig, create_app
from agui_server.observability import MetricsEndpoint, Telemetry
from benchmarks.apps.agent import agent

if TYPE_CHECKING:
    from collections.abc import Sequence

    from litestar import Litestar

__all__ = ("VARIANTS",)

VARIANTS: Final = ("off", "noop_exporter", "memory_exporter", "metrics")
"""The apps, in the order of the table (the first is the baseline)."""


class _DropSpans(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _app(**config: Any) -> Litestar:
    return create_app(AGUIConfig(agent=agent, log_requests=False, **config))


def _tracer(processor: Any) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider


def telemetry_variants() -> dict[str, Telemetry | None]:
    """The variants as the run engine takes them (``none``: no telemetry object at all)."""
    from agui_server.observability import PrometheusMetrics

    return {
        "none": None,
        "off": Telemetry(),
        "noop_exporter": Telemetry(tracer_provider=_tracer(BatchSpanProcessor(_DropSpans()))),
        "memory_exporter": Telemetry(tracer_provider=_tracer(SimpleSpanProcessor(InMemorySpanExporter()))),
        "metrics": Telemetry(meter_provider=PrometheusMetrics().provider),
    }


off = _app()
noop_exporter = _app(telemetry=Telemetry(tracer_provider=_tracer(BatchSpanProcessor(_DropSpans()))))
memory_exporter = _app(telemetry=Telemetry(tracer_provider=_tracer(SimpleSpanProcessor(InMemorySpanExporter()))))
metrics = _app(metrics=MetricsEndpoint())
