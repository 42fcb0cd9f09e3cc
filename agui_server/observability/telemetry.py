"""Traces and metrics through the OpenTelemetry API, and the run a log line belongs to.

The seams, each written once:

- the web side: :func:`start_request` opens an ``agui.request`` span for a request that starts a run
  (continuing the client's ``traceparent``), which ends when the request's stream does;
- the run: :class:`RunScope`, made by the run recorder of every engine, opens the ``agui.run`` span (a
  child of the request's span, in process or, over Redis, through :func:`handoff` / :func:`received`),
  counts the run's events and closes it at the terminal event (labelled by :func:`terminal_labels`); a run
  that a process ends without executing it (over Redis: the reaper's, a stop while queued) is counted by
  :func:`count_ended`, with the same labels;
- the model and tools: :class:`ModelCall` (a GenAI ``chat`` span per model request) and :class:`ToolCall`
  (an ``execute_tool`` span per backend tool call), children of the run's span;
- metrics: :class:`~agui_server.observability.metrics.Metrics`.

Nothing is recorded, and almost nothing is spent, when the API is not installed or the application
configured no tracer or meter provider: the run and request code asks :class:`Telemetry` once per run or
request and carries ``None`` onwards.
"""

from __future__ import annotations

import contextvars
import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import msgspec

from agui_server.observability.metrics import Metrics
from agui_server.protocol.compat import CANCELLED_CODE

try:
    from opentelemetry import context as otel_context
    from opentelemetry import metrics as otel_metrics
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, StatusCode

    _OTEL = True
except ImportError:  # pragma: no cover - the otel extra is not installed
    _OTEL = False

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import TracebackType

    from agui_server.agents.base import RunContext
    from agui_server.protocol.types import RunAgentInput, TokenUsage

__all__ = (
    "REQUEST_SPAN",
    "RUN_SPAN",
    "ModelCall",
    "RequestScope",
    "RunScope",
    "Telemetry",
    "ToolCall",
    "count_ended",
    "current_run",
    "current_trace_ids",
    "handoff",
    "received",
    "start_request",
    "terminal_labels",
)

SCOPE_NAME: Final = "agui_server"
"""The instrumentation scope of every span and metric."""
RECHECK: Final = 1.0
"""Seconds between two looks for the global providers while none is configured."""
RUN_SPAN: Final = "agui.run"
REQUEST_SPAN: Final = "agui.request"

# span attributes (the gen_ai.* ones follow the OpenTelemetry GenAI semantic conventions)
A_AGENT: Final = "agui.agent.id"
A_THREAD: Final = "agui.thread.id"
A_RUN: Final = "agui.run.id"
A_PROTOCOL: Final = "agui.protocol.version"
A_ROUTE: Final = "agui.dialect"
A_PRINCIPAL: Final = "agui.principal.id"
A_OUTCOME: Final = "agui.run.outcome"
A_CODE: Final = "agui.error.code"
A_EVENTS: Final = "agui.run.events"
A_SENT: Final = "agui.stream.events"
A_COMPLETED: Final = "agui.stream.completed"
A_STATUS: Final = "http.response.status_code"
A_ERROR_TYPE: Final = "error.type"

_RUN: contextvars.ContextVar[RunScope | None] = contextvars.ContextVar("agui_run", default=None)
_ROUTE: contextvars.ContextVar[str] = contextvars.ContextVar("agui_route", default="")


def current_run() -> RunScope | None:
    """The run whose task this is (for the agents' spans and the log lines' run ids)."""
    return _RUN.get()


def current_trace_ids() -> tuple[str, str] | None:
    """The current span's trace and span ids in hex (``None`` without a recording span)."""
    if not _OTEL:
        return None
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def _noop_meter_provider(provider: Any) -> bool:
    return isinstance(provider, otel_metrics.NoOpMeterProvider) or type(provider).__name__ == "_ProxyMeterProvider"


class Telemetry:
    """Where the server's spans and metrics go.

    Args:
        tracer_provider: an OpenTelemetry tracer provider; default the global one (``trace.set_tracer_provider``,
            ``opentelemetry-instrument``).
        meter_provider: an OpenTelemetry meter provider; default the global one.

    Without the ``opentelemetry-api`` package, or while no provider is configured, :attr:`tracer` and
    :attr:`metrics` are ``None`` and nothing is recorded.
    """

    __slots__ = ("_metrics", "_next_check", "_tracer", "meter_provider", "tracer_provider")

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None) -> None:
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self._tracer: Any = None
        self._metrics: Metrics | None = None
        self._next_check = 0.0

    @property
    def tracer(self) -> Any:
        """The tracer, or ``None`` when tracing is off."""
        if self._tracer is None:
            self._resolve()
        return self._tracer

    @property
    def metrics(self) -> Metrics | None:
        """The instruments, or ``None`` when metrics are off."""
        if self._metrics is None:
            self._resolve()
        return self._metrics

    def _resolve(self) -> None:
        """Look for configured providers, at most once every :data:`RECHECK` seconds while there is none (a
        provider the application sets later is used from then on; until then a run costs one clock read)."""
        now = time.monotonic()
        if not _OTEL or now < self._next_check:
            return
        self._next_check = now + RECHECK
        if self._tracer is None:
            provider = self.tracer_provider if self.tracer_provider is not None else trace.get_tracer_provider()
            if not isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
                self._tracer = provider.get_tracer(SCOPE_NAME)
        if self._metrics is None:
            provider = self.meter_provider if self.meter_provider is not None else otel_metrics.get_meter_provider()
            if not _noop_meter_provider(provider):
                self._metrics = Metrics(provider.get_meter(SCOPE_NAME))


# --- the web side ------------------------------------------------------------------------------


class RequestScope:
    """The ``agui.request`` span of a request that starts a run, from its arrival to the end of its stream."""

    __slots__ = ("_route_token", "_token", "span")

    def __init__(self, span: Any) -> None:
        self.span = span
        self._token: Any = None
        self._route_token: Any = None

    def __enter__(self) -> RequestScope:
        """Make the span the current one (what the run starts under)."""
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(self, *exc_info: object) -> None:
        otel_context.detach(self._token)

    def run(self, thread_id: str, run_id: str) -> None:
        """The run the request started (or re-attached to)."""
        self.span.set_attributes({A_THREAD: thread_id, A_RUN: run_id})

    def rejected(self, status: int, code: str) -> None:
        """The request was answered with a JSON error; the span ends."""
        self.span.set_attributes({A_STATUS: status, A_CODE: code, A_ERROR_TYPE: code})
        if status >= 500:
            self.span.set_status(StatusCode.ERROR, code)
        self.span.end()

    def closed(self, completed: bool, events: int, status: int = 200) -> None:
        """The request's answer ended: its stream was read to the end (``completed``) or the client left."""
        self.span.set_attributes({A_STATUS: status, A_COMPLETED: completed, A_SENT: events})
        self.span.end()


def start_request(telemetry: Telemetry, headers: Mapping[str, str], route: str, agent_id: str) -> RequestScope | None:
    """Open the ``agui.request`` span of a request that starts a run (``None`` when tracing is off).

    Its parent is the current span (an ASGI instrumentation's), else the client's ``traceparent``. The route
    is kept for the run's span too (over Redis it travels with :func:`handoff`).
    """
    _ROUTE.set(route)
    tracer = telemetry.tracer
    if tracer is None:
        return None
    parent = None if trace.get_current_span().get_span_context().is_valid else propagate.extract(headers)
    span = tracer.start_span(
        REQUEST_SPAN, context=parent, kind=SpanKind.SERVER, attributes={A_ROUTE: route, A_AGENT: agent_id}
    )
    return RequestScope(span)


class _Handoff(msgspec.Struct, omit_defaults=True):
    carrier: dict[str, str] = {}
    route: str = ""


def handoff() -> str:
    """The current trace context and route, for a run queued to another process (``""`` when untraced)."""
    if not _OTEL or not trace.get_current_span().get_span_context().is_valid:
        return ""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return msgspec.json.encode(_Handoff(carrier, _ROUTE.get())).decode()


def received(text: str | bytes | None) -> tuple[Any, str]:
    """The parent context and route :func:`handoff` sent (``None, ""`` when none, or unreadable)."""
    if not text or not _OTEL:
        return None, ""
    try:
        sent = msgspec.json.decode(text, type=_Handoff)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, ""
    return propagate.extract(sent.carrier), sent.route


# --- the run -----------------------------------------------------------------------------------


class _Terminal(msgspec.Struct):
    type: str = ""
    code: str | None = None
    outcome: dict[str, Any] | None = None


_terminal = msgspec.json.Decoder(_Terminal)


def terminal_labels(event_type: str, payload: bytes) -> tuple[str, str]:
    """The outcome and code a run's terminal event gives its metrics and span: ``error`` and the RUN_ERROR's
    code, or the RUN_FINISHED's outcome type (``success`` when it has none) and ``""``.

    The payload's own ``type`` decides (``event_type`` when it has none): a run's cancel reaches a pre-1.0
    client as ``RUN_ERROR`` ``CANCELLED`` (protocol.compat.downgrade) under the type of the ``RUN_FINISHED``
    it stands for, and is labelled ``cancelled``, as the run's status is (redis/writer.status_of_terminal).
    """
    try:
        terminal = _terminal.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        terminal = _Terminal()
    if (terminal.type or event_type) == "RUN_ERROR":
        if terminal.code == CANCELLED_CODE:
            return "cancelled", ""
        return "error", terminal.code or ""
    return str((terminal.outcome or {}).get("type", "success")), ""


def count_ended(telemetry: Telemetry | None, agent_id: str, event_type: str, payload: bytes) -> None:
    """A run this process ended without executing it, with that terminal event: over Redis, the reaper's
    ``WORKER_LOST`` and ``NO_WORKER``, and a stop of a run still queued. Counted in ``agui.runs.ended``,
    labelled as :meth:`RunScope.ended` labels it; not in ``agui.runs.active`` (counted per process: such a
    run was never active here, and one whose worker died was active in that worker only) nor
    ``agui.run.duration`` (it did not start here)."""
    metrics = telemetry.metrics if telemetry is not None else None
    if metrics is not None:
        outcome, code = terminal_labels(event_type, payload)
        metrics.runs_ended.add(1, {"agent": agent_id, "outcome": outcome, "code": code})


class RunScope:
    """One run as the traces, metrics and logs see it (made by the run recorder).

    Args:
        input: the run's input.
        ctx: the run's context.
        telemetry: where spans and metrics go (``None``: nowhere).
        parent: the parent context of the run's span (``None``: the current one).
        route: the route or dialect the run was started through (``None``: the current request's).
    """

    __slots__ = (
        "_first", "_token", "agent_id", "events", "metrics", "run_id", "span", "started", "thread_id", "tracer",
    )  # fmt: skip

    def __init__(
        self,
        input: RunAgentInput,
        ctx: RunContext,
        telemetry: Telemetry | None,
        *,
        parent: Any = None,
        route: str | None = None,
    ) -> None:
        self.run_id = ctx.run_id
        self.thread_id = ctx.thread_id
        self.agent_id = ctx.agent_id
        self.events = 0
        self.span: Any = None
        self.tracer: Any = None
        self.metrics: Metrics | None = None
        self._first = True
        self._token: Any = None
        self.started = 0.0
        if telemetry is None:
            return
        self.tracer = tracer = telemetry.tracer
        self.metrics = metrics = telemetry.metrics
        if tracer is None and metrics is None:
            return
        self.started = time.perf_counter()
        if tracer is not None:
            self.span = tracer.start_span(
                RUN_SPAN,
                context=parent,
                attributes={
                    A_AGENT: ctx.agent_id,
                    A_THREAD: ctx.thread_id,
                    A_RUN: ctx.run_id,
                    A_PROTOCOL: input.protocol_version or "0",
                    A_ROUTE: _ROUTE.get() if route is None else route,
                    A_PRINCIPAL: ctx.principal.id,
                },
            )
        if metrics is not None:
            labels = {"agent": ctx.agent_id}
            metrics.runs_started.add(1, labels)
            metrics.runs_active.add(1, labels)

    @property
    def observed(self) -> bool:
        """Whether anything is recorded for this run."""
        return self.started != 0.0

    def event(self) -> None:
        """One more event of the run (called for observed runs only)."""
        self.events += 1
        if self._first and self.events == 2:  # the first after RUN_STARTED
            self._first = False
            if self.metrics is not None:
                self.metrics.run_time_to_first_event.record(
                    time.perf_counter() - self.started, {"agent": self.agent_id}
                )

    def ended(self, event_type: str, payload: bytes) -> None:
        """The run's terminal event was written: close its span, count it."""
        if not self.observed:
            return
        self.started, started = 0.0, self.started
        outcome, code = terminal_labels(event_type, payload)
        metrics = self.metrics
        if metrics is not None:
            agent = {"agent": self.agent_id}
            metrics.runs_active.add(-1, agent)
            metrics.runs_ended.add(1, {"agent": self.agent_id, "outcome": outcome, "code": code})
            metrics.run_duration.record(time.perf_counter() - started, {"agent": self.agent_id, "outcome": outcome})
        span = self.span
        if span is not None:
            span.set_attributes({A_OUTCOME: outcome, A_EVENTS: self.events})
            if code:
                span.set_attributes({A_CODE: code, A_ERROR_TYPE: code})
                span.set_status(StatusCode.ERROR, code)
            span.end()

    def abandon(self) -> None:
        """The run stopped without a terminal event (its task never ran): close what is open."""
        self.ended("RUN_ERROR", b'{"code":"INTERNAL_ERROR"}')

    def enter(self) -> None:
        """The run's task starts: the run is current (its span, for the agent's spans; its ids, for logs)."""
        _RUN.set(self)
        if self.span is not None:
            self._token = otel_context.attach(trace.set_span_in_context(self.span))

    def exit(self) -> None:
        """The run's task ends."""
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None
        _RUN.set(None)


# --- the model and tools -----------------------------------------------------------------------


class ModelCall:
    """One model request of a run: a GenAI ``chat`` span (a child of the run's current span) and the upstream
    metrics. Every method is safe to call on a run that records nothing."""

    __slots__ = ("_code", "_first", "_labels", "_metrics", "_span", "_started")

    def __init__(self, run: RunScope | None, provider: str, model: str, base_url: str) -> None:
        self._span: Any = None
        self._metrics = metrics = run.metrics if run is not None else None
        tracer = run.tracer if run is not None else None
        self._started = time.perf_counter()
        self._first = 0.0
        self._code = "ok"
        self._labels = {"provider": provider, "model": model}
        if tracer is not None:
            url = urlsplit(base_url)
            attributes: dict[str, Any] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": provider,
                "gen_ai.system": provider,
                "gen_ai.request.model": model,
            }
            if url.hostname:
                attributes["server.address"] = url.hostname
                attributes["server.port"] = url.port or (443 if url.scheme == "https" else 80)
            self._span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes)
        elif metrics is None:
            self._started = 0.0

    def first_event(self) -> None:
        """The response's stream produced its first event (the time to first token)."""
        if self._first or not self._started:
            return
        self._first = time.perf_counter()
        elapsed = self._first - self._started
        if self._span is not None:
            self._span.set_attribute("gen_ai.response.time_to_first_chunk", elapsed)
            self._span.add_event("gen_ai.first_token")
        if self._metrics is not None:
            self._metrics.upstream_time_to_first_token.record(elapsed, self._labels)

    def finished(self, usage: TokenUsage | None, stop_reason: str | None) -> None:
        """The turn's stream ended: its usage (when the provider reported it) and finish reason."""
        span = self._span
        if span is None:
            return
        if stop_reason:
            span.set_attribute("gen_ai.response.finish_reasons", (stop_reason,))
        if usage is not None:
            if usage.model:
                span.set_attribute("gen_ai.response.model", usage.model)
            if usage.input_tokens is not None:
                span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
            if usage.output_tokens is not None:
                span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)

    def failed(self, code: str) -> None:
        """The request failed with this ``RUN_ERROR`` code."""
        self._code = code
        if self._span is not None:
            self._span.set_attribute(A_ERROR_TYPE, code)
            self._span.set_status(StatusCode.ERROR, code)
        if self._metrics is not None:
            self._metrics.upstream_errors.add(1, {"provider": self._labels["provider"], "code": code})

    def end(self) -> None:
        """The request is over (finished, failed or cancelled)."""
        if not self._started:
            return
        if self._metrics is not None:
            self._metrics.upstream_duration.record(
                time.perf_counter() - self._started, {**self._labels, "code": self._code}
            )
        if self._span is not None:
            self._span.end()
        self._started = 0.0


class ToolCall:
    """One backend tool call: an ``execute_tool`` span, current while the tool runs (so what the tool traces
    nests under it), and the ``agui.tool.calls`` metric."""

    __slots__ = ("_metrics", "_span", "_token", "error", "name")

    def __init__(self, name: str, call_id: str) -> None:
        run = _RUN.get()
        self.name = name
        self.error = False
        self._span: Any = None
        self._token: Any = None
        self._metrics = run.metrics if run is not None else None
        if run is not None and run.tracer is not None:
            self._span = run.tracer.start_span(
                f"execute_tool {name}",
                kind=SpanKind.INTERNAL,
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": name,
                    "gen_ai.tool.call.id": call_id,
                    "gen_ai.tool.type": "function",
                },
            )

    def __enter__(self) -> ToolCall:
        if self._span is not None:
            self._token = otel_context.attach(trace.set_span_in_context(self._span))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        error = self.error or exc is not None
        if self._span is not None:
            otel_context.detach(self._token)
            if error:
                self._span.set_attribute(A_ERROR_TYPE, "tool_error" if exc is None else type(exc).__name__)
                self._span.set_status(StatusCode.ERROR)
            self._span.end()
        if self._metrics is not None:
            self._metrics.tool_calls.add(1, {"tool": self.name, "error": "true" if error else "false"})
