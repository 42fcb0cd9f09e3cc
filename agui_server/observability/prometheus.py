"""The Prometheus text endpoint's metrics: an OpenTelemetry SDK meter provider read by the OpenTelemetry
Prometheus exporter into a registry of its own (not ``prometheus_client``'s global one, so two apps in one
process never mix their metrics).

Needs the ``prometheus`` extra: ``pip install "agui-server[prometheus]"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ("CONTENT_TYPE", "MetricsEndpoint", "PrometheusMetrics")

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class MetricsEndpoint:
    """``AGUIConfig.metrics``: serve the server's metrics in the Prometheus text format.

    With neither ``token`` nor ``admin`` anyone who reaches the port may read them: keep such an endpoint
    on an internal interface.
    """

    path: str = "/metrics"
    """Where the endpoint is mounted (``GET``)."""
    token: str | None = None
    """A bearer token the scraper must send (``Authorization: Bearer <token>``; Prometheus'
    ``authorization.credentials``)."""
    admin: bool = False
    """The caller must be an ``admin`` of the server's authenticator (``AGUIConfig.auth``)."""


class PrometheusMetrics:
    """A meter provider whose metrics :meth:`render` writes in the Prometheus text format.

    Raises:
        ImportError: the ``prometheus`` extra is not installed.
    """

    def __init__(self) -> None:
        try:
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
            from opentelemetry.sdk.metrics import MeterProvider
            from prometheus_client import CollectorRegistry
        except ImportError as exc:  # pragma: no cover - depends on the installed extras
            raise ImportError(
                'The metrics endpoint needs the prometheus extra: pip install "agui-server[prometheus]"'
            ) from exc
        self.registry: Any = CollectorRegistry()
        self.reader: Any = PrometheusMetricReader(registry=self.registry)
        self.provider: Any = MeterProvider(metric_readers=[self.reader])

    def render(self) -> bytes:
        """The current value of every metric, in the Prometheus text format."""
        from prometheus_client import generate_latest

        return bytes(generate_latest(self.registry))

    def shutdown(self) -> None:
        """Stop the meter provider (the reader leaves the registry)."""
        self.provider.shutdown()
