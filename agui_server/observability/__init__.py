"""Observability: OpenTelemetry traces and metrics, the Prometheus endpoint, logs with run and trace ids.

See the README's "Observability" section; every metric is defined in :mod:`.metrics` (``METRICS``).
"""

from __future__ import annotations

from agui_server.observability.logs import JsonFormatter, RunContextFilter, configure_logging
from agui_server.observability.metrics import METRICS, Metrics, MetricSpec
from agui_server.observability.prometheus import MetricsEndpoint, PrometheusMetrics
from agui_server.observability.telemetry import REQUEST_SPAN, RUN_SPAN, Telemetry, current_run

__all__ = (
    "METRICS",
    "REQUEST_SPAN",
    "RUN_SPAN",
    "JsonFormatter",
    "MetricSpec",
    "Metrics",
    "MetricsEndpoint",
    "PrometheusMetrics",
    "RunContextFilter",
    "Telemetry",
    "configure_logging",
    "current_run",
)
