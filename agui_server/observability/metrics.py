"""Every metric the server records: its name, kind, unit, labels and meaning, defined here once.

The instruments are made through the OpenTelemetry metrics API (:class:`Metrics`), so they go wherever the
application's meter provider sends them (OTLP, the Prometheus endpoint of ``AGUIConfig.metrics``). The
README's table of metrics is checked against :data:`METRICS` by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ("DURATION_BUCKETS", "METRICS", "MetricSpec", "Metrics")

Kind = Literal["counter", "updown", "histogram", "gauge"]

DURATION_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
)  # fmt: skip
"""Seconds: the bucket bounds of every duration histogram (from a millisecond to a long agent run)."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric."""

    name: str
    kind: Kind
    unit: str
    labels: tuple[str, ...]
    description: str

    @property
    def prometheus(self) -> str:
        """Its name on the Prometheus endpoint (the OpenTelemetry exporter's translation: dots to underscores,
        the unit as a suffix, ``_total`` for counters)."""
        name = self.name.replace(".", "_")
        suffix = _UNIT_SUFFIXES.get(self.unit)
        if suffix is not None and not name.endswith(f"_{suffix}"):
            name = f"{name}_{suffix}"
        return f"{name}_total" if self.kind == "counter" else name


_UNIT_SUFFIXES: Final = {"s": "seconds", "By": "bytes"}


METRICS: Final = (
    MetricSpec("agui.runs.started", "counter", "{run}", ("agent",), "Runs started (the recorder's RUN_STARTED)."),
    MetricSpec(
        "agui.runs.ended", "counter", "{run}", ("agent", "outcome", "code"),
        "Runs ended: outcome success, cancelled, interrupt or error; code the RUN_ERROR code (empty otherwise).",
    ),
    MetricSpec("agui.runs.active", "updown", "{run}", ("agent",), "Runs in progress in this process."),
    MetricSpec(
        "agui.run.time_to_first_event", "histogram", "s", ("agent",),
        "From a run's start in this process to the first event its agent produced after RUN_STARTED.",
    ),
    MetricSpec(
        "agui.run.duration", "histogram", "s", ("agent", "outcome"), "From a run's start to its terminal event."
    ),
    MetricSpec("agui.streams.open", "updown", "{stream}", ("kind",), "SSE streams open: kind run or feed."),
    MetricSpec(
        "agui.sent.events", "counter", "{event}", ("kind",), "Frames written to SSE streams (counted as each ends)."
    ),
    MetricSpec("agui.sent.bytes", "counter", "By", ("kind",), "Bytes written to SSE streams (counted as each ends)."),
    MetricSpec("agui.resumes", "counter", "{request}", ("kind",), "Streams resumed from a cursor (run or feed)."),
    MetricSpec(
        "agui.rejections", "counter", "{request}", ("status", "code"),
        "Requests answered with a JSON error before any stream (409, 413, 422, 429, 503 …), by code.",
    ),
    MetricSpec(
        "agui.upstream.duration", "histogram", "s", ("provider", "model", "code"),
        "One model request, from sending it to the end of its stream; code ok or the failure's RUN_ERROR code.",
    ),
    MetricSpec(
        "agui.upstream.time_to_first_token", "histogram", "s", ("provider", "model"),
        "From sending a model request to the first event its stream produced.",
    ),
    MetricSpec(
        "agui.upstream.errors", "counter", "{request}", ("provider", "code"),
        "Model requests that failed, by RUN_ERROR code (retried ones included).",
    ),
    MetricSpec("agui.tool.calls", "counter", "{call}", ("tool", "error"), "Backend tool calls; error true or false."),
    MetricSpec(
        "agui.redis.queue.depth", "gauge", "{run}", (),
        "Runs waiting in the Redis queue, as seen at the last submission or claim in this process.",
    ),
    MetricSpec(
        "agui.redis.claim_latency", "histogram", "s", (),
        "From a run's submission to a worker's claim of it (Redis server time).",
    ),
)  # fmt: skip
"""Every metric, in the order of the README's table."""


class Metrics:
    """The instruments of :data:`METRICS`, made from one OpenTelemetry meter; one attribute per metric (the name
    after ``agui.`` with dots as underscores: ``runs_started``, ``redis_queue_depth`` …)."""

    runs_started: Any
    runs_ended: Any
    runs_active: Any
    run_time_to_first_event: Any
    run_duration: Any
    streams_open: Any
    sent_events: Any
    sent_bytes: Any
    resumes: Any
    rejections: Any
    upstream_duration: Any
    upstream_time_to_first_token: Any
    upstream_errors: Any
    tool_calls: Any
    redis_queue_depth: Any
    redis_claim_latency: Any

    def __init__(self, meter: Any, specs: Sequence[MetricSpec] = METRICS) -> None:
        for spec in specs:
            make = {
                "counter": meter.create_counter,
                "updown": meter.create_up_down_counter,
                "gauge": meter.create_gauge,
            }.get(spec.kind)
            if make is not None:
                instrument = make(spec.name, unit=spec.unit, description=spec.description)
            else:
                instrument = meter.create_histogram(
                    spec.name,
                    unit=spec.unit,
                    description=spec.description,
                    explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
                )
            setattr(self, spec.name.removeprefix("agui.").replace(".", "_"), instrument)
