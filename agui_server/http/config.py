"""``AGUIConfig``: everything the plugin needs to know, with defaults that serve a newcomer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from agui_server.agents.base import DEFAULT_AGENT_ID
from agui_server.dialects.routes import FeedRoute, RunRoute
from agui_server.runs.backend import MAX_EVENTS_PER_RUN, RUN_RETENTION, RUN_TIMEOUT, DisconnectPolicy
from agui_server.runs.config import MemoryBackend, RedisBackend

if TYPE_CHECKING:
    from agui_server.observability.prometheus import MetricsEndpoint
    from agui_server.observability.telemetry import Telemetry

__all__ = ("RESERVED_AGENT_IDS", "AGUIConfig")

RESERVED_AGENT_IDS: Final = frozenset({"connect", "runs", "threads"})
"""Path segments under ``path`` that are endpoints, so no agent may take them as its id (and ``playground``
when the playground is on)."""


@dataclass
class AGUIConfig:
    """Configuration of :class:`~agui_server.http.plugin.AGUIPlugin`."""

    agent: Any = None
    """The default agent: an agent instance, an agent class or an async generator function.
    ``None`` serves the built-in offline agent."""
    agent_id: str = DEFAULT_AGENT_ID
    """The id the default agent is served under (also at ``<path>/<agent_id>``)."""
    agents: dict[str, Any] = field(default_factory=dict)
    """More agents by id, each served at ``<path>/<id>``."""
    path: str = "/ag-ui"
    """Where the AG-UI endpoints are mounted: ``POST <path>`` runs the default agent."""
    agents_path: str = "/agents"
    """Where the subscription endpoints are mounted (``GET <agents_path>/<id>/sse``,
    ``POST <agents_path>/<id>/messages``)."""
    keepalive_interval: float = 15.0
    """Seconds of silence after which a ``: ping`` comment is sent, so proxies keep the stream open."""
    max_body_size: int = 1024 * 1024
    """Largest accepted request body, in bytes; larger bodies get 413."""
    strict: bool = False
    """End a run with ``RUN_ERROR`` (``AGENT_PROTOCOL_ERROR``) when its agent breaks an AG-UI rule.
    When off, the offending event is dropped and logged. Turn it on in development and tests."""
    run_timeout: float | None = RUN_TIMEOUT
    """Seconds a run may take before it ends with ``RUN_ERROR`` (``RUN_TIMEOUT``); ``None``: no limit."""
    on_disconnect: str = "cancel"
    """What a run does when its client disconnects early: ``cancel``, ``continue`` or
    ``grace:SECONDS`` (continue for that long, then cancel unless a client resumed). A request may
    choose its own with the ``X-AGUI-On-Disconnect`` header or the ``on_disconnect`` query parameter."""
    busy_policy: Literal["reject", "supersede"] = "reject"
    """A second run on a thread with a run in progress: ``reject`` (409 ``THREAD_BUSY``) or
    ``supersede`` (the running one is cancelled)."""
    max_threads: int = 10_000
    """Threads kept by the default stores."""
    max_messages_per_thread: int = 1_000
    """Messages kept per thread by the default stores."""
    thread_max_age: float | None = 7 * 24 * 3600.0
    """Seconds a thread is kept after its last run by the default stores."""
    run_retention: float = RUN_RETENTION
    """Seconds a finished run's events stay readable (resume, re-attach)."""
    max_events_per_run: int = MAX_EVENTS_PER_RUN
    """Events a run's log keeps; a resume from before them gets 410."""
    retry_ms: int = 2_000
    """The ``retry:`` hint sent on resumable streams (milliseconds before an ``EventSource`` reconnects)."""
    backend: MemoryBackend | RedisBackend = field(default_factory=MemoryBackend)
    """Where runs, threads and feeds live: :class:`~agui_server.runs.config.MemoryBackend` (this process, the
    default; its thread store) or :class:`~agui_server.runs.config.RedisBackend` (shared by several web and
    worker processes; its URL, worker slots, lease …)."""
    auth: Any = None
    """Who is calling: an :class:`~agui_server.http.auth.Authenticator` (``BearerTokens`` …). ``None``:
    nobody is authenticated and every caller is the one anonymous principal (local development; the
    command line warns when such a server listens beyond loopback)."""
    thread_owner: Any = None
    """``(principal) -> str``: whose threads a principal works in (default: its own, ``principal.id``).
    Return a team's id to let its members share threads and runs. Another owner's threads and runs answer
    404, as if they did not exist."""
    max_streams_per_principal: int | None = 64
    """Streams one authenticated principal may hold open at once, per web process (``429
    TOO_MANY_REQUESTS`` past it; not applied without ``auth``). ``None``: no limit."""
    max_runs_per_principal: int | None = 16
    """Runs one authenticated principal may have in progress at once, on the whole deployment (``429
    TOO_MANY_REQUESTS``; not applied without ``auth``). ``None``: no limit."""
    max_runs: int | None = 10_000
    """Runs in progress at once on the whole deployment (``503 SERVER_BUSY`` with ``Retry-After`` past it).
    ``None``: no limit."""
    max_run_starts_per_minute: int | None = 600
    """Runs one authenticated principal may start in any 60 seconds, per web process (``429`` with
    ``Retry-After``; not applied without ``auth``). ``None``: no limit."""
    reader_extras: bool = False
    """Add what some hand-written readers look for to ``POST <path>``'s AG-UI stream: ``finalContent`` on
    ``TEXT_MESSAGE_END`` and an ``ERROR`` event (``message``, ``code``) after ``RUN_ERROR``
    (:class:`~agui_server.dialects.ReaderExtras`). Off: strict AG-UI."""
    routes: list[RunRoute | FeedRoute] = field(default_factory=list)
    """More routes, each in a dialect: :class:`~agui_server.dialects.RunRoute` and
    :class:`~agui_server.dialects.FeedRoute`, mounted at their own paths (outside ``path``)."""
    allowed_origins: list[str] = field(default_factory=list)
    """Origins allowed by CORS (``["*"]`` for any). Empty: CORS stays off."""
    log_requests: bool = True
    """Log one line per request to the endpoints, with its status and duration."""
    playground: bool = False
    """Serve the playground page at ``GET <path>/playground``: a chat with the agents, every event on a
    timeline, state, frontend tools, stop, resume, stored threads and interrupts, for trying an agent in a
    browser. The page is static; what it shows comes through the API, behind ``auth`` like the rest
    (:mod:`agui_server.http.playground`). ``agui-server serve`` turns it on when it listens on loopback."""
    telemetry: Telemetry | None = None
    """Where traces and metrics go: a :class:`~agui_server.observability.Telemetry` with OpenTelemetry tracer
    and meter providers. ``None``: the global providers (what the application or ``opentelemetry-instrument``
    configured); with none configured, or without ``opentelemetry-api``, nothing is recorded."""
    metrics: MetricsEndpoint | None = None
    """Serve the metrics in the Prometheus text format (off by default): a
    :class:`~agui_server.observability.MetricsEndpoint` with its path and guard (a bearer token, the
    authenticator's ``admin`` role). Its metrics come from a meter provider of its own (the ``prometheus``
    extra), which replaces the meter provider of ``telemetry``."""

    def __post_init__(self) -> None:
        for name in ("path", "agents_path"):
            if not getattr(self, name).startswith("/"):
                raise ValueError(f"{name} must start with '/', got {getattr(self, name)!r}")
        if self.keepalive_interval <= 0:
            raise ValueError("keepalive_interval must be positive")
        if self.max_body_size <= 0:
            raise ValueError("max_body_size must be positive")
        if self.run_timeout is not None and self.run_timeout <= 0:
            raise ValueError("run_timeout must be positive or None")
        if self.busy_policy not in ("reject", "supersede"):
            raise ValueError(f"busy_policy must be 'reject' or 'supersede', got {self.busy_policy!r}")
        DisconnectPolicy.parse(self.on_disconnect)
        if not isinstance(self.backend, MemoryBackend | RedisBackend):
            raise TypeError(f"backend takes a MemoryBackend or a RedisBackend, got {self.backend!r}")
        if self.metrics is not None:
            if not self.metrics.path.startswith("/"):
                raise ValueError(f"metrics.path must start with '/', got {self.metrics.path!r}")
            if self.metrics.admin and self.auth is None:
                raise ValueError("metrics.admin needs an authenticator (auth) that can say who is an admin")
        for route in self.routes:
            if not isinstance(route, RunRoute | FeedRoute):
                raise TypeError(f"routes takes RunRoute and FeedRoute objects, got {route!r}")
        reserved = RESERVED_AGENT_IDS | ({"playground"} if self.playground else set())
        for agent_id in (self.agent_id, *self.agents):
            if agent_id in reserved or not agent_id or "/" in agent_id:
                raise ValueError(f"{agent_id!r} cannot be an agent id")
