"""``AGUIConfig``: everything the plugin needs to know, with defaults that serve a newcomer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ("AGUIConfig",)


@dataclass
class AGUIConfig:
    """Configuration of :class:`~agui_server.http.plugin.AGUIPlugin`."""

    agent: Any = None
    """The agent to serve: an agent instance, an agent class or an async generator function.
    ``None`` serves the built-in offline agent."""
    agent_id: str = "default"
    """The id the agent is served under."""
    path: str = "/ag-ui"
    """Where the endpoint is mounted: ``POST <path>`` runs the agent."""
    keepalive_interval: float = 15.0
    """Seconds of silence after which a ``: ping`` comment is sent, so proxies keep the stream open."""
    max_body_size: int = 1024 * 1024
    """Largest accepted request body, in bytes; larger bodies get 413."""
    strict: bool = False
    """End a run with ``RUN_ERROR`` (``AGENT_PROTOCOL_ERROR``) when its agent breaks an AG-UI rule.
    When off, the offending event is dropped and logged. Turn it on in development and tests."""
    run_timeout: float | None = 600.0
    """Seconds a run may take before it ends with ``RUN_ERROR`` (``RUN_TIMEOUT``); ``None``: no limit."""
    run_retention: float = 300.0
    """Seconds a finished run's events stay readable."""
    allowed_origins: list[str] = field(default_factory=list)
    """Origins allowed by CORS (``["*"]`` for any). Empty: CORS stays off."""
    log_requests: bool = True
    """Log one line per request to the endpoint, with its status and duration."""

    def __post_init__(self) -> None:
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/', got {self.path!r}")
        if self.keepalive_interval <= 0:
            raise ValueError("keepalive_interval must be positive")
        if self.max_body_size <= 0:
            raise ValueError("max_body_size must be positive")
        if self.run_timeout is not None and self.run_timeout <= 0:
            raise ValueError("run_timeout must be positive or None")
